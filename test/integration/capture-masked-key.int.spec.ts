import { createHmac } from 'crypto';
import { readFileSync, writeFileSync } from 'fs';
import { Client } from 'pg';
import { parse, stringify } from 'yaml';
import { changeEvents, readTopics, type ReadRecord } from '../support/kafka-reader';
import { TandemProcess, writeConfig, type CaptureTestConfig } from '../support/capture-process';
import { foldCounterEvents } from '../support/write-load';
import { foldBackfilledCounters, listBackfills, waitForBackfill } from '../support/backfill';
import { dropSlot, env, sql, testKafka, uniqueName } from '../support/services';
import { loadConfig } from '../../src/modules/config/load-config';
import { StatusService } from '../../src/modules/status/status.service';
import { captureNames } from '../../src/contracts/names';
import { createLogger } from '../../src/shared/logger';

const kafka = testKafka();
const KEY = 'mask-key-for-tests-0123456789abcdef';
const KEY_ENV = { TANDEM_TEST_MASK_KEY: KEY };
/** Every clear key value ends so: found anywhere in Kafka, a log or the status, it leaked. */
const CLEAR = '@secret.test';
const email = (n: number) => `u${String(n).padStart(7, '0')}${CLEAR}`;
const hmac = (text: string) => createHmac('sha256', Buffer.from(KEY)).update(text).digest('hex');
const SENTINEL = `sentinel${CLEAR}`;

/** A capture config whose table's primary key (email) is masked. */
function maskedConfig(config: CaptureTestConfig, table: string): string {
  const file = writeConfig(config);
  const raw = parse(readFileSync(file, 'utf8'));
  raw.source.columns = { [table]: { mask: ['email'] } };
  raw.source.maskKeyEnv = 'TANDEM_TEST_MASK_KEY';
  writeFileSync(file, stringify(raw));
  return file;
}

const capture = (file: string) => new TandemProcess(['capture', '--config', file], KEY_ENV);

/**
 * Writes on a table keyed by a masked e-mail: counter increments (each by exactly one), inserts of
 * new keys and a few deletes, so that every change must reach Kafka once (see foldCounterEvents).
 */
class MaskedKeyLoad {
  private running = true;
  private readonly done: Promise<void>;
  writes = 0;

  constructor(
    private readonly table: string,
    private readonly existing: number,
    private next: number,
  ) {
    this.done = this.loop();
  }

  private async loop(): Promise<void> {
    const client = new Client({ connectionString: env.sourceUrl() });
    await client.connect();
    try {
      while (this.running) {
        const roll = Math.random();
        const old = email(1 + Math.floor(Math.random() * this.existing));
        await client.query('BEGIN');
        if (roll < 0.7) await client.query(`UPDATE ${this.table} SET counter = counter + 1 WHERE email = ANY($1)`, [[old, email(this.next - 1)]]);
        else if (roll < 0.95) await client.query(`INSERT INTO ${this.table} (email, counter) VALUES ($1, 0)`, [email(this.next++)]);
        else await client.query(`DELETE FROM ${this.table} WHERE email = $1`, [old]);
        await client.query('COMMIT');
        this.writes += 1;
      }
    } finally {
      await client.end();
    }
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.done;
  }
}

async function createTable(table: string, rows: number): Promise<void> {
  await sql(`CREATE TABLE ${table} (email text PRIMARY KEY, counter int NOT NULL, pad text)`);
  await sql(`INSERT INTO ${table} SELECT 'u' || lpad(g::text, 7, '0') || $1, 0, repeat('x', 100) FROM generate_series(1, $2::int) g`, [CLEAR, rows]);
}

/** The table as a consumer of the masked events must rebuild it: counter by hashed key. */
async function tableState(table: string): Promise<Map<string, number>> {
  const rows = await sql(`SELECT email, counter FROM ${table} WHERE email <> $1`, [SENTINEL]);
  return new Map(rows.map((row) => [hmac(row.email), row.counter]));
}

/** The events up to a sentinel row, keyed by their (hashed) key as the fold helpers expect, and the raw records. */
async function eventsUntilSentinel(table: string, topic: string) {
  await sql(`INSERT INTO ${table} (email, counter) VALUES ($1, -1)`, [SENTINEL]);
  const records = await readTopics(kafka, [topic], (all) => all.some((r) => r.key?.email === hmac(SENTINEL)), { timeoutMs: 180_000 });
  const events = changeEvents(records)
    .filter((r) => r.key.email !== hmac(SENTINEL))
    .map((r) => ({ key: { id: r.key.email }, value: r.value }));
  return events as unknown as Array<Parameters<typeof foldCounterEvents>[0][number] & Parameters<typeof foldBackfilledCounters>[0][number]>;
}

/** Every record of the topics as Kafka holds its bytes (key and value as text). */
function rawRecords(topics: string[], done: (records: ReadRecord[]) => boolean) {
  return readTopics(kafka, topics, done, { raw: true, timeoutMs: 60_000, settleMs: 500 });
}

