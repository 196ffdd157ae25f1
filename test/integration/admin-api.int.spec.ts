import { readFileSync, writeFileSync } from 'fs';
import { parse, stringify } from 'yaml';
import { API_ROUTES } from '../../src/modules/admin/openapi/api-catalog';
import { AdminServer, OPERATOR_TOKEN, VIEWER_TOKEN } from '../support/admin-server';
import { TandemProcess, writeConfig } from '../support/capture-process';
import { dropSlot, eventually, sql, uniqueName } from '../support/services';
import { createTargetDatabase, targetQuery } from '../support/target-db';

/** The test cluster trusts every local connection, so any password works, and none may ever be shown. */
const PASSWORD = 'pw-B2-s3cret-9911';
const withPassword = (url: string) => {
  const parsed = new URL(url);
  parsed.password = PASSWORD;
  return parsed.toString();
};
const concrete = (path: string) => path.replace(/\{\w+\}/g, '1');

describe('admin API (tandem serve)', () => {
  const name = uniqueName('adm');
  const rows = 25;
  /** Written while the projector is stopped: the users projection lags by exactly these. */
  const later = 5;
  let target: Awaited<ReturnType<typeof createTargetDatabase>>;
  let config: string;
  let capture: TandemProcess;
  let server: AdminServer;

  const auditRows = () =>
    targetQuery(
      target.url,
      `SELECT operator, action, subject, details, outcome, error FROM tandem.operator_audit WHERE action LIKE 'api.%' ORDER BY id`,
    );

  beforeAll(async () => {
    target = await createTargetDatabase('adm');
    await sql(`CREATE SCHEMA ${name}`);
    await sql(`CREATE TABLE ${name}.auth_users (id text PRIMARY KEY, email text NOT NULL, display_name text, instance_name text,
               raw_user_meta_data jsonb, encrypted_password text, created_at timestamptz NOT NULL DEFAULT now())`);
    await sql(
      `INSERT INTO ${name}.auth_users (id, email) SELECT gen_random_uuid()::text, 'u' || g || '@example.com' FROM generate_series(1, ${rows}) g`,
    );
    config = writeConfig({
      prefix: name,
      slot: name,
      publication: name,
      tables: [`${name}.auth_users`],
      targetUrl: target.url,
      projections: [{ recipe: 'users', sourceSchema: name }],
    });
    const raw = parse(readFileSync(config, 'utf8'));
    raw.source.url = withPassword(raw.source.url);
    raw.target.url = withPassword(raw.target.url);
    raw.admin = { sampleIntervalMs: 1000 };
    writeFileSync(config, stringify(raw));
    capture = TandemProcess.capture(config);
    await capture.waitForLog(/streaming changes/, 240_000);
    const projector = TandemProcess.project(config);
    await eventually(
      async () =>
        Number((await targetQuery(target.url, 'SELECT count(*) AS n FROM users.users'))[0].n) === rows,
      240_000,
      `${rows} users`,
    );
    await projector.stop();
    await sql(
      `INSERT INTO ${name}.auth_users (id, email) SELECT gen_random_uuid()::text, 'late' || g || '@example.com' FROM generate_series(1, ${later}) g`,
    );
    server = await AdminServer.start(config);
  }, 600_000);

  afterAll(async () => {
    await server?.stop();
    await capture?.stop();
    await dropSlot(name);
    await sql(`DROP SCHEMA IF EXISTS ${name} CASCADE`);
    await target?.drop();
  });

  it('refuses every non-public route without a token or with a wrong one (401), and viewer tokens on operator routes (403)', async () => {
    const guarded = API_ROUTES.filter((route) => route.role !== 'public');
    expect(guarded.length).toBeGreaterThanOrEqual(19);
    for (const route of guarded) {
      const path = concrete(route.path);
      const none = await server.call(route.method, path, { body: route.method === 'post' ? {} : undefined });
      expect([route.path, none.status]).toEqual([route.path, 401]);
      const wrong = await server.call(route.method, path, {
        token: 'not-a-token-of-this-server',
        body: route.method === 'post' ? {} : undefined,
      });
      expect([route.path, wrong.status]).toEqual([route.path, 401]);
      const viewer = await server.call(route.method, path, {
        token: VIEWER_TOKEN,
        body: route.method === 'post' ? {} : undefined,
      });
      if (route.role === 'operator') expect([route.path, viewer.status]).toEqual([route.path, 403]);
      else expect([route.path, viewer.status === 401 || viewer.status === 403]).toEqual([route.path, false]);
    }
    // An operator token is accepted on viewer routes (operator includes viewer).
    expect((await server.get('/api/status', OPERATOR_TOKEN)).status).toBe(200);
  });

  it('answers a bad body with 400 naming each field path', async () => {
    const redrive = await server.post('/api/quarantine/redrive', {
      projection: 5,
      ids: [1, -2],
      confirm: 'users',
    });
    expect(redrive.status).toBe(400);
    expect(redrive.json.issues.map((issue: { path: string }) => issue.path).sort()).toEqual([
      'ids.1',
      'projection',
    ]);
    expect(redrive.json.error).toMatch(/projection: /);

    const start = await server.post('/api/cutover/start', { id: 'seven', drainTimeoutMs: -1 });
    expect(start.status).toBe(400);
    expect(start.json.issues.map((issue: { path: string }) => issue.path).sort()).toEqual([
      'confirm',
      'drainTimeoutMs',
      'id',
    ]);

    const malformed = await server.call('post', '/api/replay', {
      token: OPERATOR_TOKEN,
      rawBody: '{"projection": ',
    });
    expect(malformed.status).toBe(400);
    expect((await server.get('/api/reconcile/reports?limit=lots')).json.issues).toEqual([
      { path: 'limit', message: expect.any(String) },
    ]);
  });

  it('runs a destructive action only when confirm repeats its subject, and audits who, what, parameters and outcome', async () => {
    const before = (await auditRows()).length;
    const unconfirmed = await server.post('/api/quarantine/redrive', { projection: 'users', confirm: 'yes' });
    expect(unconfirmed.status).toBe(400);
    expect(unconfirmed.json.issues).toEqual([
      { path: 'confirm', message: expect.stringContaining('"users"') },
    ]);
    expect((await auditRows()).length).toBe(before);

    const redrive = await server.post('/api/quarantine/redrive', { projection: 'users', confirm: 'users' });
    expect(redrive.status).toBe(200);
    expect(redrive.json).toEqual({ results: [], applied: 0, quarantinedAgain: 0 });

    const abort = await server.post('/api/cutover/abort', {
      id: 424242,
      reason: 'drill',
      confirm: 'cutover:424242',
    });
    expect(abort.status).toBe(409);
    expect(abort.json.error).toMatch(/no cutover 424242/);

    const replay = await server.post('/api/replay', {
      projection: 'users',
      to: 'lsn:0/1',
      dryRun: true,
      confirm: 'users',
    });
    expect(replay.status).toBe(202);
    expect(await server.job(replay.json.id)).toMatchObject({
      state: 'succeeded',
      result: { projection: 'users', dryRun: true },
    });

    const audit = (await auditRows()).slice(before);
    expect(audit).toEqual([
      {
        operator: 'alice',
        action: 'api.quarantine.redrive',
        subject: 'users',
        details: { projection: 'users' },
        outcome: 'ok',
        error: null,
      },
      {
        operator: 'alice',
        action: 'api.cutover.abort',
        subject: 'cutover:424242',
        details: { id: 424242, reason: 'drill' },
        outcome: 'failed',
        error: expect.stringMatching(/no cutover 424242/),
      },
      {
        operator: 'alice',
        action: 'api.replay.dry-run',
        subject: 'users',
        details: { projection: 'users', to: 'lsn:0/1', dryRun: true },
        outcome: 'ok',
        error: null,
      },
    ]);
  });

  it('runs a reconciliation and serves its report as JSON and HTML', async () => {
    const run = await server.post('/api/reconcile', { projection: 'users', threshold: 1 });
    expect(run.status).toBe(202);
    const [report] = (await server.job(run.json.id)).result.reports;
    expect(report).toMatchObject({ projection: 'users', verdict: 'PASS', id: expect.any(Number) });
    const list = await server.get('/api/reconcile/reports?projection=users');
    expect(list.json[0]).toMatchObject({ id: report.id, verdict: 'PASS', sourceLsn: report.sourceLsn });
    expect((await server.get(`/api/reconcile/reports/${report.id}`)).json).toMatchObject({
      id: report.id,
      tables: expect.any(Array),
    });
    const html = await server.get(`/api/reconcile/reports/${report.id}/html`);
    expect(html.contentType).toMatch(/^text\/html/);
    expect(html.text).toContain('Reconciliation of <code>users</code>');
    expect((await server.get('/api/reconcile/reports/999999')).status).toBe(404);
    const stored = await targetQuery(
      target.url,
      `SELECT outcome FROM tandem.operator_audit WHERE action = 'api.reconcile'`,
    );
    expect(stored).toEqual([{ outcome: 'ok' }]);
  });

  it('shows status, lag and checkpoints as the databases and Kafka hold them', async () => {
    // Lag counts records: the events plus, per partition written since, the transaction's commit marker.
    const plausible = (lag: number) => lag >= later && lag <= later + 3;
    const status = await eventually(
      async () => {
        const body = (await server.get('/api/status')).json;
        return plausible(body.projections[0].lagEvents) && body.source[0].state === 'streaming'
          ? body
          : undefined;
      },
      60_000,
      `users lagging by the ${later} events written while its projector was stopped`,
    );
    expect(status.source[0]).toMatchObject({
      slot: name,
      lagBytes: expect.any(Number),
      retainedWalBytes: expect.any(Number),
    });
    const lag = (await server.get('/api/lag')).json;
    expect(lag.projections[0]).toMatchObject({
      projection: 'users',
      lagEvents: status.projections[0].lagEvents,
    });
    expect(lag.projections[0].partitions.reduce((sum: number, p: { lag: number }) => sum + p.lag, 0)).toBe(
      status.projections[0].lagEvents,
    );
    const stored = await targetQuery(
      target.url,
      `SELECT topic, partition, "offset"::int AS "offset", (pg_lsn('0/0') + commit_lsn)::text AS lsn FROM tandem.checkpoints WHERE projection = 'users' ORDER BY topic, partition`,
    );
    expect((await server.get('/api/checkpoints')).json).toEqual([
      {
        projection: 'users',
        partitions: stored.map((c) => ({
          topic: c.topic,
          partition: c.partition,
          offset: c.offset,
          commitLsn: c.lsn,
        })),
      },
    ]);
    const [highest] = await targetQuery(
      target.url,
      `SELECT (pg_lsn('0/0') + max(commit_lsn))::text AS lsn FROM tandem.checkpoints WHERE projection = 'users'`,
    );
    expect(status.projections[0].checkpointLsn).toBe(highest.lsn);
    const history = (await server.get('/api/status/history')).json;
    expect(history.intervalMs).toBe(1000);
    expect(history.samples.length).toBeGreaterThan(1);
  });

  it('exposes the Prometheus metrics with values matching the status', async () => {
    const metrics = await eventually(
      async () => {
        const response = await server.get('/metrics');
        return /tandem_reconciliation_passed\{projection="users"\} 1/.test(response.text)
          ? response
          : undefined;
      },
      30_000,
      'the reconciliation in /metrics',
    );
    expect(metrics.contentType).toMatch(/^text\/plain/);
    for (const metric of [
      'tandem_capture_events_per_second',
      'tandem_source_lag_bytes',
      'tandem_slot_retained_wal_bytes',
      'tandem_projector_lag_events',
      'tandem_batch_apply_seconds',
      'tandem_quarantined_events',
      'tandem_reconciliation_mismatch_ratio',
      'tandem_cutover_state',
    ]) {
      expect(metrics.text).toContain(`# TYPE ${metric} `);
    }
    expect(metrics.text).toMatch(new RegExp(`tandem_source_slot_streaming\\{slot="${name}"\\} 1`));
    expect(
      Number(new RegExp(`tandem_slot_retained_wal_bytes\\{slot="${name}"\\} (\\d+)`).exec(metrics.text)![1]),
    ).toBeGreaterThan(0);
    const lags = [
      ...metrics.text.matchAll(
        /tandem_projector_lag_events\{projection="users",topic="[^"]+",partition="\d"\} (\d+)/g,
      ),
    ];
    const total = lags.reduce((sum, m) => sum + Number(m[1]), 0);
    expect(total).toBe((await server.get('/api/lag')).json.projections[0].lagEvents);
    expect(total).toBeGreaterThanOrEqual(later);
    expect(metrics.text).toMatch(/tandem_quarantined_events\{projection="users"\} 0/);
  });

  it('serves an OpenAPI 3 document (public) listing every route', async () => {
    const response = await server.get('/api/openapi.json', null);
    expect(response.status).toBe(200);
    const document = response.json;
    expect(document.openapi).toMatch(/^3\./);
    for (const route of API_ROUTES) expect(document.paths[route.path][route.method]).toBeDefined();
    expect(
      document.paths['/api/quarantine/redrive'].post.requestBody.content['application/json'].schema.required,
    ).toEqual(['projection', 'confirm']);
    expect(document.paths['/api/cutover/commit'].post.responses['403']).toBeDefined();
  });

  it('never shows a connection string or a password, in any response', () => {
    expect(server.bodies.length).toBeGreaterThan(50);
    for (const body of server.bodies) {
      expect(body).not.toContain(PASSWORD);
      expect(body).not.toMatch(/postgres(ql)?:\/\//);
      expect(body).not.toMatch(/\n\s+at .+\(.*:\d+:\d+\)/);
    }
  });

  it('does not start with a missing or malformed token configuration (exit 2, naming the field, never the token)', async () => {
    const none = new TandemProcess(['serve', '--config', config, '--port', '0']);
    expect(await none.exited).toBe(2);
    expect(none.output).toMatch(/TANDEM_ADMIN_TOKENS/);
    const short = new TandemProcess(['serve', '--config', config, '--port', '0'], {
      TANDEM_ADMIN_TOKENS: 'carol:operator:tiny-secret',
    });
    expect(await short.exited).toBe(2);
    expect(short.output).toMatch(/TANDEM_ADMIN_TOKENS\[0\]\.token: must be at least 16 characters/);
    expect(short.output).not.toContain('tiny-secret');
    const role = new TandemProcess(['serve', '--config', config, '--port', '0'], {
      TANDEM_ADMIN_TOKENS: 'dave:admin:0123456789abcdef0123',
    });
    expect(await role.exited).toBe(2);
    expect(role.output).toMatch(/TANDEM_ADMIN_TOKENS\[0\]\.role/);
  });
});
