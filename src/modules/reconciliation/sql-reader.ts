import type { Pool, PoolClient } from 'pg';
import { ident } from '../../connectors/postgres-target/sql';
import type { ComparisonSide } from '../../projections/framework/define-reconciliation';
import {
  KEY_HASH_BITS,
  type BucketScope,
  type BucketSummary,
  type ComparisonReader,
  type RowDigest,
} from './bucket-comparison';
import { withTransaction } from '../../shared/transaction';

const SEPARATOR = 'chr(31)';

/**
 * How both sides hash keys and rows. `hashtextextended` (PostgreSQL's own 64-bit text hash, ≥ 11) is
 * several times cheaper than md5 per row, but its result depends on the server's byte order, so it is
 * used only when both servers give the same hashes for the same probes (sharedRowHash); md5 otherwise.
 */
export type RowHash = 'hashtextextended' | 'md5';

const HASH_PROBES = ['tandem', '', 'Ünïcødé ✓ 🐘', 'a'.repeat(100)];

/** A text expression's 60-bit hash (bigint). */
const hash60 = (hash: RowHash, text: string) =>
  hash === 'md5'
    ? `('x' || substr(md5(${text}), 1, 15))::bit(60)::bigint`
    : `(hashtextextended((${text}) COLLATE "C", 0) >> 4)`;

export async function sharedRowHash(source: Pool, target: Pool): Promise<RowHash> {
  const probe = (pool: Pool) =>
    pool
      .query<{ h: string }>(
        `SELECT hashtextextended(p COLLATE "C", 0)::text AS h FROM unnest($1::text[]) WITH ORDINALITY AS t(p, i) ORDER BY i`,
        [HASH_PROBES],
      )
      .then(({ rows }) => rows.map((row) => row.h).join(','))
      .catch(() => null);
  const [a, b] = await Promise.all([probe(source), probe(target)]);
  return a !== null && a === b ? 'hashtextextended' : 'md5';
}

/**
 * One side of a comparison, computed inside PostgreSQL: per bucket of the key's hash a count and an
 * order-independent sum of row hashes, all buckets of a level in one scan; rows are fetched
 * only from the buckets that differ.
 */
export class SqlComparisonReader implements ComparisonReader {
  private readonly base: string;
  private readonly columnNames: string[];
  private readonly outputColumns: string;

  constructor(
    private readonly pool: Pool,
    side: ComparisonSide,
    placeholders: Record<string, string>,
    private readonly hash: RowHash = 'md5',
    /** Values the side's expressions refer to as $1, $2, … (the HMAC pads of masked columns). */
    private readonly params: readonly unknown[] = [],
  ) {
    // only the known placeholders: a row filter may hold an array literal such as '{vip}'
    const fill = (text: string) =>
      text.replace(/\{(\w+)\}/g, (whole, name: string) => (name in placeholders ? ident(placeholders[name]) : whole));
    this.columnNames = Object.keys(side.columns);
    this.outputColumns = ['k', 'h', ...this.columnNames.map((_, i) => `c${i}`)].join(', ');
    const key = `(${fill(side.key)})::text`;
    const values = this.columnNames.map((name) => `(${fill(side.columns[name])})::text`);
    const digest = [key, ...values.map((value) => `coalesce(${value}, chr(30))`)].join(', ');
    const row = `concat_ws(${SEPARATOR}, ${digest})`;
    this.base = `SELECT ${key} AS k, ${hash60(hash, key)} AS kh, ${hash === 'md5' ? `md5(${row})` : `hashtextextended(${row} COLLATE "C", 0)`} AS h${values
      .map((value, i) => `, ${value} AS c${i}`)
      .join('')} FROM ${fill(side.from)}${side.where ? ` WHERE ${fill(side.where)}` : ''}`;
  }

  private static bucketOf(bits: number): string {
    if (!Number.isInteger(bits) || bits < 0 || bits > KEY_HASH_BITS)
      throw new RangeError(`bucket bits must be 0..${KEY_HASH_BITS}, got ${bits}`);
    return `(kh >> ${KEY_HASH_BITS - bits})`;
  }

  /** Rows in the scope; `= ANY` of a bound array is planned as a hashed lookup (PostgreSQL ≥ 14). */
  private scopeClause(scope: BucketScope, values: unknown[]): string {
    if (scope.ids === null) return 'true';
    values.push(scope.ids);
    return `${SqlComparisonReader.bucketOf(scope.bits)} = ANY($${values.length}::bigint[])`;
  }

  async summarize(scope: BucketScope, bits: number): Promise<Map<string, BucketSummary>> {
    const values: unknown[] = [...this.params];
    const where = this.scopeClause(scope, values);
    const bucket = SqlComparisonReader.bucketOf(bits);
    const rowHash = this.hash === 'md5' ? hash60('md5', 'h') : 'h';
    // The planner estimates one group per row (the bucket is a function of the key), so it would sort
    // all rows; there are at most a few tens of thousands of buckets, which a hash table holds easily.
    const rows = await this.inTransaction('SET LOCAL enable_sort = off', (client) =>
      client.query<{ bucket: string; n: number; hash: string }>(
        `SELECT ${bucket}::text AS bucket, count(*)::int AS n, sum(${rowHash})::text AS hash FROM (${this.base}) q WHERE ${where} GROUP BY ${bucket}`,
        values,
      ),
    );
    return new Map(rows.rows.map((row) => [row.bucket, { count: row.n, hash: row.hash }]));
  }

  async rows(scope: BucketScope): Promise<Map<string, RowDigest>> {
    const values: unknown[] = [...this.params];
    const where = this.scopeClause(scope, values);
    return this.digests(`SELECT ${this.outputColumns} FROM (${this.base}) q WHERE ${where}`, values);
  }

  async rowsByKey(keys: string[]): Promise<Map<string, RowDigest>> {
    return this.digests(`SELECT ${this.outputColumns} FROM (${this.base}) q WHERE k = ANY($${this.params.length + 1})`, [
      ...this.params,
      keys,
    ]);
  }

  private inTransaction<T>(settings: string, work: (client: PoolClient) => Promise<T>): Promise<T> {
    return withTransaction(this.pool, work, { begin: `BEGIN; ${settings}` });
  }

  private async digests(text: string, values: unknown[]): Promise<Map<string, RowDigest>> {
    const { rows } = await this.pool.query<Record<string, string | null>>(text, values);
    return new Map(
      rows.map((row) => [
        row.k as string,
        {
          hash: row.h as string,
          values: Object.fromEntries(this.columnNames.map((name, i) => [name, row[`c${i}`]])),
        },
      ]),
    );
  }
}
