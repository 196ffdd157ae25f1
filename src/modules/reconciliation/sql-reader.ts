import type { Pool } from 'pg';
import { ident } from '../../connectors/postgres-target/sql';
import type { ComparisonSide } from '../../projections/framework/define-reconciliation';
import type { ComparisonReader, KeyRange, RangeSummary, RowDigest } from './bisection';

const SEPARATOR = 'chr(31)';

/**
 * One side of a comparison, computed inside PostgreSQL: per range a count and an order-independent
 * sum of 60-bit row hashes; rows are fetched only for the small ranges that differ.
 */
export class SqlComparisonReader implements ComparisonReader {
  private readonly base: string;
  private readonly columnNames: string[];

  constructor(
    private readonly pool: Pool,
    side: ComparisonSide,
    placeholders: Record<string, string>,
  ) {
    const fill = (text: string) => text.replace(/\{(\w+)\}/g, (_, name: string) => ident(placeholders[name] ?? name));
    this.columnNames = Object.keys(side.columns);
    const values = this.columnNames.map((name) => `(${fill(side.columns[name])})::text`);
    const digest = [`(${fill(side.key)})::text`, ...values.map((value) => `coalesce(${value}, chr(30))`)].join(', ');
    this.base = `SELECT (${fill(side.key)})::text AS k, md5(concat_ws(${SEPARATOR}, ${digest})) AS h${values
      .map((value, i) => `, ${value} AS c${i}`)
      .join('')} FROM ${fill(side.from)}${side.where ? ` WHERE ${fill(side.where)}` : ''}`;
  }

  private rangeClause(range: KeyRange, values: unknown[]): string {
    const conditions = ['true'];
    if (range.lower !== null) {
      values.push(range.lower);
      conditions.push(`k COLLATE "C" > $${values.length}`);
    }
    if (range.upper !== null) {
      values.push(range.upper);
      conditions.push(`k COLLATE "C" <= $${values.length}`);
    }
    return conditions.join(' AND ');
  }

  async summarize(range: KeyRange): Promise<RangeSummary> {
    const values: unknown[] = [];
    const where = this.rangeClause(range, values);
    const { rows } = await this.pool.query<{ n: number; hash: string }>(
      `SELECT count(*)::int AS n, coalesce(sum(('x' || substr(h, 1, 15))::bit(60)::bigint::numeric), 0)::text AS hash
         FROM (${this.base}) q WHERE ${where}`,
      values,
    );
    return { count: rows[0].n, hash: rows[0].hash };
  }

  async split(range: KeyRange, parts: number): Promise<KeyRange[]> {
    const values: unknown[] = [parts];
    const where = this.rangeClause(range, values);
    const { rows } = await this.pool.query<{ upper: string }>(
      `SELECT max(k COLLATE "C") AS upper FROM (
         SELECT k, ntile($1) OVER (ORDER BY k COLLATE "C") AS tile FROM (${this.base}) q WHERE ${where}
       ) tiles GROUP BY tile ORDER BY tile`,
      values,
    );
    const ranges: KeyRange[] = [];
    let lower = range.lower;
    for (const { upper } of rows.slice(0, -1)) {
      ranges.push({ lower, upper });
      lower = upper;
    }
    ranges.push({ lower, upper: range.upper });
    return ranges;
  }

  async rows(range: KeyRange): Promise<Map<string, RowDigest>> {
    const values: unknown[] = [];
    return this.digests(`SELECT * FROM (${this.base}) q WHERE ${this.rangeClause(range, values)}`, values);
  }

  async rowsByKey(keys: string[]): Promise<Map<string, RowDigest>> {
    return this.digests(`SELECT * FROM (${this.base}) q WHERE k = ANY($1)`, [keys]);
  }

  private async digests(text: string, values: unknown[]): Promise<Map<string, RowDigest>> {
    const { rows } = await this.pool.query<Record<string, string | null>>(text, values);
    return new Map(
      rows.map((row) => [
        row.k as string,
        { hash: row.h as string, values: Object.fromEntries(this.columnNames.map((name, i) => [name, row[`c${i}`]])) },
      ]),
    );
  }
}
