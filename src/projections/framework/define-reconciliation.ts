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

/**
 * Declares how reconciliation compares a projection's tables with the legacy ones (the `reconcile`
 * of defineProjection). Checks the declaration when the module loads, so a mistake names the
 * comparison instead of surfacing as a SQL error during `tandem reconcile`.
 */
export function defineReconciliation(comparisons: TableComparison[]): TableComparison[] {
  const seen = new Set<string>();
  for (const comparison of comparisons) {
    if (!comparison.name.trim()) throw new Error('defineReconciliation: a comparison has an empty name');
    if (seen.has(comparison.name)) throw new Error(`defineReconciliation: two comparisons are named "${comparison.name}"`);
    seen.add(comparison.name);
    // Rows are hashed column by column in declaration order, so both sides list the same names in the same order.
    const source = Object.keys(comparison.source.columns);
    const target = Object.keys(comparison.target.columns);
    if (source.join(',') !== target.join(',')) {
      throw new Error(
        `defineReconciliation: comparison "${comparison.name}" lists columns ${source.join(', ') || '(none)'} on the source side but ${target.join(', ') || '(none)'} on the target side (same names, same order)`,
      );
    }
  }
  return comparisons;
}
