import { validateConfig } from '../../src/modules/config/load-config';
import { CaptureService } from '../../src/modules/capture/capture.service';
import { ProjectionService } from '../../src/modules/projection/projection.service';
import { ReconciliationService } from '../../src/modules/reconciliation/reconciliation.service';
import { CutoverService } from '../../src/modules/cutover/cutover.service';
import { ReplayService } from '../../src/modules/replay/replay.service';
import { runMirrorSchemaDiff } from '../../src/modules/schema-diff/schema-diff.service';
import { createLogger } from '../../src/shared/logger';
import { withResources } from '../../src/modules/core/tandem-resources';
import { createTargetDatabase, targetQuery } from '../support/target-db';
import { dropSlot, env, eventually, sql, uniqueName, withSource } from '../support/services';
import { murmur2 } from '../../src/connectors/kafka/key-hash-partitioner';

/**
 * A declarative mirror of a schema that is none of the recipes', run in process on the real
 * services: capture -> Kafka -> mirror projector -> target, then reconciliation.
 */
describe('projection: declarative mirror', () => {
  const name = uniqueName('mirror');
  const src = name; // the source schema
  const dst = `${name}_new`;
  const logger = createLogger('test', 'warn');
  let target: Awaited<ReturnType<typeof createTargetDatabase>>;
  let capture: CaptureService;
  let captureRun: Promise<void>;
  let projector: ProjectionService;
  let config: ReturnType<typeof validateConfig>;

  const tq = (text: string, values: unknown[] = []) => targetQuery(target.url, text, values);
  /** md5 of a query's rows in order, on either side. */
  const digest = async (rows: Array<Record<string, unknown>>) => JSON.stringify(rows);
  const ORDER_COLUMNS = `shop_id, order_no, customer_id, status::text AS status, tags, total::text AS total, items, md5(note) AS note, embedding::text AS embedding, total_cents`;

  beforeAll(async () => {
    target = await createTargetDatabase('mirror');
    await sql(`CREATE ROLE ${name}_app LOGIN`);
    await sql(`CREATE SCHEMA ${src}`);
    await sql(`CREATE TYPE ${src}.order_status AS ENUM ('new', 'paid', 'shipped')`);
    await sql(`CREATE TABLE ${src}.categories (id int PRIMARY KEY, parent_id int REFERENCES ${src}.categories (id) DEFERRABLE INITIALLY DEFERRED, name text NOT NULL)`);
    await sql(`CREATE TABLE ${src}.customers (id bigserial PRIMARY KEY, email text NOT NULL UNIQUE, password_hash text, deleted_at timestamptz,
               tier text NOT NULL DEFAULT 'basic')`);
    await sql(`CREATE TABLE ${src}.orders (shop_id int, order_no int, customer_id bigint, status ${src}.order_status NOT NULL DEFAULT 'new',
               tags text[], total numeric(12,2), items jsonb, note text, embedding vector(3),
               total_cents bigint GENERATED ALWAYS AS ((total * 100)::bigint) STORED, PRIMARY KEY (shop_id, order_no))`);
    await sql(`CREATE INDEX orders_customer ON ${src}.orders (customer_id)`);
    await sql(`INSERT INTO ${src}.categories VALUES (1, NULL, 'root'), (2, 1, 'books'), (3, 2, 'novels')`);
    await sql(`INSERT INTO ${src}.customers (email, password_hash, deleted_at)
               SELECT 'c' || g || '@shop.test', 'secret-hash', CASE WHEN g % 5 = 0 THEN now() END FROM generate_series(1, 20) g`);
    await sql(`INSERT INTO ${src}.orders (shop_id, order_no, customer_id, status, tags, total, items, note, embedding)
               SELECT g % 3, g, g % 20 + 1, (ARRAY['new','paid','shipped'])[g % 3 + 1]::${src}.order_status, ARRAY['t' || g, NULL],
                      g * 10.25, jsonb_build_object('sku', 'S' || g, 'qty', g, 'price', 0.50),
                      CASE WHEN g % 10 = 0 THEN (SELECT string_agg(md5(g::text || i::text), '') FROM generate_series(1, 400) i) ELSE 'short' END,
                      ARRAY[g, g / 2.0, -1]::vector
                 FROM generate_series(1, 50) g`);
    config = validateConfig(
      {
        source: { url: env.sourceUrl(), slot: name, publication: name, tables: [`${src}.categories`, `${src}.customers`, `${src}.orders`], heartbeatIntervalMs: 1000 },
        kafka: { brokers: env.brokers(), topicPrefix: name, partitions: 3 },
        target: { url: target.url },
        capture: { maxBatchDelayMs: 50, statusIntervalMs: 1000 },
        cutover: { applicationRoles: [`${name}_app`] },
        projections: [
          {
            name: 'shop',
            mirror: {
              schema: dst,
              tables: [
                `${src}.categories`,
                `${src}.orders`,
                { from: `${src}.customers`, to: 'clients', columns: { email: 'email_address' }, exclude: ['password_hash', 'deleted_at'], where: 'deleted_at IS NULL' },
              ],
            },
          },
        ],
        projector: { maxBatchEvents: 100 },
      },
      'test',
    );
    capture = new CaptureService(config, logger);
    captureRun = capture.run();
    await eventually(async () => capture.status().role === 'streaming', 60_000, 'capture to stream');
    projector = new ProjectionService(config, logger);
    await projector.start();
  }, 120_000);

  afterAll(async () => {
    await projector?.stop().catch(() => undefined); // the cutover test stops it first
    await capture?.stop();
    await captureRun?.catch(() => undefined);
    await dropSlot(name);
    await sql(`DROP ROLE IF EXISTS ${name}_app`);
    await target?.drop();
  });

  const sourceOrders = () => sql(`SELECT ${ORDER_COLUMNS} FROM ${src}.orders ORDER BY shop_id, order_no`);
  const targetOrders = () => tq(`SELECT ${ORDER_COLUMNS} FROM ${dst}.orders ORDER BY shop_id, order_no`);
  const ordersEqual = async () => (await digest(await sourceOrders())) === (await digest(await targetOrders()));

  it('creates the target tables from the source catalog: types, enum, key, NOT NULL, defaults, nullable bookkeeping', async () => {
    await eventually(async () => Number((await tq(`SELECT count(*) AS n FROM ${dst}.orders`))[0].n) === 50, 60_000, '50 mirrored orders');
    const columns = await tq(
      `SELECT c.relname AS t, a.attname AS c, format_type(a.atttypid, a.atttypmod) AS type, a.attnotnull AS nn, a.attgenerated AS gen,
              pg_get_expr(d.adbin, d.adrelid) AS def
         FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
         LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
        WHERE n.nspname = $1 AND a.attnum > 0 AND NOT a.attisdropped AND c.relkind = 'r' ORDER BY c.relname, a.attnum`,
      [dst],
    );
    const of = (table: string) => Object.fromEntries(columns.filter((row) => row.t === table).map((row) => [row.c, row]));
    const orders = of('orders');
    expect(Object.keys(orders)).toEqual(['shop_id', 'order_no', 'customer_id', 'status', 'tags', 'total', 'items', 'note', 'embedding', 'total_cents', '_source_key', '_source_lsn']);
    expect(orders.status).toMatchObject({ type: `${dst}.order_status`, nn: true, def: `'new'::${dst}.order_status` });
    expect(orders.tags.type).toBe('text[]');
    expect(orders.total.type).toBe('numeric(12,2)');
    expect(orders.items.type).toBe('jsonb');
    expect(orders.embedding.type).toBe('vector(3)');
    // generated in the target too: the change stream does not carry generated values
    expect(orders.total_cents).toMatchObject({ type: 'bigint', gen: 's', def: '((total * (100)::numeric))::bigint' });
    expect(orders._source_key.nn).toBe(false);
    expect(orders._source_lsn.nn).toBe(false);
    const clients = of('clients');
    expect(Object.keys(clients)).toEqual(['id', 'email_address', 'tier', '_source_key', '_source_lsn']);
    expect(clients.id.def).toMatch(/^nextval\('.*clients_id_seq'::regclass\)$/);
    expect(clients.tier).toMatchObject({ nn: true, def: "'basic'::text" });
    const [key] = await tq(`SELECT pg_get_constraintdef(oid) AS def FROM pg_constraint WHERE conrelid = '${dst}.orders'::regclass AND contype = 'p'`);
    expect(key.def).toBe('PRIMARY KEY (shop_id, order_no)');
    const [labels] = await tq(`SELECT enum_range(NULL::${dst}.order_status)::text AS labels`);
    expect(labels.labels).toBe('{new,paid,shipped}');
  });

  it('copies every row 1:1 (composite keys, enum, array, numeric, jsonb, TOASTed text, vector), filtered and renamed', async () => {
    expect(await eventually(ordersEqual, 30_000, 'orders equal')).toBe(true);
    const [toasted] = await tq(`SELECT length(note) AS n FROM ${dst}.orders WHERE order_no = 10`);
    expect(toasted.n).toBe(12_800);
    const [item] = await tq(`SELECT items FROM ${dst}.orders WHERE order_no = 3`);
    expect(item.items).toEqual({ sku: 'S3', qty: 3, price: 0.5 }); // the document, not a JSON string
    const clients = await tq(`SELECT id::int, email_address FROM ${dst}.clients ORDER BY id`);
    expect(clients).toHaveLength(16); // 4 of 20 are deleted_at IS NOT NULL
    expect(clients.every((c) => !String(c.id).endsWith('0') && Number(c.id) % 5 !== 0)).toBe(true);
    expect(JSON.stringify(await tq(`SELECT * FROM ${dst}.clients`))).not.toContain('secret-hash');
  });

  it('builds indexes and foreign keys once caught up', async () => {
    const indexes = await eventually(async () => {
      const rows = await tq(`SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = $1 ORDER BY indexname`, [dst]);
      return rows.some((row) => row.indexname === 'customers_email_key') && rows;
    }, 30_000, 'deferred indexes');
    expect(indexes.find((row) => row.indexname === 'customers_email_key')!.indexdef).toContain(`UNIQUE INDEX customers_email_key ON ${dst}.clients USING btree (email_address)`);
    expect(indexes.map((row) => row.indexname)).toContain('orders_customer');
    const [fk] = await tq(`SELECT pg_get_constraintdef(oid) AS def, convalidated FROM pg_constraint WHERE conrelid = '${dst}.categories'::regclass AND contype = 'f'`);
    expect(fk.def).toMatch(new RegExp(`^FOREIGN KEY \\(parent_id\\) REFERENCES ${dst}\\.categories\\(id\\)`));
    // built once every partition of every table is loaded, so validation finds every parent
    expect(fk.convalidated).toBe(true);
    await expect(tq(`INSERT INTO ${dst}.categories (id, parent_id, name) VALUES (99, 98, 'orphan')`)).rejects.toThrow(/foreign key/);
  });

  it('lets a child that arrives before its parent wait, then applies it (not left in quarantine)', async () => {
    // two keys on one partition, the child first in the log (the source's foreign key is deferred)
    const partitionOf = (id: number) => (murmur2(JSON.stringify({ id })) & 0x7fffffff) % 3;
    const [child, spare, parent] = [100, 101, 102].map((start) => {
      let id = start * 10;
      while (partitionOf(id) !== partitionOf(100)) id++;
      return id;
    });
    await sql(`INSERT INTO ${src}.categories VALUES ($1, 1, 'spare')`, [spare]);
    await eventually(async () => (await tq(`SELECT 1 FROM ${dst}.categories WHERE id = $1`, [spare])).length === 1, 30_000, 'the spare category');
    // child, an unrelated delete (so the child's upsert is a statement of its own), then its parent
    await withSource(async (client) => {
      await client.query('BEGIN');
      await client.query(`INSERT INTO ${src}.categories VALUES ($1, $2, 'child')`, [child, parent]);
      await client.query(`DELETE FROM ${src}.categories WHERE id = $1`, [spare]);
      await client.query(`INSERT INTO ${src}.categories VALUES ($1, 1, 'parent')`, [parent]);
      await client.query('COMMIT');
    });
    await eventually(async () => (await tq(`SELECT id FROM ${dst}.categories WHERE id IN ($1, $2)`, [child, parent])).length === 2, 30_000, 'child and parent');
    const entries = await tq(`SELECT status, reason FROM tandem.quarantine WHERE projection = 'shop' AND source_key = $1`, [JSON.stringify({ id: child })]);
    expect(entries).toEqual([{ status: 'redriven', reason: expect.stringContaining('waits for the row it refers to') }]);
    expect(await tq(`SELECT id FROM tandem.quarantine WHERE projection = 'shop' AND status <> 'redriven'`)).toEqual([]);
  });

  it('applies live inserts, updates (a TOASTed value left unchanged is kept), deletes and TRUNCATE', async () => {
    await sql(`INSERT INTO ${src}.orders (shop_id, order_no, customer_id, total, items) VALUES (9, 1000, 1, 1.5, '{"a": [1, 2]}')`);
    await sql(`UPDATE ${src}.orders SET status = 'shipped' WHERE order_no = 10`); // note (TOASTed) not touched
    await sql(`UPDATE ${src}.orders SET tags = ARRAY['x'], total = 99.99 WHERE order_no = 11`);
    await sql(`DELETE FROM ${src}.orders WHERE order_no IN (12, 13)`);
    await eventually(ordersEqual, 30_000, 'orders equal after live writes').catch(async (error) => {
      const [a, b] = [await sourceOrders(), await targetOrders()];
      throw new Error(`${error.message}: source ${JSON.stringify(a.filter((row, i) => JSON.stringify(row) !== JSON.stringify(b[i])).slice(0, 3))} target ${JSON.stringify(b.filter((row, i) => JSON.stringify(row) !== JSON.stringify(a[i])).slice(0, 3))}`);
    });
    const [toasted] = await tq(`SELECT status::text, length(note) AS n FROM ${dst}.orders WHERE order_no = 10`);
    expect(toasted).toEqual({ status: 'shipped', n: 12_800 });
  });

  it('deletes a row that leaves the filter by an update and inserts one that enters it', async () => {
    await sql(`UPDATE ${src}.customers SET deleted_at = now() WHERE id = 1`);
    await sql(`UPDATE ${src}.customers SET deleted_at = NULL, email = 'back@shop.test' WHERE id = 5`);
    await eventually(async () => {
      const rows = await tq(`SELECT id::int, email_address FROM ${dst}.clients WHERE id IN (1, 5) ORDER BY id`);
      return rows.length === 1 && rows[0].id === 5 && rows[0].email_address === 'back@shop.test';
    }, 30_000, 'client 1 gone, client 5 back');
  });

  it('adds a column the source gains, with its default, on its first event', async () => {
    await sql(`ALTER TABLE ${src}.orders ADD COLUMN channel text NOT NULL DEFAULT 'web'`);
    await sql(`INSERT INTO ${src}.orders (shop_id, order_no, channel) VALUES (9, 1001, 'app')`);
    const rows = await eventually(
      () => tq(`SELECT order_no, channel FROM ${dst}.orders WHERE order_no IN (1, 1001) ORDER BY order_no`).then((r) => r.length === 2 && r),
      30_000,
      'the new column',
    );
    expect(rows).toEqual([{ order_no: 1, channel: 'web' }, { order_no: 1001, channel: 'app' }]);
  });

  it('reconciles PASS from the mapping alone, then names a drift injected in the target', async () => {
    await eventually(async () => (await sql(`SELECT count(*)::int AS n FROM ${src}.orders`))[0].n === Number((await tq(`SELECT count(*) AS n FROM ${dst}.orders`))[0].n), 30_000, 'caught up');
    const [clean] = await new ReconciliationService(config, logger).run({ projection: 'shop' });
    expect(JSON.stringify(clean.tables.filter((t) => t.sample.length > 0).map((t) => [t.table, t.sample.slice(0, 2)]))).toBe('[]');
    expect(clean.verdict).toBe('PASS');
    expect(clean.tables.map((t) => [t.table, t.missing + t.extra + t.mismatched])).toEqual([['categories', 0], ['orders', 0], ['clients', 0]]);
    await tq(`UPDATE ${dst}.clients SET email_address = 'drift@x' WHERE id = 2`);
    const [drifted] = await new ReconciliationService(config, logger).run({ projection: 'shop', threshold: 0 });
    expect(drifted.verdict).toBe('FAIL');
    const clients = drifted.tables.find((t) => t.table === 'clients')!;
    expect(clients.mismatched).toBe(1);
    expect(clients.sample[0]).toMatchObject({ key: '2', kind: 'mismatched', columns: { email_address: ['c2@shop.test', 'drift@x'] } });
  }, 60_000);

  it('TRUNCATE empties the target table, and later rows arrive', async () => {
    await sql(`TRUNCATE ${src}.orders`);
    await sql(`INSERT INTO ${src}.orders (shop_id, order_no) VALUES (1, 1)`);
    await eventually(async () => {
      const rows = await tq(`SELECT shop_id, order_no FROM ${dst}.orders`);
      return rows.length === 1 && rows[0].order_no === 1;
    }, 30_000, 'the truncated table with its one new row');
  });

  it('cutover commit sets sequences past the copied rows; the application then inserts with its own SQL; replay rebuilds to the cutover', async () => {
    // the drift injected above is repaired by the next change of that row at the source
    await sql(`UPDATE ${src}.customers SET tier = 'gold' WHERE id = 2`);
    await eventually(async () => (await tq(`SELECT email_address FROM ${dst}.clients WHERE id = 2`))[0]?.email_address === 'c2@shop.test', 30_000, 'the drift repaired');
    const cutovers = new CutoverService(config, logger);
    try {
      const { cutover } = await cutovers.plan({ operator: 'test', projection: 'shop' });
      await cutovers.start(cutover.id, { operator: 'test', drainTimeoutMs: 60_000 });
      const committed = await cutovers.commit(cutover.id, { operator: 'test' });
      expect(committed.state).toBe('committed');
      const before = await tq(`SELECT md5(string_agg(t::text, ',' ORDER BY shop_id, order_no)) AS h, count(*)::int AS n FROM ${dst}.orders t`);
      await projector.stop();
      const replay = new ReplayService(config, logger);
      try {
        const result = await replay.replay({ projection: 'shop', to: `cutover:${cutover.id}`, operator: 'test' });
        expect(result.eventsQuarantined).toBe(0);
      } finally {
        await replay.close();
      }
      // the same rows, the column added while streaming included
      expect(await tq(`SELECT md5(string_agg(t::text, ',' ORDER BY shop_id, order_no)) AS h, count(*)::int AS n FROM ${dst}.orders t`)).toEqual(before);
      const [{ max }] = await tq(`SELECT max(id)::int AS max FROM ${dst}.clients`);
      const [inserted] = await tq(`INSERT INTO ${dst}.clients (email_address) VALUES ('app@shop.test') RETURNING id::int, tier, _source_key`);
      expect(inserted.id).toBeGreaterThan(max);
      expect(inserted).toMatchObject({ tier: 'basic', _source_key: null });
      await tq(`INSERT INTO ${dst}.orders (shop_id, order_no, status) VALUES (7, 7, 'paid')`);
      await tq(`UPDATE ${dst}.orders SET total = 5 WHERE shop_id = 7 AND order_no = 7`);
      expect((await tq(`SELECT total_cents::int AS c FROM ${dst}.orders WHERE shop_id = 7`))[0].c).toBe(500);
    } finally {
      await cutovers.close();
    }
  }, 120_000);

  it('schema-diff reports the source DDL the mirror does not follow: a dropped, a retyped and a not yet seen column', async () => {
    // own connections, closed after each diff, as `tandem schema-diff --projection` in its own process
    const mirrorDiff = () => withResources(undefined, config, logger, (resources) => runMirrorSchemaDiff(config, 'shop', resources));
    expect((await mirrorDiff()).differences).toEqual([]);
    await sql(`ALTER TABLE ${src}.customers DROP COLUMN tier`);
    await sql(`ALTER TABLE ${src}.categories ALTER COLUMN name TYPE varchar(80)`);
    await sql(`ALTER TABLE ${src}.categories ADD COLUMN slug text`);
    const report = await mirrorDiff();
    expect(report.identical).toBe(false);
    expect(report.differences.map((d) => [d.kind, d.targetTable, d.name, d.source, d.target])).toEqual([
      ['type_changed', `${dst}.categories`, 'name', 'character varying(80)', 'text'],
      ['missing_column', `${dst}.categories`, 'slug', 'text NULL (added on its first event)', null],
      ['new_column', `${dst}.clients`, 'tier', null, 'text'],
    ]);
  });
});
