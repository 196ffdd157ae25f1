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
import type { KeyLocation, LocatedRow } from './single-difference-locator';
import { hasLocator, keyRange, locatorOf } from './key-locator';
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
  /** The same rows for a scan of every row: the key text computed once per row (see constructor). */
  private readonly fenced: string;
  private readonly fencedRowHash: string;
  private readonly columnNames: string[];
  private readonly outputColumns: string;
  private readonly nativeKey: string;
  private keyTypeName: Promise<string> | null = null;

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
    // Flattened, the key text would be computed twice per row (for its bucket and inside the row
    // hash); below a fence (OFFSET 0) once, which saves 7–12 % of a clean scan's CPU.
    const fencedRow = `concat_ws(${SEPARATOR}, ${['k', ...values.map((_, i) => `coalesce(c${i}, chr(30))`)].join(', ')})`;
    this.fencedRowHash = hash === 'md5' ? hash60('md5', `md5(${fencedRow})`) : `hashtextextended(${fencedRow} COLLATE "C", 0)`;
    this.fenced = `SELECT * FROM (SELECT ${key} AS k${values.map((value, i) => `, ${value} AS c${i}`).join('')}, ${rowFilter} AS w FROM ${fill(side.from)}) i OFFSET 0`;
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

  async summarize(scope: BucketScope, bits: number, locate = false): Promise<Map<string, BucketSummary>> {
    const values: unknown[] = [...this.params];
    const bucket = SqlComparisonReader.bucketOf(bits);
    if (locate && scope.ids !== null) throw new RangeError('a locating summary covers every row');
    // A scan of a few buckets stays flattened: its row hash and filter are computed only for the rows in scope.
    const text = locate
      ? // the row hash is used three times: below a second fence it is computed once
        `SELECT b::text AS bucket, count(*)::int AS n, sum(h)::text AS hash, sum((h & 16383) + 1)::text AS weight, sum(((h & 16383) + 1) * s)::text AS weighted
           FROM (SELECT ${hash60(this.hash, 'k')} >> ${KEY_HASH_BITS - bits} AS b, ${this.fencedRowHash} AS h, ${locatorOf('k')} AS s FROM (${this.fenced}) f WHERE w OFFSET 0) g GROUP BY b`
      : scope.ids === null
        ? `SELECT (${hash60(this.hash, 'k')} >> ${KEY_HASH_BITS - bits})::text AS bucket, count(*)::int AS n, sum(${this.fencedRowHash})::text AS hash FROM (${this.fenced}) f WHERE w GROUP BY 1`
        : `SELECT ${bucket}::text AS bucket, count(*)::int AS n, sum(${this.hash === 'md5' ? hash60('md5', 'h') : 'h'})::text AS hash FROM (${this.base}) q WHERE ${this.scopeClause(scope, values)} GROUP BY ${bucket}`;
    // The planner estimates one group per row (the bucket is a function of the key), so it would sort
    // all rows; there are at most a few tens of thousands of buckets, which a hash table holds easily.
    const rows = await this.inTransaction('SET LOCAL enable_sort = off', (client) =>
      client.query<{ bucket: string; n: number; hash: string; weight?: string; weighted?: string }>(text, values),
    );
    return new Map(
      rows.rows.map(({ bucket: id, n, hash, weight, weighted }) => [
        id,
        locate ? { count: n, hash, weight, weighted } : { count: n, hash },
      ]),
    );
  }

  async locatable(): Promise<boolean> {
    return hasLocator(await this.keyType());
  }

  /** The rows at these locations: an OR of key ranges (through the key's index, when it has one), then the locator test. */
  async rowsAt(bits: number, at: KeyLocation[]): Promise<LocatedRow[]> {
    const type = await this.keyType();
    const values: unknown[] = [...this.params];
    const bound = (value: string) => (values.push(value), `$${values.length}::${type}`);
    const ranges: string[] = [];
    for (const { locator } of at) {
      const range = keyRange(type, locator);
      if (range === null) continue;
      const to = range.to === null ? '' : ` AND kn ${range.inclusive ? '<=' : '<'} ${bound(range.to)}`;
      ranges.push(`(kn >= ${bound(range.from)}${to})`);
    }
    if (ranges.length === 0) return [];
    values.push(at.map((a) => a.locator));
    const summand = this.hash === 'md5' ? hash60('md5', 'h') : 'h';
    const { rows } = await this.pool.query<Record<string, string | null>>(
      `SELECT ${this.outputColumns}, (${SqlComparisonReader.bucketOf(bits)})::text AS bucket, (${locatorOf('k')})::text AS locator, (${summand})::text AS summand
         FROM (${this.base}) q WHERE (${ranges.join(' OR ')}) AND (${locatorOf('k')}) = ANY($${values.length}::bigint[]) AND w`,
      values,
    );
    return rows.map((row) => ({
      key: row.k as string,
      hash: row.h as string,
      values: Object.fromEntries(this.columnNames.map((name, i) => [name, row[`c${i}`]])),
      bucket: row.bucket as string,
      locator: row.locator as string,
      summand: row.summand as string,
    }));
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
    const type = await this.keyType();
    const keysParam = `$${this.params.length + 1}::text[]`;
    return type === 'text' ? null : `SELECT ${this.outputColumns} FROM (${this.base}) q WHERE kn = ANY(${keysParam}::${type}[]) AND w`;
  }

  /** The key's own type, as format_type names it. */
  private keyType(): Promise<string> {
    this.keyTypeName ??= (async () => {
      const { fields } = await this.pool.query(`SELECT kn FROM (${this.base}) q LIMIT 0`, [...this.params]);
      const { rows } = await this.pool.query<{ type: string }>('SELECT format_type($1::oid, NULL) AS type', [
        fields[0].dataTypeID,
      ]);
      return rows[0].type;
    })();
    return this.keyTypeName;
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
