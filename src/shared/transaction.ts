import type { ClientBase, Pool, PoolClient } from 'pg';

export interface TransactionOptions {
  /** The statement that opens the transaction (default BEGIN), e.g. 'BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY'. */
  begin?: string;
}

const isPool = (db: Pool | ClientBase): db is Pool => 'totalCount' in db;

/**
 * Runs `work` in one transaction: COMMIT when it resolves, ROLLBACK when it (or the COMMIT)
 * throws, and the error goes on. Given a pool, the transaction has a client of its own, released
 * afterwards; given a client, it runs on that connection (the caller owns it).
 */
export function withTransaction<T>(pool: Pool, work: (client: PoolClient) => Promise<T>, options?: TransactionOptions): Promise<T>;
export function withTransaction<T, C extends ClientBase>(client: C, work: (client: C) => Promise<T>, options?: TransactionOptions): Promise<T>;
export async function withTransaction<T>(
  db: Pool | ClientBase,
  work: (client: never) => Promise<T>,
  options: TransactionOptions = {},
): Promise<T> {
  const run = work as (client: ClientBase) => Promise<T>;
  if (!isPool(db)) return inTransaction(db, run, options);
  const client = await db.connect();
  try {
    return await inTransaction(client, run, options);
  } finally {
    client.release();
  }
}

async function inTransaction<T, C extends ClientBase>(client: C, work: (client: C) => Promise<T>, options: TransactionOptions): Promise<T> {
  await client.query(options.begin ?? 'BEGIN');
  try {
    const result = await work(client);
    await client.query('COMMIT');
    return result;
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  }
}
