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
}
