import { writeFileSync } from 'fs';
import { join } from 'path';
import { tmpdir } from 'os';
import { changeEvents, readTopics } from '../support/kafka-reader';
import { TandemProcess, writeConfig } from '../support/capture-process';
import { dropSlot, eventually, sql, testKafka, uniqueName } from '../support/services';

const kafka = testKafka();

describe('capture: start-up checks, leadership and WAL retention', () => {
  it('refuses a table with neither a primary key nor REPLICA IDENTITY FULL, naming it and the fix', async () => {
    const name = uniqueName('nokey');
    await sql(`CREATE TABLE public.${name} (a int, b text)`);
    const capture = TandemProcess.capture(writeConfig({ prefix: name, slot: name, publication: name, tables: [`public.${name}`] }));
    expect(await capture.exited).toBe(3);
    expect(capture.output).toContain(`source table public.${name} has no primary key`);
    expect(capture.output).toContain(`ALTER TABLE "public"."${name}" REPLICA IDENTITY FULL`);
  });

  it('stops an invalid configuration at start-up with the field paths and no secret', async () => {
    const file = join(tmpdir(), `${uniqueName('badconfig')}.yaml`);
    writeFileSync(
      file,
      'source: { url: "postgres://app:TopSecret42@db/legacy", tables: [users] }\nkafka: { brokers: [], topicPrefix: "bad prefix" }\n',
    );
    const capture = new TandemProcess(['capture', '--config', file], { TANDEM_SOURCE_URL: '', TANDEM_KAFKA_BROKERS: '' });
    expect(await capture.exited).toBe(2);
    expect(capture.output).toContain('source.tables.0: must be schema.table');
    expect(capture.output).toContain('kafka.brokers: list at least one broker');
    expect(capture.output).toContain('kafka.topicPrefix:');
    expect(capture.output).not.toContain('TopSecret42');
  });

  it('runs one capture per slot: a second one waits as standby and takes over within 10 s of a kill -9', async () => {
    const name = uniqueName('standby');
    const table = `public.${name}`;
    await sql(`CREATE TABLE ${table} (id int PRIMARY KEY)`);
    const config = writeConfig({ prefix: name, slot: name, publication: name, tables: [table] });
    const leader = TandemProcess.capture(config);
    let standby: TandemProcess | null = null;
    try {
      await leader.waitForLog(/streaming changes/);
      standby = TandemProcess.capture(config);
      await standby.waitForLog(/waiting as standby/);
      await sql(`INSERT INTO ${table} VALUES (1)`);
      await readTopics(kafka, [`${name}.${table}`], (all) => all.length >= 1, { settleMs: 0 });
      await leader.kill9();
      const killedAt = Date.now();
      await standby.waitForLog(/streaming changes/, 10_000);
      expect(Date.now() - killedAt).toBeLessThan(10_000);
      await sql(`INSERT INTO ${table} VALUES (2)`);
      const records = await readTopics(kafka, [`${name}.${table}`], (all) => all.some((r) => r.key?.id === 2));
      expect(changeEvents(records).map((r) => r.key.id).sort()).toEqual([1, 2]);
    } finally {
      await leader.stop();
      await standby?.stop();
      await dropSlot(name);
    }
  });

  it('keeps the slot moving on an idle or filtered database with heartbeats', async () => {
    const name = uniqueName('idle');
    const captured = `public.${name}`;
    const other = `public.${name}_other`;
    await sql(`CREATE TABLE ${captured} (id int PRIMARY KEY)`);
    await sql(`CREATE TABLE ${other} (id serial PRIMARY KEY, pad text)`);
    const capture = TandemProcess.capture(
      writeConfig({ prefix: name, slot: name, publication: name, tables: [captured], heartbeatIntervalMs: 500 }),
    );
    try {
      await capture.waitForLog(/streaming changes/);
      for (let i = 0; i < 20; i++) await sql(`INSERT INTO ${other} (pad) SELECT repeat('x', 1000) FROM generate_series(1, 500)`);
      const [{ lsn }] = await sql('SELECT pg_current_wal_lsn()::text AS lsn');
      await eventually(
        async () => (await sql('SELECT confirmed_flush_lsn >= $1::pg_lsn AS passed FROM pg_replication_slots WHERE slot_name = $2', [lsn, name]))[0]?.passed,
        30_000,
        'the slot to confirm past writes to a table it does not capture',
      );
      const heartbeats = await readTopics(kafka, [`__tandem_heartbeat.${name}`], (all) => all.length >= 1, { settleMs: 0 });
      expect(heartbeats[0].value).toMatchObject({ lsn: expect.stringMatching(/^[0-9A-F]+\/[0-9A-F]+$/) });
    } finally {
      await capture.stop();
      await dropSlot(name);
    }
  });

  it('stops with a clear error when its slot was dropped behind its back', async () => {
    const name = uniqueName('dropped');
    const table = `public.${name}`;
    await sql(`CREATE TABLE ${table} (id int PRIMARY KEY)`);
    const config = writeConfig({ prefix: name, slot: name, publication: name, tables: [table] });
    const first = TandemProcess.capture(config);
    await first.waitForLog(/streaming changes/);
    expect(await first.stop()).toBe(0);
    await dropSlot(name);
    const second = TandemProcess.capture(config);
    expect(await second.exited).toBe(4);
    expect(second.output).toContain(`replication slot "${name}" no longer exists`);
    expect(second.output).toContain('A re-snapshot is needed');
  });
});
