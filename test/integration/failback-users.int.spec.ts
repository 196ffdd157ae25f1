import { randomBytes, randomUUID } from 'crypto';
import { readFileSync, writeFileSync } from 'fs';
import { parse, stringify } from 'yaml';
import { writeConfig } from '../support/capture-process';
import { createTargetDatabase, targetQuery, targetQuery as targetQueryAs } from '../support/target-db';
import { dropSlot, env, eventually, sql, testKafka, uniqueName } from '../support/services';
import { failbackState } from '../support/failback';
import { loadConfig } from '../../src/modules/config/load-config';
import type { TandemConfig } from '../../src/modules/config/config.schema';
import { createLogger } from '../../src/shared/logger';
import { CaptureService } from '../../src/modules/capture/capture.service';
import { ProjectionService } from '../../src/modules/projection/projection.service';
import { CutoverService } from '../../src/modules/cutover/cutover.service';
import { FailbackService } from '../../src/modules/failback/failback.service';
import { ReconciliationService } from '../../src/modules/reconciliation/reconciliation.service';
import { rollbackThroughFailback } from '../../src/modules/failback/failback-rollback';
import { StatusService } from '../../src/modules/status/status.service';
import { renderStatus } from '../../src/modules/status/status.render';
import { TandemMetrics } from '../../src/modules/metrics/tandem-metrics';

/**
 * Failback of the users recipe, in process on the real services: cutover commit prepares it, the
 * application writes to the target, the legacy auth_users table receives every write through the
 * inverse, and forward capture (running the whole time) produces no event for them.
 */
