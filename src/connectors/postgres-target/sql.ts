/** SQL identifiers are always quoted; values are always parameters. */
export function ident(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

export function qualified(schema: string, table: string): string {
  return `${ident(schema)}.${ident(table)}`;
}

export interface SqlStatement {
  text: string;
  values: unknown[];
  /**
   * Run first: a query returning the rows the statement needs but the table lacks; any row makes
   * the statement fail with `reason` as a data error (so its event is quarantined, not skipped).
   */
  requires?: { text: string; values: unknown[]; reason: string; table: string };
}
