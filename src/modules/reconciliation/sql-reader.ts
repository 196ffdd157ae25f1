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
const INVALID_TEXT_REPRESENTATION = '22P02';

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
  private readonly nativeKey: string;
  private keyLookup: Promise<string | null> | null = null;

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
    this.nativeKey = `(${fill(side.key)})`;
    const rowFilter = side.where ? `(${fill(side.where)})` : 'true';
    const key = `${this.nativeKey}::text`;
    const values = this.columnNames.map((name) => `(${fill(side.columns[name])})::text`);
    const digest = [key, ...values.map((value) => `coalesce(${value}, chr(30))`)].join(', ');
    const row = `concat_ws(${SEPARATOR}, ${digest})`;
    // kn, the key in its own type, is what a lookup by key compares (an index on the key serves it);
    // w is the side's row filter, applied by the outer query (see scopeClause). A column the outer
    // query does not use costs nothing: the subquery is flattened.
    this.base = `SELECT ${key} AS k, ${this.nativeKey} AS kn, ${hash60(hash, key)} AS kh, ${hash === 'md5' ? `md5(${row})` : `hashtextextended(${row} COLLATE "C", 0)`} AS h${values
      .map((value, i) => `, ${value} AS c${i}`)
      .join('')}, ${rowFilter} AS w FROM ${fill(side.from)}`;
  }

  private static bucketOf(bits: number): string {
    if (!Number.isInteger(bits) || bits < 0 || bits > KEY_HASH_BITS)
      throw new RangeError(`bucket bits must be 0..${KEY_HASH_BITS}, got ${bits}`);
    return `(kh >> ${KEY_HASH_BITS - bits})`;
  }

  /**
   * Rows in the scope; `= ANY` of a bound array is planned as a hashed lookup (PostgreSQL ≥ 14). The
   * side's own filter is evaluated only for rows in the scope (CASE fixes the order, which the planner
   * would otherwise choose by its cost estimates), so a scan for a few buckets hashes each key and
   * nothing more.
   */
  private scopeClause(scope: BucketScope, values: unknown[]): string {
    if (scope.ids === null) return 'w';
    values.push(scope.ids);
    return `CASE WHEN ${SqlComparisonReader.bucketOf(scope.bits)} = ANY($${values.length}::bigint[]) THEN w ELSE false END`;
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
    const { rows } = await this.pool.query<{ k: string; h: string }>(`SELECT k, h FROM (${this.base}) q WHERE ${where}`, values);
    return new Map(rows.map((row) => [row.k, { hash: row.h, values: {} }]));
  }

  /**
   * The rows with these keys, compared in the key's own type (a uuid key as uuid, not as text), so that
   * an index on the key serves the lookup; keys that are not valid values of that type (which no row
   * can have) make the lookup fall back to comparing text.
   */
  async rowsByKey(keys: string[]): Promise<Map<string, RowDigest>> {
    const keysParam = `$${this.params.length + 1}::text[]`;
    const byText = `SELECT ${this.outputColumns} FROM (${this.base}) q WHERE k = ANY(${keysParam}) AND w`;
    const values = [...this.params, keys];
    const native = await this.nativeKeyLookup();
    if (native === null) return this.digests(byText, values);
    try {
      return await this.digests(native, values);
    } catch (error) {
      if ((error as { code?: string }).code !== INVALID_TEXT_REPRESENTATION) throw error;
      return this.digests(byText, values);
    }
  }

  /** The lookup by key in the key's own type; null when the key already is text. */
  private async nativeKeyLookup(): Promise<string | null> {
    this.keyLookup ??= (async () => {
      const { fields } = await this.pool.query(`SELECT kn FROM (${this.base}) q LIMIT 0`, [...this.params]);
      const { rows } = await this.pool.query<{ type: string }>('SELECT format_type($1::oid, NULL) AS type', [
        fields[0].dataTypeID,
      ]);
      const type = rows[0].type;
      const keysParam = `$${this.params.length + 1}::text[]`;
      return type === 'text' ? null : `SELECT ${this.outputColumns} FROM (${this.base}) q WHERE kn = ANY(${keysParam}::${type}[]) AND w`;
    })();
    return this.keyLookup;
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
