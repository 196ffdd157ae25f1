import { validateConfig } from '../../src/modules/config/load-config';
import { CaptureService } from '../../src/modules/capture/capture.service';
import { ProjectionService } from '../../src/modules/projection/projection.service';
import { CutoverService } from '../../src/modules/cutover/cutover.service';
import { FailbackService } from '../../src/modules/failback/failback.service';
import { ReconciliationService } from '../../src/modules/reconciliation/reconciliation.service';
import { createLogger } from '../../src/shared/logger';
import { createTargetDatabase, targetQuery } from '../support/target-db';
import { dropSlot, env, eventually, sql, uniqueName } from '../support/services';

/**
 * Failback of a declarative mirror (a rename, excluded columns, a row filter), in process on the
 * real services: the application's target writes reach the legacy table through the inverse
 * derived from the mapping.
 */
describe('failback: declarative mirror', () => {
  const name = uniqueName('fbm');
  const src = name;
  const dst = `${name}_new`;
  const logger = createLogger('test', process.env.TEST_LOG_LEVEL ?? 'warn');
  let target: Awaited<ReturnType<typeof createTargetDatabase>>;
  let config: ReturnType<typeof validateConfig>;
  let capture: CaptureService;
  let captureRun: Promise<void>;
  let projector: ProjectionService;
  let failback: FailbackService;
  let failbackRun: Promise<void>;
  let cutoverId: number;

  const tq = (text: string, values: unknown[] = []) => targetQuery(target.url, text, values);
  const legacyRow = async (id: number) => (await sql(`SELECT email, password_hash, tier, deleted_at IS NOT NULL AS deleted FROM ${src}.customers WHERE id = $1`, [id]))[0];

  beforeAll(async () => {
    target = await createTargetDatabase('fbm');
    await sql(`CREATE ROLE ${name}_app LOGIN`);
    await sql(`CREATE SCHEMA ${src}`);
    await sql(`CREATE TABLE ${src}.customers (id bigserial PRIMARY KEY, email text NOT NULL UNIQUE, password_hash text, deleted_at timestamptz,
               tier text NOT NULL DEFAULT 'basic')`);
    await sql(`INSERT INTO ${src}.customers (email, password_hash, deleted_at)
               SELECT 'c' || g || '@shop.test', 'secret-hash', CASE WHEN g % 5 = 0 THEN now() END FROM generate_series(1, 20) g`);
    config = validateConfig(
      {
        source: { url: env.sourceUrl(), slot: name, publication: name, tables: [`${src}.customers`], heartbeatIntervalMs: 1000 },
        kafka: { brokers: env.brokers(), topicPrefix: name, partitions: 3 },
        target: { url: target.url },
        capture: { maxBatchDelayMs: 50, statusIntervalMs: 1000 },
        cutover: { applicationRoles: [`${name}_app`] },
        failback: {},
        projections: [
          {
            name: 'shop',
            mirror: {
              schema: dst,
              tables: [{ from: `${src}.customers`, to: 'clients', columns: { email: 'email_address' }, exclude: ['password_hash', 'deleted_at'], where: 'deleted_at IS NULL' }],
            },
          },
        ],
      },
      'test',
    );
    capture = new CaptureService(config, logger);
    captureRun = capture.run();
    captureRun.catch(() => undefined);
    await eventually(async () => capture.status().role === 'streaming', 60_000, 'capture to stream');
    projector = new ProjectionService(config, logger);
    await projector.start();
    await eventually(async () => Number((await tq(`SELECT count(*) AS n FROM ${dst}.clients`))[0].n) === 16, 60_000, '16 clients mirrored');
  }, 120_000);

  afterAll(async () => {
    await failback?.stop().catch(() => undefined);
    await failbackRun?.catch(() => undefined);
    await failback?.end(cutoverId).catch(() => undefined);
    await failback?.close().catch(() => undefined);
    await projector?.stop().catch(() => undefined);
    await capture?.stop();
    await captureRun?.catch(() => undefined);
    await dropSlot(name);
    await sql(`ALTER ROLE ${name}_app RESET ALL`).catch(() => undefined);
    await sql(`DROP ROLE IF EXISTS ${name}_app`).catch(() => undefined);
    await target?.drop();
  });

  it('carries renamed columns back, keeps excluded ones, and leaves rows outside the filter alone', async () => {
    const cutovers = new CutoverService(config, logger);
    try {
      const planned = await cutovers.plan({ operator: 'alice' });
      await cutovers.start(planned.cutover.id, { operator: 'alice' });
      cutoverId = (await cutovers.commit(planned.cutover.id, { operator: 'alice' })).id;
    } finally {
      await cutovers.close();
    }
    failback = new FailbackService(config, logger);
    failbackRun = failback.run(await failback.record(cutoverId));
    failbackRun.catch(() => undefined);

    await tq(`UPDATE ${dst}.clients SET email_address = 'renamed@shop.test', tier = 'gold' WHERE id = 1`);
    await tq(`INSERT INTO ${dst}.clients (id, email_address) VALUES (1000, 'new@shop.test')`);
    await tq(`DELETE FROM ${dst}.clients WHERE id = 2`);
    // id 5 is deleted in legacy (outside the filter), so the target never had it: the application
    // creates it there, but the legacy row stays as it is
    await tq(`INSERT INTO ${dst}.clients (id, email_address) VALUES (5, 'reused@shop.test')`);
    await tq(`UPDATE ${dst}.clients SET tier = 'silver' WHERE id = 3`);

    await eventually(async () => (await legacyRow(3))?.tier === 'silver', 60_000, 'the writes in legacy');
    expect(await legacyRow(1)).toEqual({ email: 'renamed@shop.test', password_hash: 'secret-hash', tier: 'gold', deleted: false });
    expect(await legacyRow(1000)).toEqual({ email: 'new@shop.test', password_hash: null, tier: 'basic', deleted: false });
    expect(await legacyRow(2)).toBeUndefined();
    expect(await legacyRow(5)).toEqual({ email: 'c5@shop.test', password_hash: 'secret-hash', tier: 'basic', deleted: true });

    // its delete is held by the filter too
    await tq(`DELETE FROM ${dst}.clients WHERE id = 5`);
    await tq(`UPDATE ${dst}.clients SET tier = 'bronze' WHERE id = 4`);
    await eventually(async () => (await legacyRow(4))?.tier === 'bronze', 60_000, 'the last write in legacy');
    expect((await legacyRow(5)).deleted).toBe(true);

    const reconciliation = new ReconciliationService(config, logger);
    const [forward] = await reconciliation.run({ projection: 'shop', threshold: 0 });
    const [backward] = await reconciliation.run({ projection: 'shop', threshold: 0, direction: 'failback' });
    expect([forward.verdict, backward.verdict]).toEqual(['PASS', 'PASS']);
  });
});
