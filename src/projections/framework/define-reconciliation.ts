/**
 * How a projection's target rows can be checked against the legacy rows they come from. Each side
 * is a SQL query shape: a FROM clause, a key expression and named column expressions written so that
 * equal data gives equal text on both sides. `{source}` and `{target}` stand for the quoted legacy
 * schema and projection schema.
 */
export interface ComparisonSide {
  from: string;
  /** An expression whose text identifies the row on both sides (its hash places the row in a bucket). */
  key: string;
  columns: Record<string, string>;
  where?: string;
}

export interface TableComparison {
  /** Shown in reports, e.g. "users". */
  name: string;
  source: ComparisonSide;
  target: ComparisonSide;
  /** The legacy table ("schema.table") whose quarantined events explain missing rows here. */
  sourceTable?: string;
  /** The reconciliation key of a quarantined event, from its Kafka key (the legacy primary key). */
  quarantineKey?: (kafkaKey: Record<string, unknown>) => string | null;
}
