import { randomBytes, randomUUID } from 'crypto';
import { readFileSync, writeFileSync } from 'fs';
import { parse, stringify } from 'yaml';
import { writeConfig } from '../support/capture-process';
import { createTargetDatabase, targetQuery } from '../support/target-db';
import { dropSlot, eventually, sql, testKafka, uniqueName } from '../support/services';
import { loadConfig } from '../../src/modules/config/load-config';
import type { TandemConfig } from '../../src/modules/config/config.schema';
import { createLogger } from '../../src/shared/logger';
import { CaptureService } from '../../src/modules/capture/capture.service';
import { ProjectionService } from '../../src/modules/projection/projection.service';
import { CutoverService } from '../../src/modules/cutover/cutover.service';
import { FailbackService } from '../../src/modules/failback/failback.service';
import { ReconciliationService } from '../../src/modules/reconciliation/reconciliation.service';

/**
 * Failback of the users recipe, in process on the real services: cutover commit prepares it, the
 * application writes to the target, the legacy auth_users table receives every write through the
 * inverse, and forward capture (running the whole time) produces no event for them.
 */
describe('failback: users', () => {
  const name = uniqueName('fb');
  const schema = name;
  const role = `${name}_app`;
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
    const file = writeConfig({
      prefix: name,
      slot: name,
      publication: name,
      tables: [`${schema}.auth_users`],
      targetUrl: target.url,
      projections: [{ recipe: 'users', sourceSchema: schema }],
    });
    writeFileSync(file, stringify({ ...parse(readFileSync(file, 'utf8')), cutover: { applicationRoles: [role] }, failback: {} }));
    config = loadConfig(file, {}); // the file names this suite's own target database
    capture = new CaptureService(config, logger);
    captureRun = capture.run();
    projector = new ProjectionService(config, logger);
    await projector.start();
    await eventually(async () => Number((await appTarget('SELECT count(*) AS n FROM users.users'))[0].n) === 200, 60_000, '200 users projected');
  });

  afterAll(async () => {
    await failback?.stop().catch(() => undefined);
    await failbackRun?.catch(() => undefined);
    await failback?.end(cutoverId).catch(() => undefined);
    await failback?.close().catch(() => undefined);
    await projector?.stop();
    await capture?.stop();
    await captureRun?.catch(() => undefined);
    await dropSlot(name);
    await sql(`ALTER ROLE ${role} RESET ALL`).catch(() => undefined);
    await sql(`DROP OWNED BY ${role}`).catch(() => undefined);
    await sql(`DROP ROLE IF EXISTS ${role}`).catch(() => undefined);
    await target?.drop();
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

    const [renamed] = await appTarget(`UPDATE users.users SET name = 'Renamed', email = 'renamed@example.com' WHERE email = 'user1@example.com' RETURNING source_user_id`);
    const [deleted] = await appTarget(`DELETE FROM users.users WHERE email = 'user2@example.com' RETURNING source_user_id`);
    const big = randomBytes(12_000).toString('base64'); // incompressible: stored out of line (TOAST)
    const [toasted] = await appTarget(`UPDATE users.users SET meta = jsonb_build_object('blob', $1::text) WHERE email = 'user3@example.com' RETURNING source_user_id`, [big]);
    // An update that leaves the TOASTed value unchanged
    await appTarget(`UPDATE users.users SET name = 'Big Meta' WHERE email = 'user3@example.com'`);

    await eventually(async () => (await legacyUser(String(toasted.source_user_id)))?.display_name === 'Big Meta', 60_000, 'the writes in legacy');
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

    const reconciliation = new ReconciliationService(config, logger);
    const [report] = await reconciliation.run({ projection: 'users', threshold: 0 });
    expect(report.verdict === 'PASS' ? 'PASS' : JSON.stringify(report.tables)).toBe('PASS');
  });

  it('applies each change once across a restart of failback', async () => {
    await failback.stop();
    await failbackRun;
    await appTarget(`UPDATE users.users SET name = name || ' (2)' WHERE email LIKE 'user1_@example.com'`); // user10..user19
    failback = new FailbackService(config, logger);
    failbackRun = failback.run(await failback.record(cutoverId));
    await eventually(
      async () => Number((await sql(`SELECT count(*) AS n FROM ${schema}.auth_users WHERE display_name LIKE '% (2)'`))[0].n) === 10,
      60_000,
      'ten renamed users in legacy',
    );
    const [{ n }] = await sql(`SELECT count(*) AS n FROM ${schema}.auth_users WHERE display_name LIKE '% (2) (2)'`);
    expect(Number(n)).toBe(0);
    const [{ total }] = await sql(`SELECT count(*) AS total FROM ${schema}.auth_users`);
    expect(Number(total)).toBe(200); // 200 + 1 inserted − 1 deleted
  });
});
