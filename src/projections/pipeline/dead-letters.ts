import { Partitioners, type Kafka, type Producer } from 'kafkajs';
import { deadLetterTopic } from '../../contracts/names';
import type { Quarantined } from '../framework/batch-applier';

/** Sends a projection's quarantined events to its dead-letter topic (sensitive fields already left out). */
export class DeadLetterProducer {
  private producer: Producer | null = null;

  constructor(
    private readonly kafka: Kafka,
    private readonly topicPrefix: string,
    private readonly projection: string,
  ) {}

  async open(): Promise<void> {
    this.producer = this.kafka.producer({
      idempotent: true,
      maxInFlightRequests: 1,
      createPartitioner: Partitioners.DefaultPartitioner,
    });
    await this.producer.connect();
  }

  async close(): Promise<void> {
    await this.producer?.disconnect();
  }

  async send(entries: Quarantined[]): Promise<void> {
    await this.producer!.send({
      topic: deadLetterTopic(this.topicPrefix, this.projection),
      acks: -1,
      messages: entries.map((entry) => ({
        key: entry.record.key,
        value: JSON.stringify({
          projection: this.projection,
          reason: entry.reason,
          topic: entry.record.topic,
          partition: entry.record.partition,
          offset: entry.record.offset.toString(),
          event: entry.value,
        }),
      })),
    });
  }
}
