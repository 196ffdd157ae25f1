/**
 * The row changes whose change events are compared with Debezium's (test/fixtures/debezium/,
 * recorded by bench/peer-debezium/record-fixtures.ts, checked by envelope-compat.int.spec.ts).
 * Table names are placeholders: `{types}` (every column type of the seed shapes, default replica
 * identity) and `{full}` (REPLICA IDENTITY FULL), so a recording and a test run use their own tables.
 */
export interface WorkloadStep {
  name: string;
  sql: string[];
  /** Records this step writes to the table topics (change events + tombstones), as Debezium does. */
  records: number;
}

export const ENVELOPE_SETUP = [
  `CREATE TABLE public.{types} (
     id bigint PRIMARY KEY, small smallint, num int, big bigint, amount numeric(38,10), ratio double precision,
     flag boolean, note text, label varchar(20), uid uuid, doc jsonb, tags text[], counts int[],
     at timestamptz, local_at timestamp, day date, raw bytea, embedding vector(3), big_text text)`,
  `CREATE TABLE public.{full} (id int PRIMARY KEY, name text, score int)`,
  `ALTER TABLE public.{full} REPLICA IDENTITY FULL`,
  // Present before capture starts: read by the snapshot (op "r").
  `INSERT INTO public.{full} VALUES (1, 'one', 10), (2, 'two', 20)`,
];

/** A large value PostgreSQL stores out of line (TOAST) without compressing it away, the same on every run. */
const BIG_TEXT = `(SELECT string_agg(md5(i::text), '') FROM generate_series(1, 4000) i)`;

export const ENVELOPE_STEPS: WorkloadStep[] = [
  {
    name: 'insert every type',
    sql: [
      `INSERT INTO public.{types} (id, small, num, big, amount, ratio, flag, note, label, uid, doc, tags, counts,
         at, local_at, day, raw, embedding)
       VALUES (9223372036854775807, -32768, 2147483647, -9223372036854775808,
               1234567890123456789012345678.0123456789, 2.5, true, 'héllo "q"', 'lbl',
               '7c9e6679-7425-40de-944b-e07fc1f90ae7', '{"a": {"b": [1, 2.5, null]}}', ARRAY['x', 'y z', NULL],
               ARRAY[1, 2], '2024-05-01 12:34:56.123456+02', '2024-05-01 10:34:56.5', '2024-05-01',
               '\\xdeadbeef', '[0.5,-1,3.25]')`,
    ],
    records: 1,
  },
  {
    name: 'insert nulls',
    sql: [`INSERT INTO public.{types} (id) VALUES (1)`],
    records: 1,
  },
  {
    name: 'insert a TOASTed value',
    sql: [`INSERT INTO public.{types} (id, note, big_text) VALUES (2, 'before', ${BIG_TEXT})`],
    records: 1,
  },
  {
    name: 'update leaving the TOASTed value unchanged',
    sql: [`UPDATE public.{types} SET note = 'after' WHERE id = 2`],
    records: 1,
  },
  {
    name: 'insert, update and delete in one transaction',
    sql: [
      'BEGIN',
      `INSERT INTO public.{types} (id, note, amount) VALUES (3, 'three', 3.5)`,
      `UPDATE public.{types} SET note = 'three!' WHERE id = 3`,
      `DELETE FROM public.{types} WHERE id = 3`,
      'COMMIT',
    ],
    records: 4, // c, u, d, tombstone
  },
  {
    name: 'update of the primary key',
    sql: [`UPDATE public.{types} SET id = 4 WHERE id = 1`],
    records: 3, // d, tombstone, c
  },
  {
    name: 'update and delete under REPLICA IDENTITY FULL',
    sql: [
      'BEGIN',
      `UPDATE public.{full} SET score = 11 WHERE id = 1`,
      `DELETE FROM public.{full} WHERE id = 2`,
      'COMMIT',
    ],
    records: 3, // u, d, tombstone
  },
  {
    name: 'truncate',
    sql: [`TRUNCATE public.{full}`],
    records: 1,
  },
];

export function withTables(text: string, tables: { types: string; full: string }): string {
  return text.replace(/\{types\}/g, tables.types).replace(/\{full\}/g, tables.full);
}
