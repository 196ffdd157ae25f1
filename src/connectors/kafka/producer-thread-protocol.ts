import type { KafkaConnection } from './kafka-connection';
import type { PositionRecord } from './transactional-producer';
import type { ProducedRecord } from '../../contracts/positions';
import type { Transferable } from 'worker_threads';
import { PackedRecords, unpackRecords, type OutgoingRecord, type PackedRecordsMessage } from './packed-records';

/** What the producer thread is started with. */
export interface ProducerThreadSetup {
  connection: KafkaConnection;
  clientId: string;
  transactionalId: string;
}

export type ProducerThreadRequest =
  | { id: number; kind: 'connect' }
  | { id: number; kind: 'disconnect' }
  | { id: number; kind: 'commit'; records: PackedRecordsMessage; position?: PositionRecord };

export interface SerializedError {
  name: string;
  message: string;
  retriable?: boolean;
  type?: string;
}

export type ProducerThreadReply =
  | { kind: 'done'; id: number; spare?: { bytes: ArrayBuffer; index: ArrayBuffer } }
  | { kind: 'failed'; id: number; error: SerializedError }
  | { kind: 'progress'; id: number; sent: number }
  | { kind: 'log'; level: 'error' | 'warn'; message: string; extra: Record<string, unknown> };

/**
 * A commit request for the producer thread, and the buffers its postMessage transfers instead of
 * copying (records given as an array are packed first; a PackedRecords given is unusable afterwards).
 */
export function commitMessage(
  id: number,
  records: readonly ProducedRecord[] | PackedRecords,
  position?: PositionRecord,
): { request: ProducerThreadRequest; transfer: Transferable[] } {
  const packed = records instanceof PackedRecords ? records : PackedRecords.of(records);
  const { message, transfer } = packed.transfer();
  return { request: { id, kind: 'commit', records: message, position }, transfer };
}

/** The records of a commit request, on the producer thread. */
export function recordsOf(request: Extract<ProducerThreadRequest, { kind: 'commit' }>): OutgoingRecord[] {
  return unpackRecords(request.records);
}
