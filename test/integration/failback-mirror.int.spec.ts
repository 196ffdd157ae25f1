import { randomBytes } from 'crypto';
import { validateConfig } from '../../src/modules/config/load-config';
import { CaptureService } from '../../src/modules/capture/capture.service';
import { ProjectionService } from '../../src/modules/projection/projection.service';
import { CutoverService } from '../../src/modules/cutover/cutover.service';
import { FailbackService } from '../../src/modules/failback/failback.service';
import { ReconciliationService } from '../../src/modules/reconciliation/reconciliation.service';
import { rollbackThroughFailback } from '../../src/modules/failback/failback-rollback';
import { ReplayService } from '../../src/modules/replay/replay.service';
import { createLogger } from '../../src/shared/logger';
import { createTargetDatabase, targetQuery } from '../support/target-db';
import { readTopics, topicEnds } from '../support/kafka-reader';
import { expectForwardSilent, failbackState } from '../support/failback';
import { dropSlot, env, eventually, sql, testKafka, uniqueName } from '../support/services';

/**
 * Failback of a declarative mirror (a rename, excluded columns, a row filter), in process on the
 * real services: the application's target writes reach the legacy table through the inverse
 * derived from the mapping; rollback gives the legacy application every write; and every way
 * failback ends (rollback, a replay that replaces the tables, `failback stop`) undoes what it set
 * up on the target.
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
  const legacyApp = () => {
    const url = new URL(env.sourceUrl());
    url.username = `${name}_app`;
    url.password = 'app';
    return url.toString();
  };
  const forwardEnd = () => topicEnds(testKafka(), `${name}.${src}.customers`);
  /** What failback sets up on the target, as the target has it now. */
  const targetSetup = async (schema: string) => ({
    identity: (await tq(`SELECT relreplident AS r FROM pg_class WHERE oid = $1::regclass`, [`"${schema}".clients`]))[0].r,
    defaults: Object.fromEntries(
      (
        await tq(
          `SELECT a.attname, pg_get_expr(d.adbin, d.adrelid) AS expr FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
            WHERE a.attrelid = $1::regclass AND a.attname IN ('_source_key', '_source_lsn') ORDER BY 1`,
          [`"${schema}".clients`],
        )
      ).map((row) => [row.attname, row.expr]),
    ),
    publication: (await tq('SELECT schemaname, tablename FROM pg_publication_tables WHERE pubname = $1', [`${name}_failback`])).map((r) => `${r.schemaname}.${r.tablename}`),
    publicationExists: (await tq('SELECT 1 FROM pg_publication WHERE pubname = $1', [`${name}_failback`])).length === 1,
    slot: (await tq('SELECT 1 FROM pg_replication_slots WHERE slot_name = $1', [`${name}_failback`])).length === 1,
  });
  const untouched = { identity: 'd', defaults: { _source_key: null, _source_lsn: null }, publication: [], publicationExists: false, slot: false };

  beforeAll(async () => {
    target = await createTargetDatabase('fbm');
    await sql(`CREATE ROLE ${name}_app LOGIN PASSWORD 'app'`);
    await sql(`CREATE ROLE ${name}_new LOGIN PASSWORD 'new'`);
    await sql(`CREATE SCHEMA ${src}`);
    await sql(`CREATE TABLE ${src}.customers (id bigserial PRIMARY KEY, email text NOT NULL UNIQUE, password_hash text, deleted_at timestamptz,
               tier text NOT NULL DEFAULT 'basic', notes text)`);
    // a rule only the legacy database has: a failback write breaking it is refused there
    await sql(`CREATE FUNCTION ${src}.refuse_blocked() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN
                 IF NEW.email LIKE '%@blocked.test' THEN RAISE EXCEPTION 'blocked domain: %', NEW.email USING ERRCODE = 'check_violation'; END IF;
                 RETURN NEW; END $$`);
    await sql(`CREATE TRIGGER refuse_blocked BEFORE INSERT OR UPDATE ON ${src}.customers FOR EACH ROW EXECUTE FUNCTION ${src}.refuse_blocked()`);
    await sql(`GRANT USAGE ON SCHEMA ${src} TO ${name}_app; GRANT SELECT, INSERT, UPDATE, DELETE ON ${src}.customers TO ${name}_app`);
    await sql(`GRANT USAGE ON SEQUENCE ${src}.customers_id_seq TO ${name}_app`);
    await sql(`INSERT INTO ${src}.customers (email, password_hash, deleted_at)
               SELECT 'c' || g || '@shop.test', 'secret-hash', CASE WHEN g % 5 = 0 THEN now() END FROM generate_series(1, 20) g`);
    config = validateConfig(
      {
        source: { url: env.sourceUrl(), slot: name, publication: name, tables: [`${src}.customers`], heartbeatIntervalMs: 1000 },
        kafka: { brokers: env.brokers(), topicPrefix: name, partitions: 3 },
        target: { url: target.url },
        capture: { maxBatchDelayMs: 50, statusIntervalMs: 1000 },
        cutover: { applicationRoles: [`${name}_app`] },
        failback: { applicationRoles: [`${name}_new`] },
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
    await target?.drop();
    for (const role of [`${name}_app`, `${name}_new`]) {
      await sql(`ALTER ROLE ${role} RESET ALL`).catch(() => undefined);
      await sql(`DROP OWNED BY ${role}`).catch(() => undefined);
      await sql(`DROP ROLE IF EXISTS ${role}`).catch(() => undefined);
    }
  });

  const big = randomBytes(12_000).toString('base64'); // incompressible: stored out of line (TOAST)

  it('carries renamed columns back, keeps excluded ones, and leaves rows outside the filter alone', async () => {
    const cutovers = new CutoverService(config, logger);
    try {
      const planned = await cutovers.plan({ operator: 'alice' });
      await cutovers.start(planned.cutover.id, { operator: 'alice' });
      cutoverId = (await cutovers.commit(planned.cutover.id, { operator: 'alice' })).id;
    } finally {
      await cutovers.close();
    }
    expect(await targetSetup(dst)).toEqual({
      identity: 'f',
      defaults: { _source_key: "'application'::text", _source_lsn: '0' },
      publication: [`${dst}.clients`],
      publicationExists: true,
      slot: true,
    });
    const forwardBefore = await forwardEnd();
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

    await eventually(async () => (await legacyRow(3))?.tier === 'silver', 60_000, 'the writes in legacy', () => failbackState(failback, cutoverId));
    expect(await legacyRow(1)).toEqual({ email: 'renamed@shop.test', password_hash: 'secret-hash', tier: 'gold', deleted: false });
    expect(await legacyRow(1000)).toEqual({ email: 'new@shop.test', password_hash: null, tier: 'basic', deleted: false });
    expect(await legacyRow(2)).toBeUndefined();
    expect(await legacyRow(5)).toEqual({ email: 'c5@shop.test', password_hash: 'secret-hash', tier: 'basic', deleted: true });

    // its delete is held by the filter too
    await tq(`DELETE FROM ${dst}.clients WHERE id = 5`);
    // a write the legacy database refuses
    await tq(`INSERT INTO ${dst}.clients (id, email_address) VALUES (1001, 'x@blocked.test')`);
    // a TOASTed value, then an update that leaves it unchanged (sent whole: REPLICA IDENTITY FULL)
    await tq(`UPDATE ${dst}.clients SET notes = $1 WHERE id = 6`, [big]);
    await tq(`UPDATE ${dst}.clients SET tier = 'platinum' WHERE id = 6`);
    await tq(`UPDATE ${dst}.clients SET tier = 'bronze' WHERE id = 4`);
    await eventually(async () => (await legacyRow(4))?.tier === 'bronze', 60_000, 'the last write in legacy', () => failbackState(failback, cutoverId));
    expect((await legacyRow(5)).deleted).toBe(true);
    expect(await sql(`SELECT tier, notes FROM ${src}.customers WHERE id = 6`)).toEqual([{ tier: 'platinum', notes: big }]);

    // the refused write is quarantined in the legacy database and sent to failback's dead letters,
    // with the reason; the stream went on
    const reason = /^rejected by the legacy database: blocked domain: x@blocked\.test \[SQLSTATE 23514\]$/;
    const quarantined = await eventually(async () => {
      const rows = await sql(`SELECT reason, event->'after'->>'id' AS id FROM tandem.quarantine WHERE topic = $1 AND projection = 'failback.shop'`, [
        `${name}.failback.${dst}.clients`,
      ]);
      return rows.length > 0 ? rows : undefined;
    }, 60_000, 'the refused write quarantined');
    expect(await legacyRow(1001)).toBeUndefined();
    expect(quarantined).toEqual([{ reason: expect.stringMatching(reason), id: '1001' }]);
    const [dead] = await readTopics(testKafka(), [`${name}.failback.dlq.shop`], (records) => records.length >= 1);
    expect(dead.value).toMatchObject({ projection: 'shop', direction: 'failback', reason: expect.stringMatching(reason), topic: `${name}.failback.${dst}.clients` });
    await tq(`DELETE FROM ${dst}.clients WHERE id = 1001`); // the application sets it right

    // forward capture, running the whole time, read past the failback writes and produced no event for them
    await expectForwardSilent(name, forwardEnd, forwardBefore);

    const reconciliation = new ReconciliationService(config, logger);
    const [forward] = await reconciliation.run({ projection: 'shop', threshold: 0 });
    const [backward] = await reconciliation.run({ projection: 'shop', threshold: 0, direction: 'failback' });
    expect([forward.verdict, backward.verdict]).toEqual(['PASS', 'PASS']);
  });

  it('rolls back: the legacy application sees every write and writes again; failback’s target setup is undone', async () => {
    await tq(`UPDATE ${dst}.clients SET tier = 'last' WHERE id = 7`);
    await eventually(async () => (await failback.readLag(cutoverId)).caughtUp, 60_000, 'failback caught up');
    const rolledBack = await rollbackThroughFailback(failback, config, logger, cutoverId, { operator: 'alice' });
    expect(rolledBack.state).toBe('rolled-back');
    await failbackRun.catch(() => undefined); // its slot is gone

    // the legacy application, unfrozen, reads every write made in the target and writes again
    const seen = await targetQuery(legacyApp(), `SELECT id::int, email, tier, notes = $1 AS big FROM ${src}.customers WHERE id IN (1, 2, 3, 4, 6, 7, 1000) ORDER BY id`, [big]);
    expect(seen).toEqual([
      { id: 1, email: 'renamed@shop.test', tier: 'gold', big: null },
      { id: 3, email: 'c3@shop.test', tier: 'silver', big: null },
      { id: 4, email: 'c4@shop.test', tier: 'bronze', big: null },
      { id: 6, email: 'c6@shop.test', tier: 'platinum', big: true },
      { id: 7, email: 'c7@shop.test', tier: 'last', big: null },
      { id: 1000, email: 'new@shop.test', tier: 'basic', big: null },
    ]);
    await targetQuery(legacyApp(), `INSERT INTO ${src}.customers (id, email) VALUES (2000, 'back@shop.test')`);
    await eventually(async () => (await tq(`SELECT 1 FROM ${dst}.clients WHERE id = 2000`)).length === 1, 30_000, 'the legacy write projected');

    const reconciliation = new ReconciliationService(config, logger);
    const [forward] = await reconciliation.run({ projection: 'shop', threshold: 0 });
    const [backward] = await reconciliation.run({ projection: 'shop', threshold: 0, direction: 'failback' });
    expect([forward.verdict, backward.verdict]).toEqual(['PASS', 'PASS']);

    // the target's tables are as before failback: nothing of it is left behind
    expect(await targetSetup(dst)).toEqual(untouched);
    expect(await tq('SELECT * FROM tandem.failback_table_changes')).toEqual([]);
  });

  it('a replay that replaces the tables ends failback, and undoes its setup on the replaced tables', async () => {
    // failback started again on the live tables (the cutover is still the committed one)
    const again = await failback.prepare(cutoverId, 'alice');
    expect(again.state).toBe('active');
    expect(await targetSetup(dst)).toMatchObject({ identity: 'f', publication: [`${dst}.clients`], slot: true });
    failbackRun = failback.run(again);
    failbackRun.catch(() => undefined);
    await eventually(async () => (await failback.readLag(cutoverId)).slot.active, 120_000, 'failback capture streaming');

    await projector.stop(); // replay refuses while the projector runs
    const replays = new ReplayService(config, logger);
    let backupId: number;
    try {
      backupId = (await replays.replay({ projection: 'shop', to: `cutover:${cutoverId}`, operator: 'alice' })).backupId!;
    } finally {
      await replays.close();
    }
    await failbackRun.catch(() => undefined); // its slot is gone
    const record = await failback.record(cutoverId);
    expect(record).toMatchObject({ state: 'stopped', rollback: { endedBy: expect.stringMatching(/^replay \d+ to cutover:/), operator: 'alice' } });
    // the replaced tables (now a backup) and the rebuilt ones carry nothing of failback
    expect(await targetSetup(`${dst}__backup_${backupId}`)).toEqual(untouched);
    expect(await targetSetup(dst)).toEqual(untouched);
    expect(await tq('SELECT * FROM tandem.failback_table_changes')).toEqual([]);
  });

  it('failback stop restores exactly the settings it found, and a second stop changes nothing', async () => {
    await tq(`ALTER TABLE ${dst}.clients REPLICA IDENTITY USING INDEX clients_pkey`);
    await tq(`ALTER TABLE ${dst}.clients ALTER COLUMN _source_lsn SET DEFAULT 7`);
    await failback.prepare(cutoverId, 'alice');
    await failback.prepare(cutoverId, 'alice'); // preparing twice keeps the settings found the first time
    expect(await targetSetup(dst)).toMatchObject({ identity: 'f', defaults: { _source_key: "'application'::text", _source_lsn: '0' }, slot: true });

    for (const attempt of [1, 2]) {
      const ended = await failback.end(cutoverId);
      expect([attempt, ended.state]).toEqual([attempt, 'stopped']);
      expect(await targetSetup(dst)).toEqual({ ...untouched, identity: 'i', defaults: { _source_key: null, _source_lsn: '7' } });
    }
    const [{ indexed }] = await tq(`SELECT i.indexrelid::regclass::text AS indexed FROM pg_index i WHERE i.indrelid = $1::regclass AND i.indisreplident`, [`${dst}.clients`]);
    expect(indexed).toBe(`${dst}.clients_pkey`);
  });
});
