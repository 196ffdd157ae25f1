import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join, resolve } from 'path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { parse, stringify } from 'yaml';
import { AdminServer, VIEWER_TOKEN } from '../support/admin-server';
import { TandemProcess, writeConfig } from '../support/capture-process';
import { dropSlot, eventually, sql, uniqueName } from '../support/services';
import { createTargetDatabase, targetQuery } from '../support/target-db';

const ARTIFACTS = resolve(__dirname, '..', '..', '.tandem', 'artifacts');
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** The status page in Debian's headless Chromium, against capture and a projector running, checked against the databases. */
describe('status page (browser)', () => {
  const name = uniqueName('page');
  const valid = 40;
  const invalid = 3;
  let target: Awaited<ReturnType<typeof createTargetDatabase>>;
  let capture: TandemProcess;
  let projector: TandemProcess;
  let server: AdminServer;
  let failback: TandemProcess | undefined;
  let failbackApply: TandemProcess | undefined;
  let configFile: string;
  let context: BrowserContext;
  let profile: string;

  const stored = async () => {
    const [quarantine] = await targetQuery(
      target.url,
      `SELECT count(*)::int AS n FROM tandem.quarantine WHERE projection = 'users' AND status = 'quarantined'`,
    );
    const [checkpoint] = await targetQuery(
      target.url,
      `SELECT (pg_lsn('0/0') + max(commit_lsn))::text AS lsn FROM tandem.checkpoints WHERE projection = 'users'`,
    );
    const [reconciliation] = await targetQuery(
      target.url,
      `SELECT id, verdict FROM tandem.reconciliations WHERE projection = 'users' ORDER BY id DESC LIMIT 1`,
    );
    return { quarantined: String(quarantine.n), checkpointLsn: checkpoint.lsn as string, reconciliation };
  };
  const shown = (page: Page, testId: string) => page.getByTestId(testId).textContent({ timeout: 30_000 });

  beforeAll(async () => {
    target = await createTargetDatabase('page');
    await sql(`CREATE SCHEMA ${name}`);
    await sql(`CREATE TABLE ${name}.auth_users (id text PRIMARY KEY, email text NOT NULL, display_name text, instance_name text,
               raw_user_meta_data jsonb, encrypted_password text, created_at timestamptz NOT NULL DEFAULT now())`);
    await sql(
      `INSERT INTO ${name}.auth_users (id, email) SELECT gen_random_uuid()::text, 'u' || g || '@example.com' FROM generate_series(1, ${valid}) g`,
    );
    // Rows the users recipe refuses: they are quarantined with their reason, the stream goes on.
    await sql(
      `INSERT INTO ${name}.auth_users (id, email) SELECT gen_random_uuid()::text, 'not-an-address-' || g FROM generate_series(1, ${invalid}) g`,
    );
    const config = writeConfig({
      prefix: name,
      slot: name,
      publication: name,
      tables: [`${name}.auth_users`],
      targetUrl: target.url,
      projections: [{ recipe: 'users', sourceSchema: name }],
    });
    configFile = config;
    // the last test commits a cutover, and failback carries the target's writes back
    await sql(`CREATE ROLE ${name}_app LOGIN`);
    writeFileSync(config, stringify({ ...parse(readFileSync(config, 'utf8')), cutover: { applicationRoles: [`${name}_app`] }, failback: {} }));
    capture = TandemProcess.capture(config);
    await capture.waitForLog(/streaming changes/, 240_000);
    projector = TandemProcess.project(config, '--metrics-port', '0');
    await eventually(
      async () => (await stored()).quarantined === String(invalid),
      240_000,
      `${invalid} quarantined users`,
    );
    await eventually(
      async () =>
        Number((await targetQuery(target.url, 'SELECT count(*) AS n FROM users.users'))[0].n) === valid,
      120_000,
      `${valid} users`,
    );
    server = await AdminServer.start(config);
    const run = await server.post('/api/reconcile', { projection: 'users' });
    expect(run.status).toBe(202);
    expect((await server.job(run.json.id)).state).toBe('succeeded');
    profile = mkdtempSync(join(tmpdir(), 'tandem-chromium-'));
    context = await chromium.launchPersistentContext(profile, {
      executablePath: '/usr/bin/chromium',
      headless: true,
      args: CHROMIUM_ARGS,
    });
  }, 900_000);

  afterAll(async () => {
    await context?.close();
    if (profile) rmSync(profile, { recursive: true, force: true });
    await server?.stop();
    await failbackApply?.stop();
    await failback?.stop();
    await projector?.stop();
    await capture?.stop();
    await dropSlot(name);
    await sql(`DROP SCHEMA IF EXISTS ${name} CASCADE`);
    await sql(`ALTER ROLE ${name}_app RESET ALL`).catch(() => undefined);
    await sql(`DROP ROLE IF EXISTS ${name}_app`).catch(() => undefined);
    if (target) await targetQuery(target.url, `SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1 AND NOT active`, [`${name}_failback`]).catch(() => undefined);
    await target?.drop();
  });

  it("exposes the projector's batch apply latency on its own metrics port", async () => {
    const port = /"port":(\d+)[^\n]*projector metrics on \/metrics/.exec(projector.output)![1];
    const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    expect(
      Number(/tandem_batch_apply_seconds_count\{projection="users"\} (\d+)/.exec(text)![1]),
    ).toBeGreaterThan(0);
    expect(
      Number(/tandem_projector_events_applied_total\{projection="users"\} (\d+)/.exec(text)![1]),
    ).toBeGreaterThanOrEqual(valid);
  });

  it('shows no data without a token, nor with a refused one', async () => {
    const page = await context.newPage();
    await page.goto(`${server.baseUrl}/`);
    await page.locator('#login').waitFor({ state: 'visible' });
    expect(await page.locator('#projections tr').count()).toBe(0);
    await page.fill('#token-input', 'wrong-token-000000000000');
    await page.click('#login-form button');
    await page.getByText('that token was refused').waitFor();
    expect(await page.locator('#projections tr').count()).toBe(0);
    await page.close();
  });

  it('shows the quarantine count, checkpoint, verdict and cutover state the databases hold, live', async () => {
    const page = await context.newPage();
    await page.setViewportSize({ width: 1280, height: 1100 });
    await page.goto(`${server.baseUrl}/#token=${VIEWER_TOKEN}`);
    expect(page.url()).not.toContain(VIEWER_TOKEN); // taken out of the address bar

    const expected = await stored();
    expect(await shown(page, 'quarantined-users')).toBe(expected.quarantined);
    expect(await shown(page, 'quarantine-count-users')).toBe(expected.quarantined);
    expect(await page.locator('#quarantine li').count()).toBe(invalid);
    expect(await page.locator('#quarantine').textContent()).toContain('invalid e-mail address');
    expect(await shown(page, 'checkpoint-users')).toBe(expected.checkpointLsn);
    expect(await shown(page, 'verdict-users')).toBe(expected.reconciliation.verdict);
    expect(await shown(page, 'cutover-state')).toBe('no cutover recorded');

    // Live writes: the page follows the projector without a reload.
    await sql(
      `INSERT INTO ${name}.auth_users (id, email) SELECT gen_random_uuid()::text, 'live' || g || '@example.com' FROM generate_series(1, 30) g`,
    );
    await sql(
      `INSERT INTO ${name}.auth_users (id, email) VALUES (gen_random_uuid()::text, 'still-not-an-address')`,
    );
    await eventually(
      async () => {
        const now = await stored();
        return now.quarantined === String(invalid + 1) &&
          (await shown(page, 'quarantined-users')) === now.quarantined &&
          (await shown(page, 'checkpoint-users')) === now.checkpointLsn &&
          (await shown(page, 'lag-users')) === '0'
          ? now
          : undefined;
      },
      120_000,
      'the page to show the new checkpoint and quarantine count',
    );

    // The charts have lines once there are a few samples.
    // Not waitFor(visible): a flat line (lag 0 throughout) has a zero-height box, which Playwright calls hidden.
    // one unit per chart: source lag in KiB, projection lag in events, throughput in events/s
    expect(await page.locator('#source-lag-chart .legend').textContent()).toMatch(/^■ source lag \(KiB\)$/);
    expect(await page.locator('#lag-chart .legend').textContent()).not.toContain('KiB');
    expect(await page.locator('#lag-chart .legend').textContent()).toContain('users (events)');
    expect(await page.locator('#rate-chart .legend').textContent()).toContain('(events/s)');
    for (const chart of ['#source-lag-chart', '#lag-chart', '#rate-chart']) {
      const line = page.locator(`${chart} svg polyline`).first();
      await eventually(
        async () => {
          if ((await line.count()) === 0) return undefined;
          const points = (await line.getAttribute('points'))?.trim().split(/\s+/) ?? [];
          return points.length >= 2 ? points : undefined;
        },
        30_000,
        `a line of two or more samples in ${chart}`,
      );
    }
    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: join(ARTIFACTS, 'status-page.png'), fullPage: true });

    // The report link opens the stored HTML report, loaded with the token.
    const opened = context.waitForEvent('page');
    await page.getByTestId('report-link-users').click();
    const report = await opened;
    await report.waitForLoadState();
    expect(await report.locator('h1').textContent()).toBe(
      `Reconciliation of users: ${expected.reconciliation.verdict}`,
    );
    await report.close();
    await page.close();
  });

  it('shows failback after a cutover commit: capture streaming, the records waiting for legacy, then caught up, live', async () => {
    const page = await context.newPage();
    await page.setViewportSize({ width: 1280, height: 1400 });
    await page.goto(`${server.baseUrl}/#token=${VIEWER_TOKEN}`);
    expect(await shown(page, 'failback-state')).toBe('no failback running');

    // the invalid users stay quarantined: the verified gate does not count them
    for (const args of [['plan'], ['start', '--commit', '--accept-quarantined']]) {
      const step = new TandemProcess(['cutover', ...args, '--config', configFile, '--operator', 'alice']);
      const code = await step.exited;
      if (code !== 0) throw new Error(`tandem cutover ${args.join(' ')} exited ${code}:\n${step.output.slice(-3000)}`);
    }
    // failback capture first, alone: the target's writes then wait in Kafka, and the page shows them
    failback = new TandemProcess(['failback', 'start', '--config', configFile, '--only', 'capture']);
    // failback capture first waits to lead its slot: slow on a loaded machine
    await eventually(async () => (await shown(page, 'failback-state')) === 'streaming', 300_000, 'the page to show failback capture streaming').catch(async (error: Error) => {
      throw new Error(`${error.message}\npage: ${await page.locator('#failback').textContent()}\nfailback said:\n${failback!.output.slice(-3000)}`);
    });

    // the application, now on the target, renames users: the page follows them into legacy
    await targetQuery(target.url, `UPDATE users.users SET name = 'Written in the target' WHERE email LIKE 'live1%'`);
    const renamed = Number((await targetQuery(target.url, `SELECT count(*) AS n FROM users.users WHERE name = 'Written in the target'`))[0].n);
    await eventually(
      async () => (Number(await shown(page, 'failback-lag-users')) >= renamed && (await shown(page, 'failback-caught-up')) === 'behind' ? true : undefined),
      120_000,
      'the page to show the records waiting to be applied to legacy',
    );
    failbackApply = new TandemProcess(['failback', 'start', '--config', configFile, '--only', 'apply']);
    await failbackApply.waitForLog(/failback applier running/);
    await eventually(
      async () => Number((await sql(`SELECT count(*) AS n FROM ${name}.auth_users WHERE display_name = 'Written in the target'`))[0].n) === renamed,
      120_000,
      'the target writes in legacy',
    );
    await eventually(
      async () => ((await shown(page, 'failback-lag-users')) === '0' && (await shown(page, 'failback-caught-up')) === 'caught up' ? true : undefined),
      60_000,
      'the page to show failback caught up',
    );
    expect(await shown(page, 'failback-quarantined-users')).toBe('0');
    expect(await page.locator('#failback').textContent()).toMatch(/failback of cutover #\d+: capture streaming/);
    expect(await shown(page, 'cutover-state')).toBe('committed');
    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: join(ARTIFACTS, 'status-page-failback.png'), fullPage: true });
    await page.close();
  });
});
