import { Pool } from 'pg';
import { z } from 'zod';
import type { BatchItem } from '../../src/projections/framework/batch-applier';
import { defineProjection } from '../../src/projections/framework/define-projection';
import { decodeRecord } from '../../src/projections/framework/event-decoder';
import { LiveSink } from '../../src/projections/pipeline/live-sink';
import { createLogger } from '../../src/shared/logger';
import { ensureTandemSchema } from '../../src/connectors/postgres-target/tandem-schema';
import { createTargetDatabase } from '../support/target-db';
import { testKafka } from '../support/services';

/**
 * Events waiting for a parent row (retryOrderingConflicts) on the real PostgreSQL: the projector
 * retries them after every chunk, so one whose parent is still missing must cost no write attempt
 * (with hundreds waiting, a loaded machine spent 10-16 s per chunk on attempts bound to fail), and
 * each must still be applied in the first pass after its parent arrives, whoever wrote the parent.
 */
describe('ordering wait: events waiting for their parent row (real PostgreSQL)', () => {
  type Row = Record<string, unknown>;
  const tables = ['parents', 'children', 'pairs', 'pair_children', 'grandchildren'];
  const projection = defineProjection<Row>({
    name: 'family',
    migrations: [],
    retryOrderingConflicts: true,
    input: Object.fromEntries(tables.map((table) => [`public.${table}`, z.record(z.string(), z.unknown())])),
    apply: (event) => {
      const table = event.source.slice('public.'.length);
      const key = table === 'pairs' ? ['a', 'b'] : ['id'];
      return [{ op: 'upsert', table, key, row: event.after! }];
    },
  });
  let target: Awaited<ReturnType<typeof createTargetDatabase>>;
  let pool: Pool;
  let offset = 0n;
  /** The projector's live sink (no Kafka needed: nothing here goes to the dead-letter topic or is read again). */
  const live = (orderingWaitMs = 600_000) =>
    new LiveSink({ definition: projection, topicPrefix: 'legacy', orderingWaitMs, kafka: testKafka(), pool, logger: createLogger('test', 'warn') });

  const item = (table: string, row: Row): BatchItem => {
    const record = {
      topic: `legacy.public.${table}`,
      partition: 0,
      offset: offset++,
      key: JSON.stringify({ id: row.id ?? `${row.a}/${row.b}` }),
      value: JSON.stringify({
        before: null,
        after: row,
        op: 'c',
        ts_ms: 1,
        source: { schema: 'public', table, commit_lsn: 4096 + Number(offset), ts_ms: 1 },
        transaction: null,
      }),
    };
    return { record, decoded: decodeRecord(projection, 'legacy', record) };
  };
  /** Write attempts on the child tables, counted by a sequence (a rolled-back attempt still counts). */
  const attempts = async () => Number((await pool.query(`SELECT last_value - 1 AS n FROM family.attempts`)).rows[0].n);
  const statuses = async () =>
    Object.fromEntries(
      (await pool.query(`SELECT status, count(*)::int AS n FROM tandem.quarantine WHERE projection = 'family' GROUP BY 1`)).rows.map((row) => [row.status, row.n]),
    );

  beforeAll(async () => {
    target = await createTargetDatabase('ordering_wait');
    pool = new Pool({ connectionString: target.url, max: 4 });
    await ensureTandemSchema(pool);
    const source = '_source_key text NOT NULL, _source_lsn bigint NOT NULL';
    await pool.query(`
      CREATE SCHEMA family;
      CREATE SEQUENCE family.attempts;
      SELECT nextval('family.attempts');
      CREATE TABLE family.parents (id uuid PRIMARY KEY, ${source});
      CREATE TABLE family.children (id int PRIMARY KEY, parent_id uuid REFERENCES family.parents (id), ${source});
      CREATE TABLE family.grandchildren (id int PRIMARY KEY, child_id int REFERENCES family.children (id), ${source});
      CREATE TABLE family.pairs (a text, b int, ${source}, PRIMARY KEY (a, b));
      CREATE TABLE family.pair_children (id int PRIMARY KEY, a text, b int, ${source},
                                         CONSTRAINT pair_children_pair_fkey FOREIGN KEY (a, b) REFERENCES family.pairs (a, b));
      CREATE FUNCTION family.count_attempt() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM nextval('family.attempts'); RETURN NEW; END $$;
      CREATE TRIGGER count_attempt BEFORE INSERT OR UPDATE ON family.children FOR EACH ROW EXECUTE FUNCTION family.count_attempt();
      CREATE TRIGGER count_attempt BEFORE INSERT OR UPDATE ON family.pair_children FOR EACH ROW EXECUTE FUNCTION family.count_attempt();`);
  });
  afterAll(async () => {
    await pool?.end();
    await target?.drop();
  });

  it('does not try again children whose parent is still missing, and applies them all in the first chunk after their parents arrive', async () => {
    const sink = live();
    const parent = '00000000-0000-4000-8000-000000000001';
    const children = Array.from({ length: 30 }, (_, index) => item('children', { id: index + 1, parent_id: parent }));
    const pairChildren = Array.from({ length: 5 }, (_, index) => item('pair_children', { id: index + 1, a: 'x', b: 7 }));
    await sink.write([...children, ...pairChildren]);
    expect(await statuses()).toEqual({ waiting: 35 });

    // chunks that bring no parent of theirs: the waiting children cost no write attempt
    const before = await attempts();
    for (let chunk = 0; chunk < 3; chunk++) await sink.write([item('parents', { id: `00000000-0000-4000-8000-00000000010${chunk}` })]);
    expect(await attempts()).toBe(before);
    expect(await statuses()).toEqual({ waiting: 35 });

    // the parents arrive, one through the projector, one written by someone else (another projector process, say)
    await pool.query(`INSERT INTO family.pairs VALUES ('x', 7, 'k', 1)`);
    await sink.write([item('parents', { id: parent })]);
    expect(await statuses()).toEqual({ redriven: 35 });
    expect((await pool.query(`SELECT count(*)::int AS n FROM family.children WHERE parent_id = $1`, [parent])).rows[0].n).toBe(30);
    expect((await pool.query(`SELECT count(*)::int AS n FROM family.pair_children WHERE (a, b) = ('x', 7)`)).rows[0].n).toBe(5);
  });

  it('quarantines a child that waited too long, with the refusal as its reason', async () => {
    const missing = '00000000-0000-4000-8000-000000000002';
    await live(0).write([item('children', { id: 100, parent_id: missing })]);
    const [entry] = (await pool.query(`SELECT status, reason FROM tandem.quarantine WHERE projection = 'family' AND status <> 'redriven'`)).rows;
    expect(entry.status).toBe('quarantined');
    expect(entry.reason).toMatch(/^waited 0 s for the row it refers to: .*violates foreign key constraint "children_parent_id_fkey"/);
  });

  it('applies a chain that arrived youngest first (grandchild, child, parent) once its root arrives, with no chunk after it', async () => {
    const sink = live();
    const root = '00000000-0000-4000-8000-000000000003';
    await sink.write([item('grandchildren', { id: 300, child_id: 200 })]);
    await sink.write([item('children', { id: 200, parent_id: root })]);
    const waiting = async () =>
      Number((await pool.query(`SELECT count(*)::int AS n FROM tandem.quarantine WHERE projection = 'family' AND status = 'waiting'`)).rows[0].n);
    expect(await waiting()).toBe(2);

    // the root's chunk is the last one: nothing else comes to set off another pass
    await sink.write([item('parents', { id: root })]);
    expect(await waiting()).toBe(0);
    expect((await pool.query(`SELECT child_id FROM family.grandchildren WHERE id = 300`)).rows).toEqual([{ child_id: 200 }]);
  });

  it('writes a chunk planned ahead as planned, but plans it again when one of its events waits behind an earlier one', async () => {
    const sink = live();
    const id = (n: number) => `00000000-0000-4000-8000-0000000004${String(n).padStart(2, '0')}`;
    const parentExists = async (n: number) => (await pool.query(`SELECT 1 FROM family.parents WHERE id = $1`, [id(n)])).rowCount === 1;
    /** A plan that is not the chunk's: what gets written shows which one was used. */
    const marker = (n: number) => [{ text: `INSERT INTO family.parents VALUES ($1, 'marker', 0)`, values: [id(n)] }];
    await sink.write([item('children', { id: 400, parent_id: id(99) })]); // waits: its parent is missing

    await sink.write([item('parents', { id: id(1) })], marker(2));
    expect([await parentExists(1), await parentExists(2)]).toEqual([false, true]);

    // child 400 waits behind its earlier event, so the plan made without knowing that is not used
    await sink.write([item('children', { id: 400, parent_id: id(2) }), item('parents', { id: id(3) })], marker(4));
    expect([await parentExists(3), await parentExists(4)]).toEqual([true, false]);
  });
});
