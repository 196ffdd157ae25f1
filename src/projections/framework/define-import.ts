/**
 * How a recipe reads the seeds' export files. Imported records travel through the same log as
 * captured changes: each becomes an `op: "r"` event on `<prefix>.import.<table>`, so it passes
 * through the same projector, checkpoints, quarantine and reconciliation.
 */
export interface ImportRecord {
  /** The import table: the event goes to topic `<prefix>.import.<table>`, source "import.<table>". */
  table: string;
  /** The record's natural key (the Kafka key). The same file imported twice gives the same keys. */
  key: Record<string, unknown>;
  row: Record<string, unknown>;
}

export interface RecipeImporter {
  /** The files it understands, by base name or pattern, for --help and error messages. */
  accepts: string[];
  /**
   * Reads and validates every file completely before anything is written; throws
   * ImportValidationError (file, record, reason) on the first problem.
   */
  read(files: string[]): ImportRecord[];
}
