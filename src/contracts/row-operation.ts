/**
 * The contract between a projection and the writer: the row operations apply() returns. It lives in
 * contracts/ because both sides use it (projections/framework produces them, connectors/postgres-target
 * turns them into SQL) and connectors must not import projections.
 */

/**
 * Orders a delete by (column, source LSN) instead of the source LSN alone: the rows it may delete are
 * those with (column, _source_lsn) <= (value, event LSN), compared as a row (lexicographically).
 */
export interface VersionBound {
  column: string;
  value: string | number;
}

/**
 * A precondition: the operation takes effect only while a row matching every column of `match`
 * exists in `table` (same schema), e.g. only while the event is still the winning version of a
 * document. Checked inside the statement, in the same transaction.
 */
export interface WriteCondition {
  table: string;
  match: Record<string, unknown>;
}

/**
 * What a projection's apply() asks the runner to do: upsert, delete, deleteExcept, mapId (they
 * become SQL in connectors/postgres-target/row-writer.ts). Every row written keeps the source key
 * and commit LSN it came from (columns _source_key and _source_lsn), and every write is guarded by
 * that LSN, so a redelivered or older event changes nothing.
 */
export type RowOperation =
  /**
   * Insert or update by the `key` columns (a primary key or unique constraint of the table).
   * Optional `version`: a column of the row compared before the source LSN, so that an update
   * happens when (stored version, stored LSN) <= (row's version, event LSN): for sources whose order
   * is not the log's (e.g. "the row with the latest updated_at wins"). Optional `when`: write only
   * while a precondition row exists.
   */
  | {
      op: 'upsert';
      table: string;
      key: string[];
      row: Record<string, unknown>;
      version?: string;
      when?: WriteCondition;
    }
  /** Delete the rows that match every column of `match` (optional `version` bound and `when` as for upsert). */
  | {
      op: 'delete';
      table: string;
      match: Record<string, unknown>;
      version?: VersionBound;
      when?: WriteCondition;
    }
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

/**
 * What a projection's inverse returns for failback (connectors/postgres-legacy turns it into SQL):
 * a write to a legacy table ("schema.table"). An upsert writes only the columns it carries: on an
 * update the legacy row keeps its other columns, on an insert they take their defaults. Every
 * write is guarded by the target commit LSN, so a redelivered or older change does nothing.
 */
export type LegacyRowOperation =
  | { op: 'upsert'; table: string; key: string[]; row: Record<string, unknown>; onlyWhere?: string }
  | { op: 'delete'; table: string; match: Record<string, unknown>; onlyWhere?: string };
// onlyWhere: a SQL condition on the stored legacy row (its columns unqualified, e.g. a mirror's row
// filter); a stored row that does not meet it is neither updated nor deleted.
