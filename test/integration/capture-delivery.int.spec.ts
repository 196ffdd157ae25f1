import { changeEvents, readTopics } from '../support/kafka-reader';
import { TandemProcess, writeConfig } from '../support/capture-process';
import { CounterWriteLoad, foldCounterEvents } from '../support/write-load';
import { dropSlot, eventually, sql, testKafka, uniqueName } from '../support/services';
import { captureNames } from '../../src/contracts/names';

const kafka = testKafka();

async function tableState(table: string): Promise<Map<number, number>> {
  const rows = await sql(`SELECT id, counter FROM ${table}`);
  return new Map(rows.map((row) => [row.id, row.counter]));
}

/** Inserts a sentinel row and reads the topic until it arrives: everything before it has been captured. */
async function readUntilSentinel(table: string, topic: string) {
  await sql(`INSERT INTO ${table} (id, counter) VALUES (-1, -1)`);
  const records = await readTopics(kafka, [topic], (all) => all.some((r) => r.key?.id === -1), { timeoutMs: 180_000 });
  return changeEvents(records).filter((r) => r.key.id !== -1);
}

describe('capture: exactly once across the snapshot boundary and crashes', () => {
  it('captures a table under concurrent writes with no gap and no overlap between snapshot and stream', async () => {
    const name = uniqueName('boundary');
    const table = `public.${name}`;
    await sql(`CREATE TABLE ${table} (id int PRIMARY KEY, counter int NOT NULL)`);
    await sql(`INSERT INTO ${table} SELECT g, 0 FROM generate_series(1, 30000) g`);
    const load = new CounterWriteLoad(table, 1_000_000, 30000);
    const capture = TandemProcess.capture(writeConfig({ prefix: name, slot: name, publication: name, tables: [table], chunkSize: 2000 }));
    try {
      await capture.waitForLog(/streaming changes/);
      // Writes on both sides of the boundary: counted, not timed (a loaded machine writes slowly).
      const atStreaming = load.writes;
      await eventually(async () => load.writes >= atStreaming + 50, 120_000, '50 writes while capture streams');
      await load.stop();
      const events = await readUntilSentinel(table, `${name}.${table}`);
      const { state, violations } = foldCounterEvents(events);
      expect(violations).toEqual([]);
      await sql(`DELETE FROM ${table} WHERE id = -1`);
      expect(state).toEqual(await tableState(table));
      expect(load.writes).toBeGreaterThan(50);
    } finally {
      await load.stop();
      await capture.stop();
      await dropSlot(name);
    }
  });

  it('resumes a crashed snapshot from its last finished chunk, still exactly once', async () => {
    const name = uniqueName('resume');
    const table = `public.${name}`;
    await sql(`CREATE TABLE ${table} (id int PRIMARY KEY, counter int NOT NULL, pad text)`);
    await sql(`INSERT INTO ${table} SELECT g, 0, repeat('x', 200) FROM generate_series(1, 60000) g`);
    const config = writeConfig({ prefix: name, slot: name, publication: name, tables: [table], chunkSize: 2000, parallelism: 1 });
    const topic = `${name}.${table}`;
    const load = new CounterWriteLoad(table, 1_000_000, 60000);
    let capture = TandemProcess.capture(config);
    try {
      await readTopics(kafka, [topic], (all) => all.length >= 6000, { settleMs: 0 });
      await capture.kill9();
      capture = TandemProcess.capture(config);
      await capture.waitForLog(/resuming the snapshot/);
      await capture.waitForLog(/streaming changes/);
      await new Promise((resolve) => setTimeout(resolve, 1000));
      await load.stop();
      const events = await readUntilSentinel(table, topic);
      const { state, violations } = foldCounterEvents(events);
      expect(violations).toEqual([]);
      await sql(`DELETE FROM ${table} WHERE id = -1`);
      expect(state).toEqual(await tableState(table));
    } finally {
      await load.stop();
      await capture.stop();
      await dropSlot(name);
    }
  });

  it('after kill -9 during a 100k-row stream, a restart neither loses nor repeats an event', async () => {
    const name = uniqueName('kill');
    const table = `public.${name}`;
    await sql(`CREATE TABLE ${table} (id int PRIMARY KEY, counter int NOT NULL)`);
    const config = writeConfig({ prefix: name, slot: name, publication: name, tables: [table], maxBatchEvents: 1000 });
    const topic = `${name}.${table}`;
    let capture = TandemProcess.capture(config);
    try {
      await capture.waitForLog(/streaming changes/);
      // 80 transactions of 1,000 rows, then one 20,000-row transaction that capture produces in several batches;
      // capture is killed once among the small transactions and once while the large one is in flight.
      let smallDone = false;
      const writer = (async () => {
        for (let i = 0; i < 80; i++) {
          await sql(`INSERT INTO ${table} SELECT g, 0 FROM generate_series($1::int, $2::int) g`, [i * 1000 + 1, (i + 1) * 1000]);
        }
        smallDone = true;
        await sql(`INSERT INTO ${table} SELECT g, 0 FROM generate_series(80001, 100000) g`);
      })();
      await new Promise((resolve) => setTimeout(resolve, 1500));
      await capture.kill9();
      capture = TandemProcess.capture(config);
      while (!smallDone) await new Promise((resolve) => setTimeout(resolve, 20));
      await capture.waitForLog(/streaming changes/);
      await writer;
      await new Promise((resolve) => setTimeout(resolve, 300));
      await capture.kill9();
      capture = TandemProcess.capture(config);
      const records = await readTopics(kafka, [topic, `${name}.transaction`], (all) => all.filter((r) => r.topic === topic).length >= 100000, {
        timeoutMs: 180_000,
        settleMs: 3000,
      });
      const events = records.filter((r) => r.topic === topic);
      expect(events).toHaveLength(100000);
      expect(new Set(events.map((e) => e.key.id)).size).toBe(100000);
      const markers = records.filter((r) => r.topic === `${name}.transaction`);
      const statusesById = new Map<string, string[]>();
      for (const marker of markers) statusesById.set(marker.value.id, [...(statusesById.get(marker.value.id) ?? []), marker.value.status]);
      expect(statusesById.size).toBe(81);
      for (const statuses of statusesById.values()) expect(statuses).toEqual(['BEGIN', 'END']);
    } finally {
      await capture.stop();
      await dropSlot(name);
    }
  });

  it('cuts a transaction of wide rows into Kafka transactions of at most maxBatchBytes, each row once', async () => {
    const name = uniqueName('wide');
    const table = `public.${name}`;
    await sql(`CREATE TABLE ${table} (id int PRIMARY KEY, counter int NOT NULL, doc text NOT NULL)`);
    // Only the bytes may cut the batch: no timer flush, no heartbeat commit, more events allowed than the transaction has.
    const maxBatchBytes = 1024 * 1024;
    const config = writeConfig({ prefix: name, slot: name, publication: name, tables: [table], maxBatchBytes, maxBatchDelayMs: 600_000, heartbeatIntervalMs: 600_000 });
    const topic = `${name}.${table}`;
    const capture = TandemProcess.capture(config);
    try {
      await capture.waitForLog(/streaming changes/);
      // 60 rows of 100 KiB (TOASTed at the source, whole in each event): ~6 MiB in one source transaction
      await sql(`INSERT INTO ${table} SELECT g, 0, repeat(md5(g::text), 3200) FROM generate_series(1, 60) g`);
      const events = changeEvents(await readTopics(kafka, [topic], (all) => all.length >= 60, { settleMs: 1000 }));
      expect(events.map((e) => e.key.id).sort((a, b) => a - b)).toEqual(Array.from({ length: 60 }, (_, i) => i + 1));
      expect(events.every((e) => e.value.after.doc.length === 102_400)).toBe(true);

      const { stateTopic, stateKey } = captureNames(name, name);
      const ownStates = (records: Awaited<ReturnType<typeof readTopics>>) =>
        records.filter((r) => r.key === stateKey).map((r) => JSON.parse(r.value as string) as { stream: { partial: { emitted: number } | null } });
      const states = ownStates(
        await readTopics(kafka, [stateTopic], (all) => ownStates(all).some((state, i, list) => i > 0 && list[i - 1].stream.partial && !state.stream.partial), {
          raw: true,
          timeoutMs: 60_000,
        }),
      );
      // Each mid-transaction commit records how many of the transaction's records are in Kafka.
      const emitted = states.flatMap((state) => (state.stream.partial ? [state.stream.partial.emitted] : []));
      const eventBytes = events[0].value.after.doc.length;
      expect(emitted.length).toBeGreaterThanOrEqual(Math.floor((60 * eventBytes) / maxBatchBytes) - 1);
      const steps = emitted.map((n, i) => n - (i === 0 ? 0 : emitted[i - 1]));
      // a batch is cut by the record that reaches the bound: at most one record past it (the first batch also holds BEGIN)
      for (const step of steps) expect(step).toBeLessThanOrEqual(Math.ceil(maxBatchBytes / eventBytes) + 1);
    } finally {
      await capture.stop();
      await dropSlot(name);
    }
  });
});
