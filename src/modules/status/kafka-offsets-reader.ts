import type { Admin, Kafka } from 'kafkajs';
import type { PartitionEnd, TopicOffsetsReader } from './status-readers';

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
      const result: PartitionEnd[] = [];
      for (const topic of topics.filter((t) => existing.has(t))) {
        for (const o of await admin.fetchTopicOffsets(topic))
          result.push({ topic, partition: o.partition, low: BigInt(o.low), end: BigInt(o.high) });
      }
      return result.sort((a, b) => a.topic.localeCompare(b.topic) || a.partition - b.partition);
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
