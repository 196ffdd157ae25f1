import type { LogPosition } from '../../contracts/positions';
import type { LegacyRowOperation } from '../../contracts/row-operation';

export type { LegacyRowOperation };

/**
 * Failback: after a cutover the application writes to the target, and Tandem carries those writes
 * back to the legacy tables through the projection's inverse (README, "Failback").
 */

/** A change of one target row, as failback capture read it from the target database. */
export interface TargetChange {
  /** The target table in the projection's schema, e.g. "users". */
  table: string;
  op: 'c' | 'u' | 'd' | 'r';
  /**
   * The old row. Failback captures the projection's tables under REPLICA IDENTITY FULL, so an
   * update or delete carries the whole old row.
   */
  before: Record<string, unknown> | null;
  /** The new row (null for a delete), values as capture writes them (README, "Column types"). */
  after: Record<string, unknown> | null;
  /** The target transaction's commit LSN: every legacy write is guarded by it. */
  commitLsn: bigint;
  commitTimeMs: number;
  position: LogPosition;
}

/**
 * An inverse that renders legacy rows from the target's current state with SQL: for documents
 * assembled from many target rows (one changed entity re-renders its whole document).
 */
export interface RenderedInverse {
  /** The legacy table written, "schema.table". */
  table: string;
  /** Its key columns: a rendered row is written with ON CONFLICT on them. */
  key: string[];
  /**
   * The legacy columns keysOf gives and the rendered rows are matched on, when they are not `key`
   * (e.g. the user a document belongs to, where the legacy table keeps several rows per user). A
   * key the SQL returns no row for then deletes every legacy row matching it. Default: `key`.
   */
  by?: string[];
  /** Pure: the legacy keys (`by` columns) a target change touches (e.g. the user a persona belongs to). */
  keysOf(change: TargetChange): Array<Record<string, unknown>>;
  /**
   * SQL over the target ({target} is the projection's schema, quoted): `$1` is a JSON array of
   * keys; it returns one legacy row (columns named as in the legacy table) per key that still
   * exists. A key it returns no row for is deleted from the legacy table.
   */
  sql: string;
}

/** How a projection's target changes flow back to the legacy tables: `apply` or `render`. */
export interface ProjectionInverse {
  /** The target tables (in the projection's schema) whose changes flow back. */
  tables: string[];
  /** Pure, like apply(): a target change → legacy row operations. */
  apply?(change: TargetChange): LegacyRowOperation[];
  /** Or legacy rows rendered by SQL over the target for the keys a change touches. */
  render?: RenderedInverse;
}
