import { createHmac } from 'crypto';

/** What capture does with some columns of one table before they reach Kafka. */
export interface TableColumnRules {
  /** Never sent: absent from before and after. */
  exclude: ReadonlySet<string>;
  /** Sent as the hex HMAC-SHA256 of PostgreSQL's text form of the value (null stays null). */
  mask: ReadonlySet<string>;
  key: Buffer | null;
}

/** The keyed hash capture writes in place of a masked value: equal values give equal hashes, so they still join. */
export function maskText(key: Buffer, text: string): string {
  return createHmac('sha256', key).update(text, 'utf8').digest('hex');
}

/** Per source table ("schema.table"), the columns capture leaves out or masks (like Debezium's column.exclude.list / column.mask.hash). */
export class ColumnPolicy {
  static readonly none = new ColumnPolicy(new Map());

  constructor(private readonly tables: ReadonlyMap<string, TableColumnRules>) {}

  of(schema: string, table: string): TableColumnRules | null {
    return this.tables.get(`${schema}.${table}`) ?? null;
  }
}
