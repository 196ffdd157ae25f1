import { TandemProcess, writeConfig } from '../support/capture-process';
import { createTargetDatabase, targetQuery } from '../support/target-db';
import { dropSlot, eventually, sql, testKafka, uniqueName } from '../support/services';
import { loadConfig } from '../../src/modules/config/load-config';
import { StatusService } from '../../src/modules/status/status.service';
import { createLogger } from '../../src/shared/logger';
import { parseLsn } from '../../src/shared/lsn';
import { StatusSampler } from '../../src/modules/status/server-status-sampler';

/** StatusService against a real capture and projector: every number checked against PostgreSQL and Kafka. */
describe('status of a running pipeline', () => {
  const name = uniqueName('status');
  let target: Awaited<ReturnType<typeof createTargetDatabase>>;
  let capture: TandemProcess;
  let projector: TandemProcess;
  let service: StatusService;
  let configFile: string;
  const topic = `${name}.${name}.auth_users`;

  beforeAll(async () => {
    target = await createTargetDatabase('status');
    await sql(`CREATE SCHEMA ${name}`);
    await sql(`CREATE TABLE ${name}.auth_users (id text PRIMARY KEY, email text NOT NULL, display_name text, instance_name text,
               raw_user_meta_data jsonb, encrypted_password text, created_at timestamptz NOT NULL DEFAULT now())`);
    await sql(
      `INSERT INTO ${name}.auth_users (id, email) SELECT gen_random_uuid()::text, 'user' || g || '@example.com' FROM generate_series(1, 200) g`,
    );
    await sql(`INSERT INTO ${name}.auth_users (id, email) VALUES ('not-a-uuid', 'bad-id@example.com')`);
    const file = (configFile = writeConfig({
      prefix: name,
      slot: name,
      publication: name,
      tables: [`${name}.auth_users`],
      targetUrl: target.url,
      projections: [{ recipe: 'users', sourceSchema: name }],
    }));
    capture = TandemProcess.capture(file);
    await capture.waitForLog(/streaming changes/, 180_000);
    projector = TandemProcess.project(file);
    service = new StatusService(loadConfig(file, {}), createLogger('status-test', 'silent'));
  });

  afterAll(async () => {
    await service?.close();
    await projector?.stop();
    await capture?.stop();
    await dropSlot(name);
    await target?.drop();
  });

  const caughtUp = () =>
    eventually(
      async () => {
        const status = await service.read();
        return (
          status.projections[0].state === 'caught-up' && status.projections[0].quarantined === 1 && status
        );
      },
      90_000,
      'the users projection to catch up',
    );

  it('shows the slot as PostgreSQL reports it', async () => {
    const status = await service.read();
    const [slot] = await sql(
      `SELECT active, confirmed_flush_lsn::text AS confirmed, pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)::bigint AS retained
         FROM pg_replication_slots WHERE slot_name = $1`,
      [name],
    );
    const source = status.source[0];
    expect(source).toMatchObject({ slot: name, publication: name, state: 'streaming' });
    expect(slot.active).toBe(true);
    // read a moment apart: the slot only moves forward
    expect(parseLsn(source.confirmedFlushLsn!)).toBeLessThanOrEqual(parseLsn(slot.confirmed));
    expect(source.lagBytes).toBeGreaterThanOrEqual(0);
    expect(source.retainedWalBytes).toBeGreaterThanOrEqual(0);
    expect(source.retainedWalBytes).toBeLessThanOrEqual(Number(slot.retained));
  });

  it('shows checkpoints, end offsets and quarantine equal to what the target and Kafka hold', async () => {
    const status = await caughtUp();
    const projection = status.projections[0];
    const checkpoints = await targetQuery(
      target.url,
      `SELECT topic, partition, "offset"::int AS "offset" FROM tandem.checkpoints WHERE projection = 'users' AND topic = $1 ORDER BY partition`,
      [topic],
    );
    const admin = testKafka().admin();
    await admin.connect();
    const ends = await admin.fetchTopicOffsets(topic);
    await admin.disconnect();
    const shown = projection.partitions.filter((p) => p.topic === topic);
    expect(shown.map((p) => ({ topic: p.topic, partition: p.partition, offset: p.offset }))).toEqual(
      checkpoints,
    );
    expect(shown.map((p) => p.endOffset)).toEqual(
      ends.sort((a, b) => a.partition - b.partition).map((e) => Number(e.high)),
    );
    expect(projection.lagEvents).toBe(0);
    const [quarantine] = await targetQuery(
      target.url,
      `SELECT id::int AS id, reason FROM tandem.quarantine WHERE projection = 'users'`,
    );
    expect(projection.newestQuarantineReasons).toEqual([
      { id: quarantine.id, reason: quarantine.reason, at: expect.any(String) },
    ]);
    const [lsn] = await targetQuery(
      target.url,
      `SELECT max(commit_lsn)::text AS lsn FROM tandem.checkpoints WHERE projection = 'users'`,
    );
    expect(parseLsn(projection.checkpointLsn!)).toBe(BigInt(lsn.lsn));
  });

  it('measures capture and projection throughput between reads', async () => {
    const fresh = new StatusService(loadConfig(configFile, {}), createLogger('status-test', 'silent'));
    try {
      const before = await fresh.read();
      expect(before.source[0].eventsPerSecond).toBeNull(); // one read: no rate yet
      await sql(
        `INSERT INTO ${name}.auth_users (id, email) SELECT gen_random_uuid()::text, 'more' || g || '@example.com' FROM generate_series(1, 1000) g`,
      );
      await eventually(
        async () =>
          Number((await targetQuery(target.url, 'SELECT count(*) AS n FROM users.users'))[0].n) === 1200,
        90_000,
        '1,200 projected users',
      );
      const after = await fresh.read();
      const seconds = (Date.parse(after.readAt) - Date.parse(before.readAt)) / 1000;
      // rate × time between the two reads = events written in it: the 1,000 new ones (plus transaction markers)
      expect(after.source[0].eventsPerSecond! * seconds).toBeGreaterThanOrEqual(1000 * 0.99);
      expect(after.projections[0].eventsPerSecond! * seconds).toBeGreaterThanOrEqual(1000 * 0.99);
      expect(after.projections[0].eventsPerSecond! * seconds).toBeLessThanOrEqual(1100);
      expect(fresh.history()).toHaveLength(2);
    } finally {
      await fresh.close();
    }
  });

  it('shows the last reconciliation per projection and the latest cutover from the tandem schema', async () => {
    await targetQuery(
      target.url,
      `INSERT INTO tandem.reconciliations (projection, source_lsn, verdict, mismatch_ratio, threshold, started_at, finished_at, report)
       VALUES ('users', '0/10', 'FAIL', 0.5, 0.001, now(), now(), '{}'), ('users', '0/20', 'PASS', 0, 0.001, now(), now(), '{}'),
              ('other', '0/30', 'FAIL', 1, 0.001, now(), now(), '{}')`,
    );
    await targetQuery(
      target.url,
      `INSERT INTO tandem.cutovers (state, projections, application_roles, operator, history)
       VALUES ('parallel', '{users}', '{app}', 'ops', jsonb_build_array(jsonb_build_object('state', 'parallel', 'at', now(), 'operator', 'ops')))`,
    );
    const status = await service.read();
    expect(status.lastReconciliations).toEqual([
      {
        id: expect.any(Number),
        projection: 'users',
        verdict: 'PASS',
        mismatchRatio: 0,
        sourceLsn: '0/20',
        finishedAt: expect.any(String),
      },
    ]);
    expect(status.cutover).toMatchObject({
      state: 'parallel',
      operator: 'ops',
      freezeLsn: null,
      history: [{ state: 'parallel' }],
    });
  });

  it('shows what it can while Kafka is unreachable, and marks Kafka unreachable (service, CLI, status page model)', async () => {
    const reachable = await caughtUp();
    const closedKafka = { TANDEM_KAFKA_BROKERS: '127.0.0.1:5999' };
    const blind = new StatusService(loadConfig(configFile, closedKafka), createLogger('status-test', 'silent'));
    try {
      const status = await blind.read();
      expect(status.kafka).toEqual({ reachable: false, error: expect.stringContaining('ECONNREFUSED 127.0.0.1:5999') });
      expect(status.source[0]).toMatchObject({ slot: name, state: 'streaming' });
      const [users] = status.projections;
      expect(users).toMatchObject({ projection: 'users', state: 'unknown', lagEvents: null, lagSeconds: null, quarantined: 1 });
      expect(users.checkpointLsn).toBe(reachable.projections[0].checkpointLsn);
      expect(users.partitions.map((p) => [p.partition, p.offset, p.endOffset, p.lag])).toEqual(
        reachable.projections[0].partitions
          .filter((p) => p.offset >= 0)
          .map((p) => [p.partition, p.offset, null, null]),
      );
      expect(status.lastReconciliations.map((r) => r.verdict)).toEqual(['PASS']);

      const sampler = new StatusSampler({ read: () => blind.read() }, 60_000, createLogger('status-test', 'silent'));
      expect((await sampler.current()).kafka.reachable).toBe(false);
      expect(sampler.history()[0].projections.users).toMatchObject({ lagEvents: null });
    } finally {
      await blind.close();
    }
    const cli = new TandemProcess(['status', '--config', configFile, '--json', '--window', '0'], closedKafka);
    expect(await cli.exited).toBe(0);
    const printed = JSON.parse(cli.stdout);
    expect(printed.kafka.reachable).toBe(false);
    expect(printed.projections[0]).toMatchObject({ state: 'unknown', quarantined: 1 });
    const text = new TandemProcess(['status', '--config', configFile, '--window', '0'], closedKafka);
    expect(await text.exited).toBe(0);
    expect(text.stdout).toContain('KAFKA UNREACHABLE');
    expect(text.stdout).toMatch(/users\s+unknown\s+–/);
  });

  it('shows the slot idle once capture stopped', async () => {
    expect(await capture.stop()).toBe(0);
    const status = await eventually(
      async () => {
        const read = await service.read();
        return read.source[0].state === 'idle' && read;
      },
      30_000,
      'the slot to be released',
    );
    expect(status.source[0].lagBytes).toBeGreaterThanOrEqual(0);
  });
});
