import { mkdtempSync, readFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { Client } from 'pg';
import { TandemProcess, writeConfig } from '../support/capture-process';
import { createTargetDatabase, targetQuery } from '../support/target-db';
import { dropSlot, eventually, sql, testKafka, uniqueName } from '../support/services';
import { summarize } from '../../src/modules/replay/schema-ops';
import { formatLsn } from '../../src/shared/lsn';

/** tandem replay / backup / rollback on the users recipe. */
describe('replay: users', () => {
  const name = uniqueName('replay');
  const schema = name;
  let target: Awaited<ReturnType<typeof createTargetDatabase>>;
  let config: string;
  let capture: TandemProcess;
  let projector: TandemProcess | null = null;
  /** The projection's state and position before the later writes. */
  let past: { hash: string; lsn: string; offsets: Record<string, string> };
  let present: { hash: string };

  const tandem = async (...args: string[]) => {
    const run = new TandemProcess([...args, '--config', config, '--json', ...(args[1] === 'list' ? [] : ['--operator', 'bob'])]);
    const code = await run.exited;
    let json: any = null;
    try {
      json = JSON.parse(run.stdout);
    } catch {
      // refusals print their reason on stderr
    }
    return { code, json, output: run.output };
  };
  const stateHash = async () => {
    const client = new Client({ connectionString: target.url });
    await client.connect();
    try {
      return (await summarize(client, 'users')).hash;
    } finally {
      await client.end();
    }
  };
  const projected = (where: string, n: number) =>
    eventually(async () => Number((await targetQuery(target.url, `SELECT count(*) AS n FROM users.users WHERE ${where}`))[0].n) === n, 60_000, `${n} users (${where})`);
  const stopProjector = async () => {
    await projector?.stop();
    projector = null;
    const admin = testKafka().admin();
    await admin.connect();
    await eventually(async () => (await admin.describeGroups([`tandem-projection.${name}.users`])).groups[0].members.length === 0, 30_000, 'an empty group');
    await admin.disconnect();
  };

  beforeAll(async () => {
    target = await createTargetDatabase('replay');
    await sql(`CREATE SCHEMA ${schema}`);
    await sql(`CREATE TABLE ${schema}.auth_users (id text PRIMARY KEY, email text NOT NULL, display_name text, instance_name text,
               raw_user_meta_data jsonb, encrypted_password text, created_at timestamptz NOT NULL DEFAULT now())`);
    await sql(`INSERT INTO ${schema}.auth_users (id, email, display_name)
               SELECT gen_random_uuid()::text, 'user' || g || '@example.com', 'User ' || g FROM generate_series(1, 1000) g`);
    config = writeConfig({ prefix: name, slot: name, publication: name, tables: [`${schema}.auth_users`], targetUrl: target.url, projections: [{ recipe: 'users', sourceSchema: schema }] });
    capture = TandemProcess.capture(config);
    await capture.waitForLog(/streaming changes/);
    projector = TandemProcess.project(config);
    await projected('true', 1000);
    const checkpoints = await targetQuery(target.url, `SELECT topic, partition, "offset"::text, commit_lsn::text FROM tandem.checkpoints WHERE projection = 'users'`);
    past = {
      hash: await stateHash(),
      lsn: formatLsn(checkpoints.reduce((max, c) => (BigInt(c.commit_lsn) > max ? BigInt(c.commit_lsn) : max), 0n)),
      offsets: Object.fromEntries(checkpoints.map((c) => [`${c.topic}#${c.partition}`, c.offset])),
    };
    // later writes: 50 updates, 20 deletes, 30 inserts
    await sql(`UPDATE ${schema}.auth_users SET display_name = 'Changed ' || email WHERE email IN (SELECT 'user' || g || '@example.com' FROM generate_series(1, 50) g)`);
    await sql(`DELETE FROM ${schema}.auth_users WHERE email IN (SELECT 'user' || g || '@example.com' FROM generate_series(101, 120) g)`);
    await sql(`INSERT INTO ${schema}.auth_users (id, email) SELECT gen_random_uuid()::text, 'late' || g || '@example.com' FROM generate_series(1, 30) g`);
    await projected('true', 1010);
    await projected(`name LIKE 'Changed %'`, 50);
    present = { hash: await stateHash() };
    expect(present.hash).not.toBe(past.hash);
  });

  afterAll(async () => {
    await projector?.stop();
    await capture?.stop();
    await dropSlot(name);
    await target?.drop();
  });

  it('refuses while the projector runs', async () => {
    const { code, output } = await tandem('replay', '--projection', 'users', '--to', `lsn:${past.lsn}`);
    expect(code).toBe(9);
    expect(output).toMatch(/projection users is running .*stop tandem project first/);
  });

  it('replays to a past LSN: state hash-equal to the snapshot, swapped atomically under a concurrent reader; the backup restores', async () => {
    await stopProjector();
    const dry = await tandem('replay', '--projection', 'users', '--to', `lsn:${past.lsn}`, '--dry-run');
    expect(dry).toMatchObject({ code: 0 }); // on failure, the output says why
    expect(dry.json).toMatchObject({ dryRun: true, eventsApplied: 1000, backupId: null, offsets: past.offsets });
    expect(await stateHash()).toBe(present.hash);

    let reading = true;
    const seen = { queries: 0, errors: [] as string[], zero: 0 };
    const reader = (async () => {
      const client = new Client({ connectionString: target.url });
      await client.connect();
      while (reading) {
        try {
          const { rows } = await client.query('SELECT (SELECT count(*) FROM users.users)::int AS users, (SELECT count(*) FROM users.user_migration_map)::int AS mapped');
          seen.queries++;
          if (rows[0].users === 0 || rows[0].mapped === 0) seen.zero++;
        } catch (error) {
          seen.errors.push((error as Error).message);
        }
      }
      await client.end();
    })();
    const started = Date.now();
    const replay = await tandem('replay', '--projection', 'users', '--to', `lsn:${past.lsn}`);
    process.stdout.write(`replay to lsn:${past.lsn} took ${Date.now() - started} ms (in-process ${replay.json?.durationMs} ms)\n`);
    reading = false;
    await reader;
    expect(replay).toMatchObject({ code: 0 }); // on failure, the output says why
    expect(replay.json).toMatchObject({ eventsApplied: 1000, offsets: past.offsets, state: { hash: past.hash }, backupId: expect.any(Number) });
    expect(await stateHash()).toBe(past.hash);
    expect(seen).toMatchObject({ errors: [], zero: 0 });
    expect(seen.queries).toBeGreaterThan(10);
    const checkpoints = await targetQuery(target.url, `SELECT topic || '#' || partition AS id, "offset"::text FROM tandem.checkpoints WHERE projection = 'users'`);
    expect(Object.fromEntries(checkpoints.map((c) => [c.id, c.offset]))).toEqual(past.offsets);

    const list = await tandem('backup', 'list');
    expect(list.json).toEqual([expect.objectContaining({ id: replay.json.backupId, kind: 'replay', operator: 'bob', present: true })]);
    const restore = await tandem('backup', 'restore', String(replay.json.backupId));
    expect(restore).toMatchObject({ code: 0 }); // on failure, the output says why
    expect(await stateHash()).toBe(present.hash);
    const [{ n }] = await targetQuery(target.url, `SELECT count(*)::int AS n FROM pg_namespace WHERE nspname LIKE 'users\\_\\_shadow%'`);
    expect(n).toBe(0);
    const audit = await targetQuery(target.url, `SELECT action, operator FROM tandem.operator_audit ORDER BY id`);
    expect(audit.map((a) => a.action)).toEqual(['replay.dry-run', 'replay.swap', 'replay', 'restore.swap', 'backup.restore']);
    expect(new Set(audit.map((a) => a.operator))).toEqual(new Set(['bob']));
  });

  it('rolls back to a cutover: its state again, and exactly the post-cutover events exported', async () => {
    const [cutover] = await targetQuery(
      target.url,
      `INSERT INTO tandem.cutovers (state, projections, application_roles, operator, offsets, committed_at) VALUES ('committed', '{users}', '{app}', 'bob', $1, now()) RETURNING id`,
      [JSON.stringify({ users: past.offsets })],
    );
    const file = join(mkdtempSync(join(tmpdir(), 'tandem-rollback-')), 'after.jsonl');
    const rollback = await tandem('rollback', '--cutover', String(cutover.id), '--export', file);
    expect(rollback).toMatchObject({ code: 0 }); // on failure, the output says why
    expect(rollback.json[0]).toMatchObject({ offsets: past.offsets, state: { hash: past.hash }, exported: 120 });
    expect(await stateHash()).toBe(past.hash);
    const events = readFileSync(file, 'utf8').trim().split('\n').map((line) => JSON.parse(line));
    expect(events).toHaveLength(120);
    for (const event of events) expect(BigInt(event.offset)).toBeGreaterThan(BigInt(past.offsets[`${event.topic}#${event.partition}`] ?? -1));
    const ops = events.reduce<Record<string, number>>((acc, e) => ({ ...acc, [e.value?.op ?? 'tombstone']: (acc[e.value?.op ?? 'tombstone'] ?? 0) + 1 }), {});
    expect(ops).toEqual({ u: 50, d: 20, tombstone: 20, c: 30 });
    const [replay] = await targetQuery(target.url, `SELECT kind, status, events_exported, operator FROM tandem.replays WHERE id = $1`, [rollback.json[0].id]);
    expect(replay).toMatchObject({ kind: 'rollback', status: 'swapped', events_exported: '120', operator: 'bob' });
  });
});
