import type { Admin, Kafka } from 'kafkajs';
import type { PartitionEnd } from '../../contracts/positions';
import { topicEnds } from '../../connectors/kafka/offsets';
import type { TopicOffsetsReader } from './status-readers';

/** Topic end offsets through one admin connection kept open between reads (a status watcher reads often). */
export class KafkaTopicOffsetsReader implements TopicOffsetsReader {
  private admin: Admin | null = null;

  constructor(private readonly kafka: Kafka) {}

  private async connected(): Promise<Admin> {
    if (!this.admin) {
      const admin = this.kafka.admin();
      await admin.connect();
      this.admin = admin;
    }
    return this.admin;
  }

  async endOffsets(topics: string[]): Promise<PartitionEnd[]> {
    const admin = await this.connected();
    try {
      const existing = new Set(await admin.listTopics());
      return await topicEnds(admin, topics.filter((t) => existing.has(t)));
    } catch (error) {
      // A broken connection is not reused: the next read connects again.
      await this.close();
      throw error;
    }
  }

  async close(): Promise<void> {
    const admin = this.admin;
    this.admin = null;
    await admin?.disconnect().catch(() => undefined);
  }
}
