import { execFileSync } from 'child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'fs';
import https from 'https';
import { tmpdir } from 'os';
import { join } from 'path';
import { Pool } from 'pg';
import { parse, stringify } from 'yaml';
import { applyMigrations } from '../../src/connectors/postgres-target/migrations';
import { usersProjection } from '../../src/projections/users/users.projection';
import { AdminServer, OPERATOR_TOKEN, VIEWER_TOKEN } from '../support/admin-server';
import { writeConfig } from '../support/capture-process';
import { sql, uniqueName } from '../support/services';
import { createTargetDatabase, targetQuery } from '../support/target-db';
import { isLoopbackHost, SERVER_TIMEOUTS } from '../../src/modules/admin/admin-server';
import { REPORT_CONTENT_SECURITY_POLICY } from '../../src/modules/reconciliation/reconciliation-report';

/** The admin API in this process against the real databases and Kafka: strict input, auth first, paging, jobs, headers. */
describe('admin API hardening (in process)', () => {
  const name = uniqueName('admh');
  const quarantined = 230;
  let target: Awaited<ReturnType<typeof createTargetDatabase>>;
  let config: string;
  let server: AdminServer;

  beforeAll(async () => {
    target = await createTargetDatabase('admh');
    await sql(`CREATE SCHEMA ${name}`);
    await sql(`CREATE TABLE ${name}.auth_users (id text PRIMARY KEY, email text NOT NULL, display_name text, instance_name text,
               raw_user_meta_data jsonb, encrypted_password text, created_at timestamptz NOT NULL DEFAULT now())`);
    config = writeConfig({
      prefix: name,
      slot: name,
      publication: name,
      tables: [`${name}.auth_users`],
      targetUrl: target.url,
      projections: [{ recipe: 'users', sourceSchema: name }],
    });
    server = await AdminServer.inProcess(config);
    // The users projection's tables, as its projector creates them at start.
    const users = usersProjection(name);
    const pool = new Pool({ connectionString: target.url });
    await applyMigrations(pool, users.name, users.schema, users.migrations).finally(() => pool.end());
    await targetQuery(
      target.url,
      `INSERT INTO tandem.quarantine (projection, topic, partition, "offset", source_key, event, reason)
       SELECT 'users', '${name}.${name}.auth_users', 0, g, '{"id":"' || g || '"}', jsonb_build_object('payload', repeat('x', 2000)), 'invalid row ' || g
         FROM generate_series(1, ${quarantined}) g`,
    );
  }, 240_000);

  afterAll(async () => {
    await server?.stop();
    await sql(`DROP SCHEMA IF EXISTS ${name} CASCADE`);
    await target?.drop();
  });

  it('authenticates before it reads a body: unauthenticated malformed or oversized bodies get 401, not 400 or 413', async () => {
    for (const token of [null, 'not-a-token-of-this-server', undefined]) {
      const malformed = await server.call('post', '/api/quarantine/redrive', { token, rawBody: '{bad' });
      expect(malformed.status).toBe(401);
      const huge = await server.call('post', '/api/reconcile', { token, rawBody: `{"x":"${'a'.repeat(200_000)}"}` });
      expect(huge.status).toBe(401);
    }
    const authenticated = await server.call('post', '/api/quarantine/redrive', { token: OPERATOR_TOKEN, rawBody: '{bad' });
    expect(authenticated.status).toBe(400);
    expect(authenticated.json.error).toBe('the request body is not valid JSON');
  });

  it('refuses a 200 KB body with 413 and never answers 500 to a bad id', async () => {
    const huge = await server.call('post', '/api/quarantine/redrive', {
      token: OPERATOR_TOKEN,
      rawBody: JSON.stringify({ projection: 'users', confirm: 'users', pad: 'a'.repeat(200_000) }),
    });
    expect(huge.status).toBe(413);
    expect(huge.json.error).toMatch(/larger than 65536 bytes/);

    for (const id of ['99999999999999999999', '9007199254740992', 'abc', '0', '-1', '1.5', '1e3']) {
      for (const path of [`/api/reconcile/reports/${id}`, `/api/reconcile/reports/${id}/html`]) {
        const response = await server.get(path);
        expect([path, response.status]).toEqual([path, 400]);
      }
      const cutover = await server.get(`/api/cutover?id=${id}`);
      expect([id, cutover.status]).toEqual([id, 400]);
    }
    for (const ids of [[1e20], [Number.MAX_SAFE_INTEGER + 1], [1.5]]) {
      const redrive = await server.post('/api/quarantine/redrive', { projection: 'users', ids, confirm: 'users' });
      expect(redrive.status).toBe(400);
      expect(redrive.json.issues[0].path).toBe('ids.0');
    }
    const restore = await server.post('/api/backups/restore', { id: 1e300, confirm: 'backup:1e+300' });
    expect(restore.status).toBe(400);
    expect((await server.get('/api/jobs/not-a-job')).status).toBe(400);
    expect((await server.get('/api/jobs/8a7c3b0e-6a53-4c89-9d5b-0c6a1f0e2d11')).status).toBe(404);
    expect((await server.get('/api/reconcile/reports/9007199254740991')).status).toBe(404);
  });

  it('pages the quarantine with a capped limit and leaves event payloads out', async () => {
    const first = await server.get('/api/quarantine?projection=users');
    expect(first.status).toBe(200);
    expect(first.json.events).toHaveLength(100);
    expect(first.json.events[0]).not.toHaveProperty('event');
    expect(first.text).not.toContain('xxxxxxxx');
    const ids: number[] = [];
    let after: number | null = null;
    do {
      const query: string = after === null ? '' : `&afterId=${after}`;
      const page = await server.get(`/api/quarantine?projection=users&limit=70${query}`);
      expect(page.json.events.length).toBeLessThanOrEqual(70);
      ids.push(...page.json.events.map((e: { id: number }) => e.id));
      after = page.json.nextAfterId;
    } while (after !== null);
    expect(ids).toHaveLength(quarantined);
    expect([...ids].sort((a, b) => a - b)).toEqual(ids);
    expect(new Set(ids).size).toBe(quarantined);
    for (const limit of ['501', '0', 'all', '100000'])
      expect((await server.get(`/api/quarantine?limit=${limit}`)).json.issues).toEqual([
        { path: 'limit', message: 'must be a whole number from 1 to 500' },
      ]);
    expect((await server.get('/api/quarantine?limit=500')).json.events).toHaveLength(quarantined);
  });

  it('runs a reconciliation as a job that is polled (202), and serves its report with a strict CSP and nosniff', async () => {
    const started = await server.post('/api/reconcile', { projection: 'users', threshold: 1 });
    expect(started.status).toBe(202);
    expect(started.json).toMatchObject({ id: expect.any(String), action: 'reconcile', state: 'running', operator: 'alice' });
    const job = await server.job(started.json.id);
    expect(job.error).toBeUndefined();
    expect(job).toMatchObject({ state: 'succeeded', result: { verdict: 'PASS' } });
    const [report] = job.result.reports;
    const html = await fetch(`${server.baseUrl}/api/reconcile/reports/${report.id}/html`, {
      headers: { authorization: `Bearer ${VIEWER_TOKEN}` },
    });
    expect(html.status).toBe(200);
    expect(html.headers.get('content-security-policy')).toBe(REPORT_CONTENT_SECURITY_POLICY);
    expect(html.headers.get('x-content-type-options')).toBe('nosniff');
    const json = await fetch(`${server.baseUrl}/api/reconcile/reports/${report.id}`, {
      headers: { authorization: `Bearer ${VIEWER_TOKEN}` },
    });
    expect(json.headers.get('content-security-policy')).toMatch(/^default-src 'none'/);
    expect(json.headers.get('x-content-type-options')).toBe('nosniff');
    const audit = await targetQuery(target.url, `SELECT operator, outcome FROM tandem.operator_audit WHERE action = 'api.reconcile'`);
    expect(audit).toEqual([{ operator: 'alice', outcome: 'ok' }]);
  });

  it('serves the status page with script and style hashes, never unsafe-inline', async () => {
    const page = await fetch(`${server.baseUrl}/`);
    const policy = page.headers.get('content-security-policy')!;
    expect(policy).toMatch(/^default-src 'none'/);
    expect(policy).toMatch(/script-src 'sha256-[A-Za-z0-9+/]+=*'(;|$)/);
    expect(policy).not.toContain('unsafe-inline');
    expect(page.headers.get('x-content-type-options')).toBe('nosniff');
  });

  it('has finite timeouts and warns when it listens beyond loopback', async () => {
    for (const value of Object.values(SERVER_TIMEOUTS)) {
      expect(value).toBeGreaterThan(0);
      expect(value).toBeLessThanOrEqual(120_000);
    }
    expect(server.timeouts()).toEqual({
      requestTimeout: SERVER_TIMEOUTS.requestTimeoutMs,
      headersTimeout: SERVER_TIMEOUTS.headersTimeoutMs,
      keepAliveTimeout: SERVER_TIMEOUTS.keepAliveTimeoutMs,
    });
    expect(server.log.join('\n')).not.toMatch(/without TLS/);
    const open = await AdminServer.inProcess(config, '0.0.0.0');
    try {
      expect(open.log.join('\n')).toMatch(/"level":"warn".*listens beyond this machine without TLS/);
    } finally {
      await open.stop();
    }
    // With admin.tls it speaks HTTPS (HSTS on every answer) and has nothing to warn about.
    const dir = mkdtempSync(join(tmpdir(), 'tandem-tls-'));
    const [cert, key] = [join(dir, 'cert.pem'), join(dir, 'key.pem')];
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
    const raw = parse(readFileSync(config, 'utf8'));
    const tlsConfig = join(dir, 'tandem.yaml');
    writeFileSync(tlsConfig, stringify({ ...raw, admin: { ...raw.admin, tls: { cert, key } } }));
    const secure = await AdminServer.inProcess(tlsConfig, '0.0.0.0');
    try {
      expect(secure.baseUrl).toMatch(/^https:/);
      expect(secure.log.join('\n')).not.toMatch(/without TLS/);
      const answer = await new Promise<{ status: number; hsts: unknown }>((resolve, reject) =>
        https
          .get(`${secure.baseUrl}/api/openapi.json`, { ca: readFileSync(cert) }, (response) => {
            response.resume();
            resolve({ status: response.statusCode!, hsts: response.headers['strict-transport-security'] });
          })
          .on('error', reject),
      );
      expect(answer).toEqual({ status: 200, hsts: 'max-age=31536000' });
    } finally {
      await secure.stop();
    }
    expect(['127.0.0.1', '127.1.2.3', 'localhost', '::1', '[::1]'].every(isLoopbackHost)).toBe(true);
    expect(['0.0.0.0', '::', '10.0.0.5', 'tandem.internal', '192.168.1.2'].some(isLoopbackHost)).toBe(false);
  });
});
