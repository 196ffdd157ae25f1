import { changeEvents, readTopics } from '../support/kafka-reader';
import { CounterWriteLoad } from '../support/write-load';
import { dropSlot, sql, testKafka, uniqueName } from '../support/services';
import { captureConfig, foldBackfilledCounters, InProcessCapture, requestBackfill, waitForBackfill } from '../support/backfill';
import { TandemProcess, writeConfig } from '../support/capture-process';

const kafka = testKafka();

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
    const config = captureConfig(name, [table], { mode: 'never', chunkSize: 1000 });
    const capture = new InProcessCapture(config);
    const load = new CounterWriteLoad(table, 1_000_000, 20000);
    try {
      await capture.streaming();
      const id = await requestBackfill(config, table);
      const done = await waitForBackfill(config, (b) => b.id === id, (b) => b.status === 'done');
      expect(done.chunksDone).toBeGreaterThanOrEqual(20);
      await load.stop();
      expect(load.writes).toBeGreaterThan(50);
      const events = await eventsUntilSentinel(table, `${name}.${table}`);
      const { state, violations, reads } = foldBackfilledCounters(events);
      expect(violations).toEqual([]);
      expect(state).toEqual(await tableState(table));
      expect(reads).toBe(done.rowsEmitted);
      expect(reads).toBeGreaterThan(15000);
    } finally {
      await load.stop();
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
});
