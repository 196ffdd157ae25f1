import type { Pool } from 'pg';
import { z } from 'zod';
import { createTargetDatabase } from '../support/target-db';
import { ensureTandemSchema } from '../../src/connectors/postgres-target/tandem-schema';
import { applyMigrations } from '../../src/connectors/postgres-target/migrations';
import { applyBatch, type BatchItem } from '../../src/projections/framework/batch-applier';
import { defineProjection } from '../../src/projections/framework/define-projection';
import { decodeRecord } from '../../src/projections/framework/event-decoder';
import { LogRecordSequence } from '../../src/testing/log-records';
import { update } from '../../src/testing/change-events';
import { validateConfig } from '../../src/modules/config/load-config';
import { targetPool } from '../../src/modules/core/target-pool';

type Person = { id: number; name: string };

const definition = defineProjection<Person>({
  name: 'prepared-people',
  migrations: [
    {
      version: 1,
      name: 'people',
      sql: 'CREATE TABLE people (id int PRIMARY KEY, name text NOT NULL, _source_key text NOT NULL, _source_lsn bigint NOT NULL)',
    },
  ],
  input: { 'public.people': z.object({ id: z.number(), name: z.string() }) },
  apply: (event) => [{ op: 'upsert', table: 'people', key: ['id'], row: event.after! }],
});

const log = new LogRecordSequence('t');
/** A change of one person, as capture writes it and the projector decodes it (commit LSNs in order). */
function item(row: Person): BatchItem {
  const record = log.next(update('public.people', row));
  return { record, decoded: decodeRecord(definition, 't', record) };
}

/**
 * The projector's statements are prepared once per target session (the same text chunk after
 * chunk), unless `target.preparedStatements: false` (a pooler in transaction mode). Real PostgreSQL.
 */
describe('projector: prepared statements in the target', () => {
  let target: Awaited<ReturnType<typeof createTargetDatabase>>;
  const pools: Pool[] = [];
  const poolWith = async (preparedStatements?: boolean) => {
    const config = validateConfig(
      {
        source: { url: 'postgres://u@127.0.0.1:1/legacy', tables: ['public.people'] },
        kafka: { brokers: ['127.0.0.1:1'], topicPrefix: 't' },
        target: { url: target.url, ...(preparedStatements === undefined ? {} : { preparedStatements }) },
      },
      'tandem.yaml',
    );
    const pool = targetPool(config);
    pools.push(pool);
    return pool;
  };
  /** The session's prepared statements; the pool hands one idle session back each time here. */
  const preparedIn = async (pool: Pool) => (await pool.query(`SELECT name FROM pg_prepared_statements ORDER BY name`)).rows.map((row) => row.name);
  const names = async (pool: Pool) => (await pool.query(`SELECT id, name FROM prepared_people.people ORDER BY id`)).rows;

  beforeAll(async () => {
    target = await createTargetDatabase('prepared');
    const pool = await poolWith();
    await ensureTandemSchema(pool);
    await applyMigrations(pool, definition.name, definition.schema, definition.migrations);
  });

  afterAll(async () => {
    for (const pool of pools) await pool.end();
    await target?.drop();
  });

  it('prepares a statement once per session and writes every chunk through it, across an added column and a table swapped for another', async () => {
    const pool = await poolWith();
    await applyBatch(pool, definition, [item({ id: 1, name: 'ada' }), item({ id: 2, name: 'bob' })], []);
    await applyBatch(pool, definition, [item({ id: 3, name: 'cy' })], []);
    expect(await preparedIn(pool)).toEqual(['tandem_1']);

    // a column added by a later migration, then the table swapped for another (what a replay's swap does)
    await pool.query(`ALTER TABLE prepared_people.people ADD COLUMN note text`);
    await applyBatch(pool, definition, [item({ id: 1, name: 'ada lovelace' })], []);
    await pool.query(`
      CREATE TABLE prepared_people.people_new (LIKE prepared_people.people INCLUDING ALL);
      ALTER TABLE prepared_people.people RENAME TO people_old;
      ALTER TABLE prepared_people.people_new RENAME TO people;`);
    await applyBatch(pool, definition, [item({ id: 4, name: 'dee' })], []);
    expect(await preparedIn(pool)).toEqual(['tandem_1']);
    expect(await names(pool)).toEqual([{ id: 4, name: 'dee' }]);
    const old = await pool.query(`SELECT id, name FROM prepared_people.people_old ORDER BY id`);
    expect(old.rows).toEqual([
      { id: 1, name: 'ada lovelace' },
      { id: 2, name: 'bob' },
      { id: 3, name: 'cy' },
    ]);
  });

  it('sends them unnamed with target.preparedStatements: false', async () => {
    const pool = await poolWith(false);
    await applyBatch(pool, definition, [item({ id: 5, name: 'eve' })], []);
    await applyBatch(pool, definition, [item({ id: 5, name: 'eve 2' })], []);
    expect(await preparedIn(pool)).toEqual([]);
    expect((await names(pool)).find((row) => row.id === 5)).toEqual({ id: 5, name: 'eve 2' });
  });
});
