import { Client, Pool } from 'pg';
import { withTransaction } from '../../src/shared/transaction';
import { createTargetDatabase } from '../support/target-db';

describe('withTransaction (real PostgreSQL)', () => {
  let target: Awaited<ReturnType<typeof createTargetDatabase>>;
  let pool: Pool;

  beforeAll(async () => {
    target = await createTargetDatabase('with_transaction');
    pool = new Pool({ connectionString: target.url, max: 2 });
    await pool.query('CREATE TABLE t (id int PRIMARY KEY)');
  });
  afterAll(async () => {
    await pool?.end();
    await target?.drop();
  });

  const ids = async () =>
    (await pool.query<{ id: number }>('SELECT id FROM t ORDER BY id')).rows.map((row) => row.id);

  it('commits what the work wrote and returns its result, releasing the pool client', async () => {
    const result = await withTransaction(pool, async (client) => {
      await client.query('INSERT INTO t VALUES (1)');
      return 'done';
    });
    expect(result).toBe('done');
    expect(await ids()).toEqual([1]);
    expect(pool.totalCount - pool.idleCount).toBe(0);
  });

  it('rolls back everything when the work throws, and rethrows its error', async () => {
    await expect(
      withTransaction(pool, async (client) => {
        await client.query('INSERT INTO t VALUES (2)');
        throw new Error('changed my mind');
      }),
    ).rejects.toThrow('changed my mind');
    expect(await ids()).toEqual([1]);
    expect(pool.totalCount - pool.idleCount).toBe(0);
  });

  it('rolls back when COMMIT itself fails (a deferred constraint)', async () => {
    await pool.query(
      'CREATE TABLE d (id int, CONSTRAINT d_unique UNIQUE (id) DEFERRABLE INITIALLY DEFERRED)',
    );
    await expect(
      withTransaction(pool, async (client) => {
        await client.query('INSERT INTO d VALUES (1), (1)');
      }),
    ).rejects.toMatchObject({ code: '23505' });
    expect((await pool.query('SELECT count(*)::int AS n FROM d')).rows[0].n).toBe(0);
  });

  it('runs on a given client with the BEGIN it is told, leaving the connection open', async () => {
    const client = new Client({ connectionString: target.url });
    await client.connect();
    try {
      const level = await withTransaction(
        client,
        async () =>
          (await client.query<{ l: string }>("SELECT current_setting('transaction_isolation') AS l")).rows[0]
            .l,
        { begin: 'BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY' },
      );
      expect(level).toBe('repeatable read');
      await expect(
        withTransaction(client, () => client.query('INSERT INTO t VALUES (3)'), { begin: 'BEGIN READ ONLY' }),
      ).rejects.toMatchObject({
        code: '25006',
      });
      expect((await client.query('SELECT 1 AS one')).rows[0].one).toBe(1); // not left in an aborted transaction
    } finally {
      await client.end();
    }
  });
});