/** Everything capture wrote or shows outside the source table: no clear key value may be in any of it. */
async function assertNoClearKeys(name: string, file: string, topic: string, processes: TandemProcess[]): Promise<ReadRecord[]> {
  const { stateTopic, stateKey } = captureNames(name, name);
  const ownState = (r: ReadRecord) => r.key === stateKey;
  const changes = await rawRecords([topic], (all) => all.length > 0);
  const state = (await rawRecords([stateTopic], (all) => all.some(ownState))).filter(ownState);
  for (const record of [...changes, ...state]) expect(`${record.key} ${record.value}`).not.toContain(CLEAR);
  for (const process of processes) expect(process.output).not.toContain(CLEAR);
  const config = loadConfig(file, {});
  const status = new StatusService(config, createLogger('status-test', 'silent'));
  try {
    expect(JSON.stringify(await status.read())).not.toContain(CLEAR);
  } finally {
    await status.close();
  }
  expect(JSON.stringify(await listBackfills(config))).not.toContain(CLEAR);
  const signals = await sql(`SELECT id, data::text, progress::text FROM public.tandem_signal`);
  expect(JSON.stringify(signals)).not.toContain(CLEAR);
  expect(JSON.stringify(await sql('SELECT * FROM pg_replication_slots WHERE slot_name = $1', [name]))).not.toContain(CLEAR);
  return state;
}

describe('capture of a table whose primary key is masked: resume points hold the key only encrypted', () => {
  it('resumes a snapshot killed mid-way under writes: nothing lost or doubled, no clear key in Kafka, logs or status', async () => {
    const name = uniqueName('mkey_snap');
    const table = `public.${name}`;
    const topic = `${name}.${table}`;
    await createTable(table, 30000);
    const file = maskedConfig({ prefix: name, slot: name, publication: name, tables: [table], chunkSize: 2000, parallelism: 1 }, table);
    const load = new MaskedKeyLoad(table, 30000, 1_000_000);
    const first = capture(file);
    let second: TandemProcess | null = null;
    try {
      await readTopics(kafka, [topic], (all) => all.length >= 6000, { settleMs: 0 });
      await first.kill9();
      const atKill = load.writes;
      second = capture(file);
      await second.waitForLog(/resuming the snapshot/);
      await second.waitForLog(/streaming changes/);
      // Writes between the kill and the resumed chunks' reads, and while streaming: the stream must skip
      // exactly the changes the resumed chunks already hold (their bounds compared in clear, in memory).
      while (load.writes < atKill + 100) await new Promise((resolve) => setTimeout(resolve, 100));
      await load.stop();
      const events = await eventsUntilSentinel(table, topic);
      const { state, violations } = foldCounterEvents(events);
      expect(violations).toEqual([]);
      expect(state).toEqual(await tableState(table));
      const stateRecords = await assertNoClearKeys(name, file, topic, [first, second]);
      // The resume points were there, sealed: the check above is not vacuous.
      expect(stateRecords.some((r) => /"upper":\{"sealed":"v1\./.test(r.value))).toBe(true);
    } finally {
      await load.stop();
      await first.stop();
      await second?.stop();
      await dropSlot(name);
    }
  });

  it('resumes a backfill killed mid-way under writes at its last finished chunk: nothing lost or doubled, no clear key anywhere', async () => {
    const name = uniqueName('mkey_bf');
    const table = `public.${name}`;
    const other = `public.${name}_other`;
    const topic = `${name}.${table}`;
    await sql(`CREATE TABLE ${other} (id int PRIMARY KEY)`);
    await createTable(table, 20000);
    const base = { prefix: name, slot: name, publication: name, chunkSize: 1000, parallelism: 1 };
    const processes: TandemProcess[] = [];
    const start = (file: string) => {
      processes.push(capture(file));
      return processes[processes.length - 1];
    };
    let running = start(writeConfig({ ...base, tables: [other] }));
    const withTable = maskedConfig({ ...base, tables: [other, table] }, table);
    const config = loadConfig(withTable, {});
    const load = new MaskedKeyLoad(table, 20000, 1_000_000);
    try {
      await running.waitForLog(/streaming changes/);
      expect(await running.stop()).toBe(0);
      running = start(withTable);
      await running.waitForLog(/backfilling it while streaming/);
      await waitForBackfill(config, (b) => b.table === table, (b) => b.chunksDone >= 4);
      await running.kill9();
      running = start(withTable);
      await running.waitForLog(/streaming changes/);
      const done = await waitForBackfill(config, (b) => b.table === table, (b) => b.status === 'done');
      expect(done.rowsRead).toBeGreaterThanOrEqual(20000 - 4000);
      await load.stop();
      const events = await eventsUntilSentinel(table, topic);
      const { state, violations, reads } = foldBackfilledCounters(events);
      expect(violations).toEqual([]);
      expect(state).toEqual(await tableState(table));
      expect(reads).toBeGreaterThan(15000);
      const stateRecords = await assertNoClearKeys(name, withTable, topic, processes);
      expect(stateRecords.some((r) => /"lastKey":\{"sealed":"v1\./.test(r.value))).toBe(true);
    } finally {
      await load.stop();
      for (const process of processes) await process.stop();
      await dropSlot(name);
    }
  });
});
