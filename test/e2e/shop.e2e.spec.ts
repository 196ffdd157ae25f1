import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join, resolve } from 'path';
import { Client } from 'pg';
import { parse, stringify } from 'yaml';
import { TandemProcess } from '../support/capture-process';
import { createTargetDatabase, targetQuery } from '../support/target-db';
import { env, eventually, sql, testKafka, uniqueName } from '../support/services';
import { summarize } from '../../src/modules/replay/schema-ops';

/**
 * examples/shop end to end, as a user with a schema of their own runs it (README, "Your own schema"):
 * from a folder outside the repository holding only the example's files, with the `tandem` CLI:
 * init → capture → project → live writes → reconcile PASS → drift injected → reconcile names it →
 * cutover commit → the application writes the target tables with its own SQL → replay to the
 * cutover's position → hash-equal to the snapshot taken there.
 */
const EXAMPLE = resolve(__dirname, '..', '..', 'examples', 'shop');

describe('examples/shop: a schema of its own, from init to a committed cutover', () => {
  const name = uniqueName('shop');
  const role = `${name}_app`;
  const folder = mkdtempSync(join(tmpdir(), 'tandem-shop-'));
  let source: { url: string; drop: () => Promise<void> };
  let target: Awaited<ReturnType<typeof createTargetDatabase>>;
  let appUrl: string;
  let capture: TandemProcess | null = null;
  let projector: TandemProcess | null = null;

  /** A one-shot `tandem` command run in the user's folder. */
  const tandem = async (...args: string[]) => {
    const run = new TandemProcess(args, passwords(), folder);
    const code = await run.exited;
    let json: any = null;
    try {
      json = JSON.parse(run.stdout);
    } catch {
      // human output, or a refusal on stderr
    }
    return { code, json, output: run.output, stdout: run.stdout };
  };
  /** The legacy application, writing with its own role. */
  const app = async (text: string) => {
    const client = new Client({ connectionString: appUrl });
    await client.connect();
    try {
      await client.query(text);
    } finally {
      await client.end();
    }
  };
  const onTarget = (text: string, values: unknown[] = []) => targetQuery(target.url, text, values);
  /** The rows of a target schema, hashed (what replay compares). */
  const schemaHash = async (schema: string) => {
    const client = new Client({ connectionString: target.url });
    await client.connect();
    try {
      return (await summarize(client, schema)).hash;
    } finally {
      await client.end();
    }
  };
  const count = async (table: string) => Number((await onTarget(`SELECT count(*) AS n FROM ${table}`))[0].n);
  const projected = (table: string, n: number) => eventually(async () => (await count(table).catch(() => -1)) === n, 60_000, `${n} rows in ${table}`);

  beforeAll(async () => {
    source = await createSourceDatabase(name);
    target = await createTargetDatabase('shop_target');
    cpSync(join(EXAMPLE, 'projections'), join(folder, 'projections'), { recursive: true });
    await withClient(source.url, async (client) => {
      await client.query(readFileSync(join(EXAMPLE, 'schema.sql'), 'utf8'));
      await client.query(readFileSync(join(EXAMPLE, 'seed.sql'), 'utf8'));
    });
    await sql(`CREATE ROLE ${role} LOGIN PASSWORD 'app'`);
    await withClient(source.url, (client) =>
      client.query(`GRANT USAGE ON SCHEMA shop TO ${role}; GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA shop TO ${role}`),
    );
    const url = new URL(source.url);
    url.username = role;
    url.password = 'app';
    appUrl = url.toString();
  });

  afterAll(async () => {
    await projector?.stop();
    await capture?.stop();
    await source?.drop();
    await sql(`ALTER ROLE ${role} RESET ALL`).catch(() => undefined);
    await sql(`DROP ROLE IF EXISTS ${role}`).catch(() => undefined);
    await target?.drop();
  });

  it('init writes the configuration and finds the source ready for capture', async () => {
    const init = await tandem('init', '--source', source.url, '--schema', 'shop', '--target', target.url, '--brokers', env.brokers().join(','));
    expect(init.output).toMatch(/shop\.customers +ready: key \(id\), SELECT/);
    expect(init.output).toMatch(/shop\.orders +ready: key \(region, order_no\), SELECT/);
    expect(init.code).toBe(0);
    const config = parse(readFileSync(join(folder, 'tandem.yaml'), 'utf8'));
    expect(config.source.tables).toEqual(['shop.customers', 'shop.orders']);
    expect(config.kafka.topicPrefix).toBe(name);
    expect(config.projections).toEqual([{ name, mirror: { tables: ['shop.customers', 'shop.orders'] } }]);

    // What the walk-through has the user edit: a slot name of their own, the application's role for
    // the freeze, the password through the environment, and the module projection of the orders.
    config.source.slot = name;
    config.cutover = { applicationRoles: [role] };
    config.projections.push({ name: 'orders-model', module: './projections/orders.ts', options: { currency: 'EUR' } });
    writeFileSync(join(folder, 'tandem.yaml'), stringify(config));
  });

  it('a module that exports something else stops the projector at start-up with its path and the reason (exit 2)', async () => {
    const config = parse(readFileSync(join(folder, 'tandem.yaml'), 'utf8'));
    writeFileSync(join(folder, 'projections', 'broken.ts'), `export default { name: 'orders' };\n`);
    writeFileSync(join(folder, 'broken.yaml'), stringify({ ...config, projections: [{ name: 'broken', module: './projections/broken.ts' }] }));
    const run = await tandem('project', '--config', 'broken.yaml', '--dry-run');
    expect(run.code).toBe(2);
    expect(run.output).toContain(
      `projection module ${join(folder, 'projections', 'broken.ts')}: the default export must be a projection made with defineProjection from 'tandem' (or a function of the options returning one): apply: expected a function`,
    );
  });

  it('capture and project: the snapshot and live writes reach the mirror and the module projection; reconcile PASS', async () => {
    capture = new TandemProcess(['capture', '--config', 'tandem.yaml'], passwords(), folder);
    await capture.waitForLog(/streaming changes/);
    const dry = await tandem('project', '--config', 'tandem.yaml', '--dry-run', '--json');
    expect(dry.code).toBe(0);
    expect(dry.json).toMatchObject({
      quarantined: [],
      rows: { 'sales.orders': { upserts: 4 }, 'sales.order_items': { upserts: 4 }, 'shop.orders': { upserts: 4 }, 'shop.customers': { upserts: 4 } },
    });
    expect(await onTarget(`SELECT count(*)::int AS n FROM pg_namespace WHERE nspname = 'sales'`)).toEqual([{ n: 0 }]);

    projector = new TandemProcess(['project', '--config', 'tandem.yaml'], passwords(), folder);
    await projected('sales.order_items', 4);
    await projected('shop.orders', 4);
    await projected('shop.customers', 4);
    // live writes of the legacy application: an order placed, one changed, one deleted, a customer's
    // TOASTed notes left untouched by an update
    await app(`INSERT INTO shop.orders (region, order_no, customer_id, status, total, items)
               VALUES ('eu', 3, 2, 'paid', 30.00, '[{"sku": "MUG-2", "quantity": 1, "unit_price": "10.00"}, {"sku": "PEN-9", "quantity": 4, "unit_price": "5.00"}]')`);
    await app(`UPDATE shop.orders SET status = 'shipped', items = items || '[{"sku": "BAG-1", "quantity": 1, "unit_price": "0.00"}]' WHERE region = 'eu' AND order_no = 1`);
    await app(`DELETE FROM shop.orders WHERE region = 'us' AND order_no = 1`);
    await app(`UPDATE shop.customers SET tags = tags || '{returning}' WHERE id = 3`);
    await app(`INSERT INTO shop.customers (email, name, referred_by) VALUES ('eve@example.com', 'Eve', 4)`);
    await projected('sales.order_items', 6);
    await projected('shop.customers', 5);
    // the mirror: the enum, the array, the TOASTed notes kept through an update that left them out,
    // and (once caught up) the self-referencing foreign key
    const [chen] = await onTarget(`SELECT tags, length(notes) AS notes FROM shop.customers WHERE id = 3`);
    expect(chen).toEqual({ tags: ['wholesale', 'eu', 'returning'], notes: expect.any(Number) });
    expect(chen.notes).toBeGreaterThan(10_000);
    expect(await onTarget(`SELECT status::text, pg_typeof(status)::text AS type FROM shop.orders WHERE region = 'eu' AND order_no = 1`)).toEqual([
      { status: 'shipped', type: 'shop.order_status' },
    ]);
    await eventually(
      async () => (await onTarget(`SELECT 1 FROM pg_constraint WHERE conrelid = 'shop.customers'::regclass AND contype = 'f'`)).length === 1,
      30_000,
      'the self-referencing foreign key',
    );

    const reconcile = await tandem('reconcile', '--config', 'tandem.yaml', '--json');
    expect(reconcile.code).toBe(0);
    expect(reconcile.json.map((r: any) => [r.projection, r.verdict])).toEqual([
      [name, 'PASS'],
      ['orders-model', 'PASS'],
    ]);
    const matched = (report: any) => report.tables.map((t: any) => [t.table, t.sourceCount, t.matched]);
    expect(matched(reconcile.json[0])).toEqual([
      [expect.stringMatching(/customers$/), 5, 5],
      [expect.stringMatching(/orders$/), 4, 4],
    ]);
    expect(matched(reconcile.json[1])).toEqual([
      ['orders', 4, 4],
      ['order_items', 6, 6],
    ]);
  });

  it('reconcile names drift injected in the target, by table, key and column', async () => {
    await onTarget(`UPDATE sales.order_items SET quantity = 40 WHERE region = 'eu' AND order_no = 3 AND line = 2`);
    await onTarget(`UPDATE shop.customers SET name = 'Mallory' WHERE id = 2`);
    try {
      const reconcile = await tandem('reconcile', '--config', 'tandem.yaml', '--json');
      expect(reconcile.code).toBe(6);
      expect(reconcile.json.map((r: any) => r.verdict)).toEqual(['FAIL', 'FAIL']);
      const customers = reconcile.json[0].tables.find((t: any) => /customers$/.test(t.table));
      expect(customers).toMatchObject({ mismatched: 1, missing: 0, extra: 0 });
      expect(customers.sample).toEqual([expect.objectContaining({ kind: 'mismatched', columns: { name: ['Bob', 'Mallory'] } })]);
      const items = reconcile.json[1].tables.find((t: any) => t.table === 'order_items');
      expect(items).toMatchObject({ mismatched: 1, missing: 0, extra: 0 });
      expect(items.sample).toEqual([{ key: 'eu/3/2', kind: 'mismatched', columns: { quantity: ['4', '40'] } }]);
    } finally {
      await onTarget(`UPDATE sales.order_items SET quantity = 4 WHERE region = 'eu' AND order_no = 3 AND line = 2`);
      await onTarget(`UPDATE shop.customers SET name = 'Bob' WHERE id = 2`);
    }
  });

  let cutoverId: number;
  const atCutover: Record<string, string> = {};

  it('cuts over: freeze, drain, verify, commit; then the application writes the target tables with its own SQL', async () => {
    expect((await tandem('cutover', 'plan', '--config', 'tandem.yaml', '--json', '--operator', 'ann')).code).toBe(0);
    const started = await tandem('cutover', 'start', '--config', 'tandem.yaml', '--json', '--operator', 'ann');
    expect(started.code).toBe(0);
    await expect(app(`UPDATE shop.orders SET status = 'paid' WHERE region = 'us' AND order_no = 2`)).rejects.toThrow(/read-only transaction/);
    const committed = await tandem('cutover', 'commit', '--config', 'tandem.yaml', '--json', '--operator', 'ann');
    expect(committed.code).toBe(0);
    expect(committed.json).toMatchObject({ state: 'committed', projections: [name, 'orders-model'] });
    cutoverId = committed.json.id;
    atCutover.shop = await schemaHash('shop');
    atCutover.sales = await schemaHash('sales');

    // The new application's own statements: no Tandem column in its way, the identity past the copied ids.
    const [eve] = await onTarget(`INSERT INTO shop.customers (email, name, referred_by) VALUES ('finn@example.com', 'Finn', 5) RETURNING id`);
    expect(Number(eve.id)).toBeGreaterThan(5);
    await onTarget(`INSERT INTO shop.orders (region, order_no, customer_id, status, total, items) VALUES ('us', 3, ${eve.id}, 'paid', 12.00, '[]')`);
    await onTarget(`UPDATE shop.customers SET notes = 'moved' WHERE id = 3`);
    await onTarget(`DELETE FROM shop.orders WHERE region = 'us' AND order_no = 2`);
    await onTarget(`INSERT INTO sales.orders (region, order_no, customer_id, status, total, currency, placed_at)
                    VALUES ('us', 3, 1, 'pending', 12.00, 'EUR', now())`);
    await onTarget(`INSERT INTO sales.order_items (region, order_no, line, sku, quantity, unit_price) VALUES ('us', 3, 1, 'TEA-1', 1, 12.00)`);
    await onTarget(`UPDATE sales.orders SET status = 'paid' WHERE region = 'eu' AND order_no = 3`);
    await onTarget(`DELETE FROM sales.orders WHERE region = 'us' AND order_no = 2`);
    expect(await schemaHash('shop')).not.toBe(atCutover.shop);
    expect(await schemaHash('sales')).not.toBe(atCutover.sales);
  });

  it('replays both projections to the cutover position: hash-equal to the snapshots taken there', async () => {
    await projector?.stop();
    projector = null;
    const admin = testKafka().admin();
    await admin.connect();
    try {
      const groups = [`tandem-projection.${name}.${name}`, `tandem-projection.${name}.orders-model`];
      await eventually(async () => (await admin.describeGroups(groups)).groups.every((g) => g.members.length === 0), 30_000, 'empty consumer groups');
    } finally {
      await admin.disconnect();
    }
    for (const [projection, schema] of [[name, 'shop'], ['orders-model', 'sales']]) {
      const replay = await tandem('replay', '--config', 'tandem.yaml', '--projection', projection, '--to', `cutover:${cutoverId}`, '--json', '--operator', 'ann');
      expect(replay.code).toBe(0);
      expect(replay.json).toMatchObject({ state: { hash: atCutover[schema] } });
      expect(await schemaHash(schema)).toBe(atCutover[schema]);
    }
  });
});

/** The services' password, as a user provides it: init writes none into the file. */
function passwords(): Record<string, string> {
  return { PGPASSWORD: decodeURIComponent(new URL(env.sourceUrl()).password) };
}

async function withClient<T>(url: string, work: (client: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

/** A source database of the suite's own: the example's schema is `shop`, whoever else runs. */
async function createSourceDatabase(name: string): Promise<{ url: string; drop: () => Promise<void> }> {
  await sql(`CREATE DATABASE "${name}"`);
  const url = new URL(env.sourceUrl());
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: async () => {
      await sql(`SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE database = $1 AND NOT active`, [name]);
      await sql(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
    },
  };
}
