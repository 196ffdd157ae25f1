import { z } from 'zod';

/** The Debezium envelope as capture writes it (README, "What lands in Kafka"). */
export const changeEnvelopeSchema = z.object({
  before: z.record(z.string(), z.unknown()).nullable(),
  after: z.record(z.string(), z.unknown()).nullable(),
  op: z.enum(['c', 'u', 'd', 'r', 't']),
  ts_ms: z.number(),
  source: z.object({
    schema: z.string(),
    table: z.string(),
    snapshot: z.string().optional(),
    txId: z.number().nullable().optional(),
    lsn: z.number().nullable().optional(),
    commit_lsn: z.number().nullable(),
    ts_ms: z.number(),
  }),
  transaction: z.object({ id: z.string(), total_order: z.number(), data_collection_order: z.number() }).nullable().optional(),
});

export type ChangeEnvelope = z.infer<typeof changeEnvelopeSchema>;

/** Where an event sits in the log: what checkpoints, quarantine rows and id_map entries refer to. */
export interface LogPosition {
  topic: string;
  partition: number;
  offset: bigint;
}

/** A message as read from Kafka, before the projection looks at it. */
export interface RawLogRecord extends LogPosition {
  key: string | null;
  value: string | null;
}

export const UNAVAILABLE_VALUE = '__debezium_unavailable_value';
