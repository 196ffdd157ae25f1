import { existsSync, readFileSync } from 'fs';
import { join, resolve } from 'path';
import { changeEvents, readTopics } from '../support/kafka-reader';
import { TandemProcess, writeConfig } from '../support/capture-process';
import { CounterWriteLoad } from '../support/write-load';
import { dropSlot, eventually, sql, testKafka, uniqueName } from '../support/services';

const kafka = testKafka();
const STOP_WITHIN_MS = 10_000;

/** Sends the signal and waits for the exit: the code, how long it took, and any error-level log line. */
async function stop(capture: TandemProcess, signal: NodeJS.Signals) {
  const sent = Date.now();
  capture.child.kill(signal);
  let timer: NodeJS.Timeout | undefined;
  const code = await Promise.race([
    capture.exited,
    new Promise<'still running'>((done) => (timer = setTimeout(() => done('still running'), 30_000))),
  ]);
  clearTimeout(timer); // a pending timer would keep jest alive after the run
  const tookMs = Date.now() - sent;
  if (code === 'still running') await capture.kill9();
  return { code, tookMs, errorLines: errorLines(capture.output) };
}

function errorLines(output: string): string[] {
  return output.split('\n').filter((line) => {
    if (!line.startsWith('{')) return false;
    const level = (JSON.parse(line) as { level: unknown }).level;
    return level === 'error' || level === 'fatal' || level === 50 || level === 60;
  });
}

async function table(name: string, rows = 0): Promise<string> {
  const qualified = `public.${name}`;
  await sql(`CREATE TABLE ${qualified} (id int PRIMARY KEY, pad text)`);
  if (rows > 0) await sql(`INSERT INTO ${qualified} SELECT g, repeat('x', 100) FROM generate_series(1, ${rows}) g`);
  return qualified;
}

/** Every row of the table is in its topic exactly once (read_committed). */
async function expectEveryRowOnce(name: string, qualified: string, rows: number) {
  const records = await readTopics(kafka, [`${name}.${qualified}`], (all) => changeEvents(all).length >= rows);
  const ids = changeEvents(records).map((r) => Number(r.key.id));
  expect(ids.length).toBe(rows);
  expect(new Set(ids).size).toBe(rows);
  return records;
}

/** The local broker's JVM (scripts/services.sh), paused with SIGSTOP to hold a Kafka transaction in retries. */
function kafkaPid(): number {
  const dir = process.env.TANDEM_SERVICES_DIR ?? resolve(__dirname, '..', '..', '.tandem');
  const file = join(dir, 'kafka', 'kafka.pid');
  if (!existsSync(file)) throw new Error(`this test pauses the local Kafka broker: ${file} not found (start it with scripts/services.sh)`);
  return Number(readFileSync(file, 'utf8').trim());
}

