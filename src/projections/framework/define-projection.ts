import { createHash } from 'crypto';
import type { ZodType } from 'zod';
import type { LogPosition } from './change-envelope';
import type { TableComparison } from './define-reconciliation';
import type { VersionBound, WriteCondition } from '../../connectors/postgres-target/row-writer';

export type { VersionBound, WriteCondition };

/** One versioned step of a projection's target DDL, applied with search_path = <schema>, public. */
export interface Migration {
  version: number;
  name: string;
  sql: string;
}

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

/**
 * What apply() asks the runner to do. Every row written keeps the source key and commit LSN it came
 * from (columns _source_key and _source_lsn), and every write is guarded by that LSN, so a
 * redelivered or older event changes nothing.
 */
export type RowOperation =
  /**
   * Insert or update by the `key` columns (a primary key or unique constraint of the table).
   * Optional `version`: a column of the row compared before the source LSN, so that an update
   * happens when (stored version, stored LSN) <= (row's version, event LSN): for sources whose order
   * is not the log's (e.g. "the row with the latest updated_at wins"). Optional `when`: write only
   * while a precondition row exists.
   */
  | { op: 'upsert'; table: string; key: string[]; row: Record<string, unknown>; version?: string; when?: WriteCondition }
  /** Delete the rows that match every column of `match` (optional `version` bound and `when` as for upsert). */
  | { op: 'delete'; table: string; match: Record<string, unknown>; version?: VersionBound; when?: WriteCondition }
  /** Delete the rows that match `match` and whose `column` is not in `keep` (an entity removed from a document). */
  | {
      op: 'deleteExcept';
      table: string;
      match: Record<string, unknown>;
      column: string;
      keep: unknown[];
      version?: VersionBound;
      when?: WriteCondition;
    }
  /** Record that a source id became a new target id (tandem.id_map). */
  | { op: 'mapId'; entity: string; sourceId: string; targetId: string };

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

/**
 * A UUID derived from its inputs (version 5 layout, SHA-1), so that replaying the same log gives the
 * same ids: old id -> new id stays stable across rebuilds.
 */
export function deterministicUuid(...parts: string[]): string {
  const hash = createHash('sha1').update(parts.join('\u0000')).digest();
  hash[6] = (hash[6] & 0x0f) | 0x50;
  hash[8] = (hash[8] & 0x3f) | 0x80;
  const hex = hash.subarray(0, 16).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
