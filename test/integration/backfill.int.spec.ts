import { changeEvents, readTopics } from '../support/kafka-reader';
import { CounterWriteLoad } from '../support/write-load';
import { dropSlot, sql, testKafka, uniqueName } from '../support/services';
import { captureConfig, foldBackfilledCounters, InProcessCapture, requestBackfill, waitForBackfill } from '../support/backfill';
import { TandemProcess, writeConfig } from '../support/capture-process';

const kafka = testKafka();
const TOAST = '__debezium_unavailable_value';

async function tableState(table: string): Promise<Map<number, number>> {
  const rows = await sql(`SELECT id, counter FROM ${table} WHERE id <> -1`);
  return new Map(rows.map((row) => [row.id, row.counter]));
}

/** Inserts a sentinel row and reads the topic until it arrives: everything before it has been captured. */
async function eventsUntilSentinel(table: string, topic: string) {
  await sql(`INSERT INTO ${table} (id, counter) VALUES (-1, -1)`);
  const records = await readTopics(kafka, [topic], (all) => all.some((r) => r.key?.id === -1), { timeoutMs: 180_000 });
  return changeEvents(records).filter((r) => r.key.id !== -1);
}

describe('backfill while streaming', () => {
  it('reads a table capture streams but never read, under continuous writes on it: every row once, in its final state, no stale read', async () => {
    const name = uniqueName('bf_load');
    const table = `public.${name}`;
    await sql(`CREATE TABLE ${table} (id int PRIMARY KEY, counter int NOT NULL)`);
    await sql(`INSERT INTO ${table} SELECT g, 0 FROM generate_series(1, 20000) g`);
    const config = captureConfig(name, [table], { mode: 'never', chunkSize: 2000 });
    const capture = new InProcessCapture(config);
    // Three writers, so that many updates land inside each chunk's window, while its rows are read.
    const loads = [1, 2, 3].map((i) => new CounterWriteLoad(table, i * 1_000_000, 20000));
    const stopLoads = () => Promise.all(loads.map((load) => load.stop()));
    try {
      await capture.streaming();
      const id = await requestBackfill(config, table);
      const done = await waitForBackfill(config, (b) => b.id === id, (b) => b.status === 'done');
      expect(done.chunksDone).toBeGreaterThanOrEqual(10);
      await stopLoads();
      expect(loads.every((load) => load.writes > 50)).toBe(true);
      const events = await eventsUntilSentinel(table, `${name}.${table}`);
      const { state, violations, reads } = foldBackfilledCounters(events);
      expect(violations).toEqual([]);
      expect(state).toEqual(await tableState(table));
      expect(reads).toBe(done.rowsEmitted);
      expect(reads).toBeGreaterThan(15000);
    } finally {
      await stopLoads();
      await capture.stop();
      await dropSlot(name);
    }
  });

  it('backfills a table added to source.tables on the next start, under writes, and resumes after kill -9 at the last finished chunk: nothing lost or doubled', async () => {
    const name = uniqueName('bf_kill');
    const table = `public.${name}`;
    const other = `public.${name}_other`;
    await sql(`CREATE TABLE ${other} (id int PRIMARY KEY)`);
    await sql(`CREATE TABLE ${table} (id int PRIMARY KEY, counter int NOT NULL, pad text)`);
    await sql(`INSERT INTO ${table} SELECT g, 0, repeat('x', 200) FROM generate_series(1, 40000) g`);
    const base = { prefix: name, slot: name, publication: name, chunkSize: 1000, parallelism: 1 };
    let capture = TandemProcess.capture(writeConfig({ ...base, tables: [other] }));
    const load = new CounterWriteLoad(table, 1_000_000, 40000);
    const withTable = writeConfig({ ...base, tables: [other, table] });
    const config = captureConfig(name, [other, table]);
    try {
      await capture.waitForLog(/streaming changes/);
      expect(await capture.stop()).toBe(0);
      capture = TandemProcess.capture(withTable);
      await capture.waitForLog(/backfilling it while streaming/);
      const before = await waitForBackfill(config, (b) => b.table === table, (b) => b.chunksDone >= 5);
      expect(before.origin).toBe('auto');
      await capture.kill9();
      capture = TandemProcess.capture(withTable);
      await capture.waitForLog(/streaming changes/);
      const done = await waitForBackfill(config, (b) => b.table === table, (b) => b.status === 'done');
      expect(done.rowsRead).toBeGreaterThanOrEqual(40000 - 5000);
      await load.stop();
      const events = await eventsUntilSentinel(table, `${name}.${table}`);
      const { state, violations, reads } = foldBackfilledCounters(events);
      expect(violations).toEqual([]);
      expect(state).toEqual(await tableState(table));
      expect(reads).toBeGreaterThan(30000);
    } finally {
      await load.stop();
      await capture.stop();
      await dropSlot(name);
    }
  });

  it('reads only the rows of a --where slice, runs two queued backfills one after the other, and windows a composite key with TOASTed values', async () => {
    const name = uniqueName('bf_slice');
    const orders = `public.${name}`;
    const docs = `public.${name}_docs`;
    await sql(`CREATE TABLE ${orders} (id int PRIMARY KEY, region text NOT NULL, counter int NOT NULL)`);
    await sql(`INSERT INTO ${orders} SELECT g, CASE WHEN g % 10 = 0 THEN 'eu' ELSE 'us' END, 0 FROM generate_series(1, 5000) g`);
    // A composite key whose text part sorts differently under the C and natural collations, and a
    // value stored out of line (TOAST) that updates of the other columns leave unchanged.
    await sql(`CREATE TABLE ${docs} (tenant text, id int, n int NOT NULL, doc text NOT NULL, PRIMARY KEY (tenant, id))`);
    await sql(`ALTER TABLE ${docs} ALTER COLUMN doc SET STORAGE EXTERNAL`);
    await sql(
      `INSERT INTO ${docs} SELECT t, g, 0, repeat(md5(t || g), 200) FROM unnest(ARRAY['Acme', 'acme', 'beta', 'Zeta']) t, generate_series(1, 600) g`,
    );
    const config = captureConfig(name, [orders, docs], { mode: 'never', chunkSize: 250 });
    const capture = new InProcessCapture(config);
    let updating = true;
    const updates = (async () => {
      let round = 0;
      while (updating) {
        round += 1;
        await sql(`UPDATE ${docs} SET n = n + 1 WHERE id = $1`, [1 + (round % 600)]);
      }
    })();
    try {
      await capture.streaming();
      const slice = await requestBackfill(config, orders, "region = 'eu'");
      const whole = await requestBackfill(config, docs);
      const sliceDone = await waitForBackfill(config, (b) => b.id === slice, (b) => b.status === 'done');
      expect(sliceDone).toMatchObject({ rowsRead: 500, rowsEmitted: 500, where: "region = 'eu'" });
      const wholeDone = await waitForBackfill(config, (b) => b.id === whole, (b) => b.status === 'done');
      expect(wholeDone.rowsRead).toBe(2400);
      expect(wholeDone.chunksDone).toBeGreaterThanOrEqual(10);
      updating = false;
      await updates;

      const orderReads = changeEvents(
        await readTopics(kafka, [`${name}.${orders}`], (all) => all.filter((r) => r.value?.op === 'r').length >= 500),
      ).filter((r) => r.value.op === 'r');
      expect(orderReads.map((r) => r.key.id).sort((a, b) => a - b)).toEqual(Array.from({ length: 500 }, (_, i) => (i + 1) * 10));

      await sql(`INSERT INTO ${docs} VALUES ('~sentinel', 0, 0, 'x')`);
      const docEvents = changeEvents(
        await readTopics(kafka, [`${name}.${docs}`], (all) => all.some((r) => r.key?.tenant === '~sentinel'), { timeoutMs: 180_000 }),
      );
      const folded = new Map<string, { n: number; doc: string }>();
      const reads = new Map<string, number>();
      for (const { key, value } of docEvents) {
        const id = `${key.tenant}/${key.id}`;
        if (value.op === 'r') reads.set(id, (reads.get(id) ?? 0) + 1);
        const previous = folded.get(id);
        const doc = value.after.doc === TOAST ? previous?.doc ?? TOAST : value.after.doc;
        folded.set(id, { n: value.after.n, doc });
      }
      folded.delete('~sentinel/0');
      expect([...reads.values()].every((count) => count === 1)).toBe(true);
      // The second backfill waited in the queue: its first read comes after the slice's last one.
      const readTimes = (events: typeof docEvents) => events.filter((e) => e.value.op === 'r').map((e) => e.value.source.ts_us as number);
      expect(Math.max(...readTimes(orderReads))).toBeLessThanOrEqual(Math.min(...readTimes(docEvents)));
      const expected = await sql(`SELECT tenant, id, n, doc FROM ${docs} WHERE tenant <> '~sentinel'`);
      expect(folded.size).toBe(expected.length);
      for (const row of expected) expect(folded.get(`${row.tenant}/${row.id}`)).toEqual({ n: row.n, doc: row.doc });
    } finally {
      updating = false;
      await updates;
      await capture.stop();
      await dropSlot(name);
    }
  });
});