describe('capture: SIGTERM and SIGINT stop it within 10 s, exit 0, in every phase', () => {
  it('during the snapshot (SIGINT), and a restart finishes it exactly once', async () => {
    const name = uniqueName('stopsnap');
    const qualified = await table(name, 150_000);
    const config = writeConfig({ prefix: name, slot: name, publication: name, tables: [qualified], chunkSize: 1000, parallelism: 2 });
    let capture = TandemProcess.capture(config);
    try {
      await capture.waitForLog(/snapshot planned/, 120_000);
      const stopped = await stop(capture, 'SIGINT');
      expect(stopped).toEqual({ code: 0, tookMs: expect.any(Number), errorLines: [] });
      expect(stopped.tookMs).toBeLessThan(STOP_WITHIN_MS);
      capture = TandemProcess.capture(config);
      await capture.waitForLog(/streaming changes/, 180_000);
      await expectEveryRowOnce(name, qualified, 150_000);
    } finally {
      await capture.stop();
      await dropSlot(name);
    }
  });

  it.each(['SIGTERM', 'SIGINT'] as const)(
    'while streaming under a write load (%s): what was written before the signal is flushed and acknowledged; no error logged',
    async (signal) => {
      const name = uniqueName('stopstream');
      const qualified = await table(name);
      const counters = `public.${name}_load`;
      await sql(`CREATE TABLE ${counters} (id int PRIMARY KEY, counter int NOT NULL)`);
      await sql(`INSERT INTO ${counters} SELECT g, 0 FROM generate_series(1, 1000) g`);
      const capture = TandemProcess.capture(
        writeConfig({ prefix: name, slot: name, publication: name, tables: [qualified, counters] }),
      );
      let load: CounterWriteLoad | null = null;
      try {
        await capture.waitForLog(/streaming changes/, 120_000);
        // many small source transactions, each batch a Kafka commit right after the previous one
        load = new CounterWriteLoad(counters, 1_000_000, 1000);
        await new Promise((done) => setTimeout(done, 4000));
        await sql(`INSERT INTO ${qualified} SELECT g, 'x' FROM generate_series(1, 3000) g`);
        const [{ lsn }] = await sql('SELECT pg_current_wal_insert_lsn()::text AS lsn');
        // capture has been sent the insert (what is still on the wire cannot be flushed)
        await eventually(
          async () =>
            (
              await sql(
                `SELECT r.sent_lsn >= $2::pg_lsn AS sent FROM pg_stat_replication r
                   JOIN pg_replication_slots s ON s.active_pid = r.pid WHERE s.slot_name = $1`,
                [name, lsn],
              )
            )[0]?.sent === true,
          30_000,
          'the walsender to send the insert',
        );
        await new Promise((done) => setTimeout(done, 300));
        const stopped = await stop(capture, signal);
        expect(stopped).toEqual({ code: 0, tookMs: expect.any(Number), errorLines: [] });
        expect(stopped.tookMs).toBeLessThan(STOP_WITHIN_MS);
        const records = await expectEveryRowOnce(name, qualified, 3000);
        const commitLsn = Math.max(...changeEvents(records).map((r) => Number(r.value.source.commit_lsn)));
        const [slot] = await sql(
          `SELECT pg_wal_lsn_diff(confirmed_flush_lsn, '0/0')::bigint AS confirmed FROM pg_replication_slots WHERE slot_name = $1`,
          [name],
        );
        // acknowledged past the insert's commit record: PostgreSQL may recycle its WAL
        expect(Number(slot.confirmed)).toBeGreaterThan(commitLsn);
      } finally {
        await load?.stop();
        await capture.stop();
        await dropSlot(name);
      }
    },
  );

  it('in the middle of a large source transaction produced in several batches (SIGTERM)', async () => {
    const name = uniqueName('stopmidtx');
    const qualified = await table(name);
    const config = writeConfig({ prefix: name, slot: name, publication: name, tables: [qualified], maxBatchEvents: 500 });
    let capture = TandemProcess.capture(config);
    try {
      await capture.waitForLog(/streaming changes/, 120_000);
      await sql(`INSERT INTO ${qualified} SELECT g, repeat('y', 500) FROM generate_series(1, 60000) g`);
      // some batches of the transaction are in Kafka, the rest still to come
      await readTopics(kafka, [`${name}.${qualified}`], (all) => all.length >= 2000, { settleMs: 0 });
      const stopped = await stop(capture, 'SIGTERM');
      expect(stopped).toEqual({ code: 0, tookMs: expect.any(Number), errorLines: [] });
      expect(stopped.tookMs).toBeLessThan(STOP_WITHIN_MS);
      capture = TandemProcess.capture(config);
      await capture.waitForLog(/streaming changes/, 120_000);
      await expectEveryRowOnce(name, qualified, 60000);
    } finally {
      await capture.stop();
      await dropSlot(name);
    }
  });

  it('while a Kafka transaction is being retried (broker paused), and nothing is lost or doubled', async () => {
    const name = uniqueName('stopretry');
    const qualified = await table(name);
    const config = writeConfig({ prefix: name, slot: name, publication: name, tables: [qualified] });
    let capture = TandemProcess.capture(config);
    const broker = kafkaPid();
    let paused = false;
    try {
      await capture.waitForLog(/streaming changes/, 120_000);
      await sql(`INSERT INTO ${qualified} SELECT g, 'x' FROM generate_series(1, 1000) g`);
      await readTopics(kafka, [`${name}.${qualified}`], (all) => all.length >= 1000, { settleMs: 0 });
      process.kill(broker, 'SIGSTOP');
      paused = true;
      await sql(`INSERT INTO ${qualified} SELECT g, 'x' FROM generate_series(1001, 2000) g`);
      await new Promise((done) => setTimeout(done, 2000)); // the commit of these rows is under way, unanswered
      const stopped = await stop(capture, 'SIGTERM');
      process.kill(broker, 'SIGCONT');
      paused = false;
      expect(stopped.code).toBe(0);
      expect(stopped.tookMs).toBeLessThan(STOP_WITHIN_MS);
      expect(capture.output).toMatch(/read again from the slot/);
      capture = TandemProcess.capture(config);
      await capture.waitForLog(/streaming changes/, 120_000);
      await expectEveryRowOnce(name, qualified, 2000);
    } finally {
      if (paused) process.kill(broker, 'SIGCONT');
      await capture.stop();
      await eventually(async () => (await dropSlot(name), true), 30_000, 'the slot to be dropped');
    }
  });
});
