import type { KafkaConnection } from './kafka-connection';
import type { PositionRecord } from './transactional-producer';
import type { ProducedRecord } from '../../contracts/positions';

/** What the producer thread is started with. */
export interface ProducerThreadSetup {
  connection: KafkaConnection;
  clientId: string;
  transactionalId: string;
}

export type ProducerThreadRequest =
  | { id: number; kind: 'connect' }
  | { id: number; kind: 'disconnect' }
  | { id: number; kind: 'commit'; records: ProducedRecord[]; position?: PositionRecord };

export interface SerializedError {
  name: string;
  message: string;
  retriable?: boolean;
  type?: string;
}

export type ProducerThreadReply =
  | { kind: 'done'; id: number }
  | { kind: 'failed'; id: number; error: SerializedError }
  | { kind: 'progress'; id: number; sent: number }
  | { kind: 'log'; level: 'error' | 'warn'; message: string; extra: Record<string, unknown> };
