import { hash as oneShotHash } from 'crypto';
import type { ClientBase } from 'pg';
import type { ZodType } from 'zod';
import type { LogPosition } from '../../contracts/positions';
import type { TableComparison } from './define-reconciliation';
import type { ProjectionInverse } from './define-inverse';
import type { Migration } from '../../contracts/migration';
import { sourceTopic } from '../../contracts/names';
import type { RowOperation } from '../../contracts/row-operation';

export type { Migration, RowOperation };
export type { VersionBound, WriteCondition } from '../../contracts/row-operation';

/** A source change as a projection's apply() sees it: rows already validated by its input schema. */
export interface ProjectionEvent<Row> {
  /** "schema.table" of the source row. */
  source: string;
  op: 'c' | 'u' | 'd' | 'r' | 't';
  /**
   * The old row as capture sent it, not validated: under the default replica identity a delete
   * carries only the key columns (the others are null).
   */
  before: Record<string, unknown> | null;
  /** The new row, validated by the projection's input schema. */
  after: Row | null;
  /** The Kafka key as written by capture (the source primary key as JSON). */
  key: string | null;
  commitLsn: bigint;
  commitTimeMs: number;
  /** The source transaction ("txId:commitLsn"); null for snapshot reads and imports. */
  transactionId: string | null;
  position: LogPosition;
}

export interface ProjectionDefinition<Row = Record<string, unknown>> {
  /** e.g. "app-state"; also the consumer group and dead-letter topic suffix. */
  name: string;
  /** The target schema holding the projection's tables (default: name with - as _). */
  schema: string;
  migrations: Migration[];
  /** Per source table, validates (and may transform) its rows; a failure sends the event to quarantine. */
  input: Record<string, ZodType<Row>>;
  /** Pure: no I/O. The runner does every write. */
  apply(event: ProjectionEvent<Row>): RowOperation[];
  /** Optional checks of written rows, per target table. */
  output?: Record<string, ZodType>;
  /** How reconciliation compares legacy and target (tandem reconcile). */
  reconcile?: TableComparison[];
  /**
   * Declares that apply()'s operations are guarded so that the events of different source keys may
   * be applied interleaved operation by operation (each event's own operations in order): e.g. every
   * write conditioned on the event still being the winning version. The runner then writes a batch
   * with about one statement per kind of operation instead of one per event
   * (framework/statement-interleaving.ts). Leave it off unless that holds.
   */
  interleaveEvents?: boolean;
  /**
   * Indexes left out of the migrations because rows load many times faster without them (pgvector's
   * HNSW most of all): built the first time the projector reaches the end of its topics, and at the
   * end of a replay before the swap (framework/deferred-indexes.ts). `name` is the index's name
   * (its existence is checked by it); `sql` creates it, with search_path = <schema>, public.
   */
  deferredIndexes?: Array<{ name: string; sql: string }>;
  /**
   * Runs inside each batch's target transaction before its operations are written, and returns each
   * event's operations, possibly changed: a mirror adds a column the source gained, converts values
   * by the target's column types and applies its row filter here. `schema` is the schema being
   * written (the live one, or a replay's shadow). Not called by a dry run.
   */
  beforeWrite?(db: ClientBase, schema: string, events: Array<BeforeWriteEvent<Row>>): Promise<RowOperation[][]>;
  /**
   * A write refused by a foreign key or a unique index (a row whose referenced row arrives on another
   * partition, later) waits and is retried rather than quarantined; quarantined only after
   * `projector.orderingWaitMs`.
   */
  retryOrderingConflicts?: boolean;
  /**
   * The projection's tables become the application's: `cutover commit` (and a replay's or restore's
   * swap) sets every sequence and identity of its tables past the highest value in them.
   */
  advanceSequencesAtCutover?: boolean;
  /**
   * How the target's changes flow back to the legacy tables after a cutover (tandem failback):
   * a pure `apply` per target change, or legacy rows rendered by SQL over the target. A projection
   * without one cannot fail back.
   */
  invert?: ProjectionInverse;
  /**
   * Source columns holding secrets, per source table ("schema.table" → column names), e.g.
   * `{ 'public.oauth_tokens': ['access_token', 'refresh_token'] }`. A rejected event keeps them out
   * of quarantine (tandem.quarantine), the dead-letter topic, `tandem dlq list`, rejection reasons,
   * logs and `--dry-run` output: each value is replaced by a placeholder, and a re-drive reads the
   * event again from its change topic. Declare every column the projection reads that must stay secret.
   */
  sensitive?: Record<string, readonly string[]>;
}

export interface BeforeWriteEvent<Row> {
  event: ProjectionEvent<Row>;
  operations: RowOperation[];
}

export function defineProjection<Row>(
  definition: Omit<ProjectionDefinition<Row>, 'schema'> & { schema?: string },
): ProjectionDefinition<Row> {
  return { ...definition, schema: definition.schema ?? definition.name.replace(/-/g, '_') };
}

/** Source tables ("schema.table"), each read from the topic `<prefix>.<schema>.<table>`. */
export function sourcesOf(definition: ProjectionDefinition<unknown>): string[] {
  return Object.keys(definition.input);
}

/** The topics a projection reads. */
export function topicsOf(definition: ProjectionDefinition<unknown>, prefix: string): string[] {
  return sourcesOf(definition).map((source) => sourceTopic(prefix, source));
}

/**
 * A UUID derived from its inputs (version 5 layout, SHA-1), so that replaying the same log gives the
 * same ids: old id -> new id stays stable across rebuilds.
 */
export function deterministicUuid(...parts: string[]): string {
  // crypto.hash to hex: one call, no Hash object or Buffer per id (a state of 50 entities hashes 75 ids)
  const hex = oneShotHash('sha1', parts.join('\u0000'), 'hex');
  const version = '5'; // byte 6: (hash[6] & 0x0f) | 0x50
  const variant = VARIANT_DIGIT[hex.charCodeAt(16) - (hex.charCodeAt(16) >= 97 ? 87 : 48)]; // byte 8: (hash[8] & 0x3f) | 0x80
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${version}${hex.slice(13, 16)}-${variant}${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

/** The high hex digit of byte 8 after setting the RFC 4122 variant bits (10xx), by the digit before. */
const VARIANT_DIGIT = Array.from({ length: 16 }, (_, digit) => ((digit & 0x3) | 0x8).toString(16));
