import { changeEvents, readTopics } from '../support/kafka-reader';
import { CounterWriteLoad } from '../support/write-load';
import { dropSlot, sql, testKafka, uniqueName } from '../support/services';
import { captureConfig, foldBackfilledCounters, InProcessCapture, requestBackfill, waitForBackfill } from '../support/backfill';

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
});
