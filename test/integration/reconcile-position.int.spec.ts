import { Pool } from 'pg';
import { loadConfig } from '../../src/modules/config/load-config';
import { ReconciliationService } from '../../src/modules/reconciliation/reconciliation.service';
import { ProjectionPositionProbe } from '../../src/modules/projection/applied-position';
import { projectionDefinitions } from '../../src/modules/projection/projection.service';
import { createKafka } from '../../src/connectors/kafka/kafka-client';
import { createLogger } from '../../src/shared/logger';
import { TandemProcess, writeConfig } from '../support/capture-process';
import { createTargetDatabase, targetQuery } from '../support/target-db';
import { dropSlot, env, eventually, sql, uniqueName } from '../support/services';

/**
 * Reconciliation settles differences by the projection's position (in process, against the real
 * services): a real difference counts after one re-read once the target holds the source position,
 * a write in flight does not count, and a projector that is not running leaves its lag as differences.
 */
describe('reconcile: differences settled by position', () => {
  const name = uniqueName('recpos');
  const schema = name;
  const rows = 2000;
  let target: Awaited<ReturnType<typeof createTargetDatabase>>;
  let configPath: string;
  let capture: TandemProcess;
  let projector: TandemProcess | null = null;
  const logger = createLogger('tandem-test', 'warn');

  const reconcile = async () => {
    const [report] = await new ReconciliationService(loadConfig(configPath, {}), logger).run({ projection: 'users', threshold: 0, sample: 100 });
    return report;
  };
  const projectedName = async (email: string) =>
    (await targetQuery(target.url, 'SELECT name FROM users.users WHERE email = $1', [email]))[0]?.name;

  beforeAll(async () => {
    target = await createTargetDatabase('recpos');
    await sql(`CREATE SCHEMA ${schema}`);
    await sql(`CREATE TABLE ${schema}.auth_users (id text PRIMARY KEY, email text NOT NULL, display_name text, instance_name text,
               raw_user_meta_data jsonb, encrypted_password text, created_at timestamptz NOT NULL DEFAULT now())`);
    await sql(`INSERT INTO ${schema}.auth_users (id, email, display_name)
               SELECT gen_random_uuid()::text, 'user' || g || '@example.com', 'User ' || g FROM generate_series(1, ${rows}) g`);
    configPath = writeConfig({
      prefix: name,
      slot: name,
      publication: name,
      tables: [`${schema}.auth_users`],
      targetUrl: target.url,
      projections: [{ recipe: 'users', sourceSchema: schema }],
    });
    capture = TandemProcess.capture(configPath);
    await capture.waitForLog(/streaming changes/);
    projector = TandemProcess.project(configPath);
    await eventually(
      async () => Number((await targetQuery(target.url, 'SELECT count(*) AS n FROM users.users'))[0].n) === rows,
      60_000,
      `${rows} users`,
    );
  });

  afterAll(async () => {
    await projector?.stop();
    await capture.stop();
    await dropSlot(name);
    await target.drop();
  });

  it('counts a corrupted target row after one re-read, the pipeline being at the source position', async () => {
    const [changed] = await targetQuery(
      target.url,
      `UPDATE users.users SET name = 'Mallory' WHERE email = 'user7@example.com' RETURNING source_user_id`,
    );
    const report = await reconcile();
    expect(report.verdict).toBe('FAIL');
    expect(report.tables[0]).toMatchObject({ mismatched: 1, missing: 0, extra: 0, matched: rows - 1, reverifyRounds: 1 });
    expect(report.tables[0].sample).toEqual([
      { key: changed.source_user_id, kind: 'mismatched', columns: { name: ['User 7', 'Mallory'] } },
    ]);
    await sql(`UPDATE ${schema}.auth_users SET display_name = 'User 7 again' WHERE email = 'user7@example.com'`);
    await eventually(async () => (await projectedName('user7@example.com')) === 'User 7 again', 30_000, 'user7 projected');
  });

  it('does not count writes still on their way to the target', async () => {
    await sql(`UPDATE ${schema}.auth_users SET display_name = 'Renamed ' || id WHERE email LIKE 'user1%@example.com'`);
    await sql(`INSERT INTO ${schema}.auth_users (id, email) VALUES (gen_random_uuid()::text, 'fresh@example.com')`);
    const report = await reconcile(); // started right away: the projector may be applying them meanwhile
    expect(report.tables[0]).toMatchObject({ missing: 0, extra: 0, mismatched: 0, sourceCount: rows + 1 });
    expect(report.verdict).toBe('PASS');
  });

  it('reports the lag a stopped projector leaves as differences, without waiting for it (stalled)', async () => {
    await projector!.stop();
    projector = null;
    await sql(`UPDATE ${schema}.auth_users SET display_name = 'While stopped' WHERE email = 'user3@example.com'`);
    const config = loadConfig(configPath, {});
    const [definition] = projectionDefinitions(config, 'users');
    const source = new Pool({ connectionString: env.sourceUrl() });
    const targetPool = new Pool({ connectionString: target.url });
    const kafka = createKafka({ brokers: env.brokers() }, 'tandem-test-position', logger);
    try {
      const probe = new ProjectionPositionProbe(config, definition, source, targetPool, () => kafka);
      const mark = await probe.mark();
      // capture confirms the update within its acknowledgement interval; from then on nothing will apply it
      await eventually(async () => (await probe.state(mark)).state === 'stalled', 30_000, 'position stalled');
      expect((await probe.state(mark)).detail).toContain('no projector in consumer group');
    } finally {
      await source.end();
      await targetPool.end();
    }
    const report = await reconcile();
    expect(report.verdict).toBe('FAIL');
    expect(report.tables[0]).toMatchObject({ mismatched: 1, missing: 0, extra: 0, reverifyRounds: 1 });
    expect(report.tables[0].sample[0].columns).toEqual({ name: ['While stopped', 'User 3'] });
  });
});
