import type { ClientBase } from 'pg';

/** An enum type, by the name format_type() prints for it with an empty search_path (schema-qualified). */
export interface SourceEnum {
  printed: string;
  name: string;
  labels: string[];
}

/** The enum types defined in `schemas`, with their labels in order. */
export async function readEnums(client: ClientBase, schemas: string[]): Promise<SourceEnum[]> {
  const { rows } = await client.query<{ printed: string; name: string; labels: string[] }>(
    `SELECT quote_ident(n.nspname) || '.' || quote_ident(t.typname) AS printed, t.typname AS name,
            array_agg(e.enumlabel::text ORDER BY e.enumsortorder) AS labels
       FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace JOIN pg_enum e ON e.enumtypid = t.oid
      WHERE n.nspname = ANY ($1::text[])
      GROUP BY n.nspname, t.typname`,
    [schemas],
  );
  return rows;
}