describe('failback: users', () => {
  const name = uniqueName('fb');
  const schema = name;
  const role = `${name}_app`;
  const newRole = `${name}_new`; // the application on the target
  const logger = createLogger('test', process.env.TEST_LOG_LEVEL ?? 'warn');
  let target: Awaited<ReturnType<typeof createTargetDatabase>>;
  let config: TandemConfig;
  let capture: CaptureService;
  let captureRun: Promise<void>;
  let projector: ProjectionService;
  let failback: FailbackService;
  let failbackRun: Promise<void> | null = null;
  let cutoverId: number;

  const forwardTopic = () => `${name}.${schema}.auth_users`;
  const endOffsets = async (topic: string) => {
    const admin = testKafka().admin();
    await admin.connect();
    try {
      return (await admin.fetchTopicOffsets(topic)).map((o) => `${o.partition}:${o.high}`).join(',');
    } finally {
      await admin.disconnect();
    }
  };
  /** The application, now on the target: one transaction. */
  const appTarget = (text: string, values: unknown[] = []) => targetQuery(target.url, text, values);
  const legacyUser = async (id: string) => (await sql(`SELECT * FROM ${schema}.auth_users WHERE id = $1`, [id]))[0];

  beforeAll(async () => {
    target = await createTargetDatabase('fb');
    await sql(`CREATE SCHEMA ${schema}`);
    await sql(`CREATE TABLE ${schema}.auth_users (id text PRIMARY KEY, email text NOT NULL, display_name text, instance_name text,
               raw_user_meta_data jsonb, encrypted_password text, created_at timestamptz NOT NULL DEFAULT now())`);
    await sql(`INSERT INTO ${schema}.auth_users (id, email, display_name, encrypted_password)
               SELECT gen_random_uuid()::text, 'user' || g || '@example.com', 'User ' || g, 'hash' || g FROM generate_series(1, 200) g`);
    await sql(`CREATE ROLE ${role} LOGIN PASSWORD 'app'`);
    await sql(`GRANT USAGE ON SCHEMA ${schema} TO ${role}`);
    await sql(`GRANT SELECT, INSERT, UPDATE, DELETE ON ${schema}.auth_users TO ${role}`);
    await sql(`CREATE ROLE ${newRole} LOGIN PASSWORD 'new'`);
    const file = writeConfig({
      prefix: name,
      slot: name,
      publication: name,
      tables: [`${schema}.auth_users`],
      targetUrl: target.url,
      projections: [{ recipe: 'users', sourceSchema: schema }],
    });
    writeFileSync(file, stringify({ ...parse(readFileSync(file, 'utf8')), cutover: { applicationRoles: [role] }, failback: { applicationRoles: [newRole], maxLagRecords: 5 } }));
    config = loadConfig(file, {}); // the file names this suite's own target database
    capture = new CaptureService(config, logger);
    captureRun = capture.run();
    let captureFailure: Error | null = null;
    captureRun.catch((error: Error) => (captureFailure = error));
    // as the CLI tests do: the projector starts once capture created its topics and streams
    await eventually(async () => {
      if (captureFailure) throw captureFailure;
      return capture.status().role === 'streaming';
    }, 60_000, 'capture streaming');
    projector = new ProjectionService(config, logger);
    await projector.start();
    await eventually(
      async () => {
        if (captureFailure) throw captureFailure;
        return Number((await appTarget('SELECT count(*) AS n FROM users.users'))[0].n) === 200;
      },
      60_000,
      '200 users projected',
    );
  });

  afterAll(async () => {
    await failback?.stop().catch(() => undefined);
    await failbackRun?.catch(() => undefined);
    if ((await failback?.record(cutoverId).catch(() => null))?.state === 'active') await failback.end(cutoverId).catch(() => undefined);
    await failback?.close().catch(() => undefined);
    await projector?.stop();
    await capture?.stop();
    await captureRun?.catch(() => undefined);
    await dropSlot(name);
    await sql(`ALTER ROLE ${role} RESET ALL`).catch(() => undefined);
    await sql(`DROP OWNED BY ${role}`).catch(() => undefined);
    await sql(`DROP ROLE IF EXISTS ${role}`).catch(() => undefined);
    await target?.drop();
    for (const r of [newRole]) {
      await sql(`ALTER ROLE ${r} RESET ALL`).catch(() => undefined);
      await sql(`DROP ROLE IF EXISTS ${r}`).catch(() => undefined);
    }
  });

  it('cutover commit prepares failback: the target slot and publication exist before the switch', async () => {
    const cutovers = new CutoverService(config, logger);
    try {
      const planned = await cutovers.plan({ operator: 'alice' });
      await cutovers.start(planned.cutover.id, { operator: 'alice' });
      const committed = await cutovers.commit(planned.cutover.id, { operator: 'alice' });
      expect(committed.state).toBe('committed');
      cutoverId = committed.id;
    } finally {
      await cutovers.close();
    }
    await appTarget(`GRANT USAGE ON SCHEMA users TO ${newRole}; GRANT SELECT, INSERT, UPDATE, DELETE ON users.users TO ${newRole}`);
    const [slot] = await appTarget(`SELECT slot_name, plugin FROM pg_replication_slots WHERE slot_name = $1`, [`${name}_failback`]);
    expect(slot).toMatchObject({ plugin: 'pgoutput' });
    const published = await appTarget('SELECT schemaname, tablename FROM pg_publication_tables WHERE pubname = $1', [`${name}_failback`]);
    expect(published).toEqual([{ schemaname: 'users', tablename: 'users' }]);
    const [fb] = await appTarget('SELECT state, projections FROM tandem.failbacks WHERE cutover_id = $1', [cutoverId]);
    expect(fb).toEqual({ state: 'active', projections: ['users'] });
  });

  it('carries the application’s target writes back to legacy, and forward capture emits nothing for them', async () => {
    const forwardBefore = await endOffsets(forwardTopic());
    // Written before failback runs: the slot created inside the commit keeps them.
    const newId = randomUUID();
    await appTarget(
      `INSERT INTO users.users (id, source_user_id, email, name, instance_name, status, meta, created_at)
       VALUES ($1, $1, 'new@example.com', 'New Person', 'root', 'active', '{"plan":"pro"}', now())`,
      [newId],
    );
    failback = new FailbackService(config, logger);
    failbackRun = failback.run(await failback.record(cutoverId));
    failbackRun.catch(() => undefined); // ends with an error when the rollback drops its slot

    const [renamed] = await appTarget(`UPDATE users.users SET name = 'Renamed', email = 'renamed@example.com' WHERE email = 'user1@example.com' RETURNING source_user_id`);
    const [deleted] = await appTarget(`DELETE FROM users.users WHERE email = 'user2@example.com' RETURNING source_user_id`);
    const big = randomBytes(12_000).toString('base64'); // incompressible: stored out of line (TOAST)
    const [toasted] = await appTarget(`UPDATE users.users SET meta = jsonb_build_object('blob', $1::text) WHERE email = 'user3@example.com' RETURNING source_user_id`, [big]);
    // An update that leaves the TOASTed value unchanged
    await appTarget(`UPDATE users.users SET name = 'Big Meta' WHERE email = 'user3@example.com'`);

    await eventually(
      async () => (await legacyUser(String(toasted.source_user_id)))?.display_name === 'Big Meta',
      180_000, // includes failback's start (slot, consumer group): a minute was not enough at load ~40
      'the writes in legacy',
      () => failbackState(failback, cutoverId),
    );
    expect(await legacyUser(newId)).toMatchObject({ email: 'new@example.com', display_name: 'New Person', raw_user_meta_data: { plan: 'pro' }, encrypted_password: null });
    expect(await legacyUser(String(renamed.source_user_id))).toMatchObject({ email: 'renamed@example.com', display_name: 'Renamed', encrypted_password: 'hash1' });
    expect(await legacyUser(String(deleted.source_user_id))).toBeUndefined();
    expect(await legacyUser(String(toasted.source_user_id))).toMatchObject({ raw_user_meta_data: { blob: big }, encrypted_password: 'hash3' });

    // Forward capture read past the failback writes (its slot confirmed the legacy's current LSN)…
    const [{ lsn }] = await sql('SELECT pg_current_wal_lsn()::text AS lsn');
    await eventually(
      async () => (await sql(`SELECT confirmed_flush_lsn >= $2::pg_lsn AS ok FROM pg_replication_slots WHERE slot_name = $1`, [name, lsn]))[0]?.ok,
      30_000,
      'forward capture past the failback writes',
    );
    // …and produced no event for them.
    expect(await endOffsets(forwardTopic())).toBe(forwardBefore);

    // The other way round: a write that comes from legacy (here a maintenance session the cutover
    // did not freeze) is applied to the target by the projector, marked with its replication origin,
    // and failback capture does not send it back.
    const failbackBefore = await endOffsets(`${name}.failback.users.users`);
    const fromLegacy = randomUUID();
    await sql(`INSERT INTO ${schema}.auth_users (id, email, display_name) VALUES ($1, 'from-legacy@example.com', 'From Legacy')`, [fromLegacy]);
    await eventually(async () => (await appTarget('SELECT 1 FROM users.users WHERE source_user_id = $1', [fromLegacy])).length === 1, 30_000, 'the legacy write projected');
    const [{ lsn: targetLsn }] = await appTarget('SELECT pg_current_wal_lsn()::text AS lsn');
    await eventually(
      async () => (await appTarget(`SELECT confirmed_flush_lsn >= $2::pg_lsn AS ok FROM pg_replication_slots WHERE slot_name = $1`, [`${name}_failback`, targetLsn]))[0]?.ok,
      30_000,
      'failback capture past the projector write',
    );
    expect(await endOffsets(`${name}.failback.users.users`)).toBe(failbackBefore);
    const [marked] = await appTarget('SELECT roname FROM pg_replication_origin WHERE roname = $1', [`tandem_failback.${name}.failback.projector.users`]);
    expect(marked).toBeDefined();

    // tandem status and /metrics show the failback and its lag
    const status = new StatusService(config, logger);
    try {
      const read = await eventually(async () => {
        const current = await status.read();
        return current.failback?.caughtUp ? current : undefined;
      }, 30_000, 'failback caught up in tandem status');
      expect(read.failback).toMatchObject({ cutoverId, slot: { active: true }, projections: [{ projection: 'users', behindRecords: 0, quarantined: 0 }] });
      expect(renderStatus(read)).toMatch(/failback of cutover #\d+: capture streaming.*caught up/);
      const metrics = new TandemMetrics();
      metrics.observe(read);
      expect(await metrics.registry.metrics()).toMatch(/tandem_failback_lag_records\{projection="users"\} 0/);
    } finally {
      await status.close();
    }

    const reconciliation = new ReconciliationService(config, logger);
    const [report] = await reconciliation.run({ projection: 'users', threshold: 0 });
    expect(report.verdict === 'PASS' ? 'PASS' : JSON.stringify(report.tables)).toBe('PASS');
  });

  it('shows the lag while records wait, refuses rollback meanwhile, and applies each change once across a restart', async () => {
    await failback.stop();
    await failbackRun;
    await failback.close();
    await appTarget(`UPDATE users.users SET name = name || ' (2)' WHERE email LIKE 'user1_@example.com'`); // user10..user19
    // failback capture alone: the ten changes wait in the failback topic, not applied to legacy
    failback = new FailbackService(config, logger);
    failbackRun = failback.run(await failback.record(cutoverId), { capture: true, apply: false });
    failbackRun.catch(() => undefined);
    const lag = await eventually(async () => {
      const read = await failback.readLag(cutoverId);
      return read.slot.active && read.projections[0].behindRecords >= 10 ? read : undefined;
    }, 120_000, 'ten records waiting in the failback topic');
    expect(lag.caughtUp).toBe(false);
    const status = new StatusService(config, logger);
    try {
      const read = await status.read();
      const behind = read.failback!.projections[0].behindRecords;
      expect([read.failback!.caughtUp, behind >= 10]).toEqual([false, true]);
      expect(renderStatus(read)).toContain(`failback of cutover #${cutoverId}: capture streaming`);
      expect(renderStatus(read)).toContain(`users: ${behind} records to apply to legacy`);
      const metrics = new TandemMetrics();
      metrics.observe(read);
      expect(await metrics.registry.metrics()).toContain(`tandem_failback_lag_records{projection="users"} ${behind}`);
    } finally {
      await status.close();
    }
    // rollback refuses while failback lags more than maxLagRecords (5), and freezes nothing
    await expect(rollbackThroughFailback(failback, config, logger, cutoverId, { operator: 'alice' })).rejects.toThrow(
      /^rollback: failback lags \d+ records behind the target \(more than failback.maxLagRecords 5\)/,
    );
    const [{ frozen }] = await appTarget(`SELECT count(*)::int AS frozen FROM pg_db_role_setting s JOIN pg_roles r ON r.oid = s.setrole WHERE r.rolname = $1`, [newRole]);
    expect(frozen).toBe(0);
    expect((await failback.record(cutoverId)).state).toBe('active');
    await failback.stop();
    await failbackRun;
    await failback.close();

    failback = new FailbackService(config, logger);
    failbackRun = failback.run(await failback.record(cutoverId));
    failbackRun.catch(() => undefined); // ends with an error when the rollback drops its slot
    await eventually(
      async () => Number((await sql(`SELECT count(*) AS n FROM ${schema}.auth_users WHERE display_name LIKE '% (2)'`))[0].n) === 10,
      60_000,
      'ten renamed users in legacy',
    );
    const [{ n }] = await sql(`SELECT count(*) AS n FROM ${schema}.auth_users WHERE display_name LIKE '% (2) (2)'`);
    expect(Number(n)).toBe(0);
    const [{ total }] = await sql(`SELECT count(*) AS total FROM ${schema}.auth_users`);
    expect(Number(total)).toBe(201); // 200 + 1 inserted − 1 deleted in the target, + 1 written in legacy
  });

  it('rolls back: freezes the target, drains failback, reconciles both ways, and gives the legacy application its writes back', async () => {
    const [last] = await appTarget(`UPDATE users.users SET name = 'Last Write' WHERE email = 'user4@example.com' RETURNING source_user_id`);
    await eventually(async () => (await failback.readLag(cutoverId)).caughtUp, 120_000, 'failback caught up'); // 30 s was not enough at load ~35
    const rolledBack = await rollbackThroughFailback(failback, config, logger, cutoverId, { operator: 'alice' });
    expect(rolledBack).toMatchObject({ state: 'rolled-back', rollback: { operator: 'alice', freezeLsn: expect.stringMatching(/\//) } });
    process.stdout.write(`rollback of cutover ${cutoverId}: write-freeze window ${String(rolledBack.rollback!.freezeWindowMs)} ms\n`);
    expect((await legacyUser(String(last.source_user_id))).display_name).toBe('Last Write');

    // the legacy application writes again; the new one is read-only
    const legacyApp = new URL(env.sourceUrl());
    legacyApp.username = role;
    legacyApp.password = 'app';
    const backId = randomUUID();
    await targetQueryAs(legacyApp.toString(), `INSERT INTO ${schema}.auth_users (id, email) VALUES ($1, 'back@example.com')`, [backId]);
    // …and it flows forward to the target again
    await eventually(async () => (await appTarget('SELECT 1 FROM users.users WHERE source_user_id = $1', [backId])).length === 1, 120_000, 'the legacy write projected after the rollback'); // 30 s was not enough at load ~30
    const newApp = new URL(target.url);
    newApp.username = newRole;
    newApp.password = 'new';
    await expect(targetQueryAs(newApp.toString(), `UPDATE users.users SET name = 'x' WHERE false`)).rejects.toThrow(/read-only transaction/);

    const reconciliation = new ReconciliationService(config, logger);
    const [forward] = await reconciliation.run({ projection: 'users', threshold: 0 });
    const [backward] = await reconciliation.run({ projection: 'users', threshold: 0, direction: 'failback' });
    expect([forward.verdict, backward.verdict]).toEqual(['PASS', 'PASS']);
    expect(backward.direction).toBe('failback');
    // the failback slot is gone: it holds no WAL after the rollback
    expect(await appTarget('SELECT 1 FROM pg_replication_slots WHERE slot_name = $1', [`${name}_failback`])).toEqual([]);
  });
});
