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
  const salesHash = async () => {
    const client = new Client({ connectionString: target.url });
    await client.connect();
    try {
      return (await summarize(client, 'sales')).hash;
    } finally {
      await client.end();
    }
  };
  const projectedLines = (n: number) =>
    eventually(async () => Number((await onTarget('SELECT count(*) AS n FROM sales.order_items'))[0].n) === n, 60_000, `${n} order lines`);

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

    // What the walk-through has the user edit: a slot name of their own, the application's role for
    // the freeze, the password through the environment, and the module projection of the orders.
    config.source.slot = name;
    config.cutover = { applicationRoles: [role] };
    config.projections = [{ name: 'orders-model', module: './projections/orders.ts', options: { currency: 'EUR' } }];
    writeFileSync(join(folder, 'tandem.yaml'), stringify(config));
  });

  it('capture and project: the snapshot and live writes reach the module projection; reconcile PASS', async () => {
    capture = new TandemProcess(['capture', '--config', 'tandem.yaml'], passwords(), folder);
    await capture.waitForLog(/streaming changes/);
    const dry = await tandem('project', '--config', 'tandem.yaml', '--dry-run', '--json');
    expect(dry.code).toBe(0);
    expect(dry.json).toMatchObject({ events: 4, rows: { 'sales.orders': { upserts: 4 }, 'sales.order_items': { upserts: 4 } } });

    projector = new TandemProcess(['project', '--config', 'tandem.yaml'], passwords(), folder);
    await projectedLines(4);
    // live writes of the legacy application: an order placed, one changed, one deleted, a customer's
    // TOASTed notes left untouched by an update
    await app(`INSERT INTO shop.orders (region, order_no, customer_id, status, total, items)
               VALUES ('eu', 3, 2, 'paid', 30.00, '[{"sku": "MUG-2", "quantity": 1, "unit_price": "10.00"}, {"sku": "PEN-9", "quantity": 4, "unit_price": "5.00"}]')`);
    await app(`UPDATE shop.orders SET status = 'shipped', items = items || '[{"sku": "BAG-1", "quantity": 1, "unit_price": "0.00"}]' WHERE region = 'eu' AND order_no = 1`);
    await app(`DELETE FROM shop.orders WHERE region = 'us' AND order_no = 1`);
    await app(`UPDATE shop.customers SET tags = tags || '{returning}' WHERE id = 3`);
    await projectedLines(6);

    const reconcile = await tandem('reconcile', '--config', 'tandem.yaml', '--json');
    expect(reconcile.code).toBe(0);
    expect(reconcile.json).toEqual([expect.objectContaining({ projection: 'orders-model', verdict: 'PASS' })]);
    expect(reconcile.json[0].tables.map((t: any) => [t.table, t.sourceCount, t.matched])).toEqual([
      ['orders', 4, 4],
      ['order_items', 6, 6],
    ]);
  });

  it('reconcile names drift injected in the target, by table, key and column', async () => {
    await onTarget(`UPDATE sales.order_items SET quantity = 40 WHERE region = 'eu' AND order_no = 3 AND line = 2`);
    try {
      const reconcile = await tandem('reconcile', '--config', 'tandem.yaml', '--json');
      expect(reconcile.code).toBe(6);
      const items = reconcile.json[0].tables.find((t: any) => t.table === 'order_items');
      expect(items).toMatchObject({ mismatched: 1, missing: 0, extra: 0 });
      expect(items.sample).toEqual([{ key: 'eu/3/2', kind: 'mismatched', columns: { quantity: ['4', '40'] } }]);
    } finally {
      await onTarget(`UPDATE sales.order_items SET quantity = 4 WHERE region = 'eu' AND order_no = 3 AND line = 2`);
    }
  });

  let cutoverId: number;
  let atCutover: string;

  it('cuts over: freeze, drain, verify, commit; then the application writes the target tables with its own SQL', async () => {
    expect((await tandem('cutover', 'plan', '--config', 'tandem.yaml', '--json', '--operator', 'ann')).code).toBe(0);
    const started = await tandem('cutover', 'start', '--config', 'tandem.yaml', '--json', '--operator', 'ann');
    expect(started.code).toBe(0);
    await expect(app(`UPDATE shop.orders SET status = 'paid' WHERE region = 'us' AND order_no = 2`)).rejects.toThrow(/read-only transaction/);
    const committed = await tandem('cutover', 'commit', '--config', 'tandem.yaml', '--json', '--operator', 'ann');
    expect(committed.code).toBe(0);
    expect(committed.json).toMatchObject({ state: 'committed', projections: ['orders-model'] });
    cutoverId = committed.json.id;
    atCutover = await salesHash();

    // The new application's own statements: no Tandem column in its way.
    await onTarget(`INSERT INTO sales.orders (region, order_no, customer_id, status, total, currency, placed_at)
                    VALUES ('us', 3, 1, 'pending', 12.00, 'EUR', now())`);
    await onTarget(`INSERT INTO sales.order_items (region, order_no, line, sku, quantity, unit_price) VALUES ('us', 3, 1, 'TEA-1', 1, 12.00)`);
    await onTarget(`UPDATE sales.orders SET status = 'paid' WHERE region = 'eu' AND order_no = 3`);
    await onTarget(`DELETE FROM sales.orders WHERE region = 'us' AND order_no = 2`);
    expect(await salesHash()).not.toBe(atCutover);
  });

  it('replays the projection to the cutover position: hash-equal to the snapshot taken there', async () => {
    await projector?.stop();
    projector = null;
    const admin = testKafka().admin();
    await admin.connect();
    try {
      await eventually(async () => (await admin.describeGroups([`tandem-projection.${name}.orders-model`])).groups[0].members.length === 0, 30_000, 'an empty consumer group');
    } finally {
      await admin.disconnect();
    }
    const replay = await tandem('replay', '--config', 'tandem.yaml', '--projection', 'orders-model', '--to', `cutover:${cutoverId}`, '--json', '--operator', 'ann');
    expect(replay.code).toBe(0);
    expect(replay.json).toMatchObject({ state: { hash: atCutover } });
    expect(await salesHash()).toBe(atCutover);
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
