import { readFileSync, writeFileSync } from 'fs';
import { Client } from 'pg';
import { parse, stringify } from 'yaml';
import { TandemProcess, writeConfig } from '../support/capture-process';
import { createTargetDatabase, targetQuery } from '../support/target-db';
import { dropSlot, env, eventually, sql, uniqueName } from '../support/services';

/** tandem cutover on the users recipe: gates that block (lag, failed reconciliation), abort, commit. */
describe('cutover: users', () => {
  const name = uniqueName('cut');
  const schema = name;
  const role = `${name}_app`;
  let target: Awaited<ReturnType<typeof createTargetDatabase>>;
  let config: string;
  let capture: TandemProcess;
  let projector: TandemProcess;
  let appUrl: string;
  let written = 0;

  /** Writes as the legacy application would, through its own role. */
  const appWrite = async (): Promise<void> => {
    const client = new Client({ connectionString: appUrl });
    await client.connect();
    try {
      written++;
      await client.query(`INSERT INTO ${schema}.auth_users (id, email) VALUES (gen_random_uuid()::text, $1)`, [`app${written}@example.com`]);
    } finally {
      await client.end();
    }
  };
  const cutover = async (...args: string[]) => {
    const run = new TandemProcess(['cutover', ...args, '--config', config, '--json', '--operator', 'alice']);
    const code = await run.exited;
    let record: any = null;
    try {
      record = JSON.parse(run.stdout);
    } catch {
      // a refusal prints its reason on stderr
    }
    return { code, record, output: run.output };
  };
  const status = async () => (await cutover('status')).record;
  const sourceCount = async () => Number((await sql(`SELECT count(*) AS n FROM ${schema}.auth_users`))[0].n);
  const waitForProjection = async () => {
    const n = await sourceCount();
    await eventually(async () => Number((await targetQuery(target.url, 'SELECT count(*) AS n FROM users.users'))[0].n) === n, 60_000, `${n} users`);
  };

  beforeAll(async () => {
    target = await createTargetDatabase('cut');
    await sql(`CREATE SCHEMA ${schema}`);
    await sql(`CREATE TABLE ${schema}.auth_users (id text PRIMARY KEY, email text NOT NULL, display_name text, instance_name text,
               raw_user_meta_data jsonb, encrypted_password text, created_at timestamptz NOT NULL DEFAULT now())`);
    await sql(`INSERT INTO ${schema}.auth_users (id, email, display_name)
               SELECT gen_random_uuid()::text, 'user' || g || '@example.com', 'User ' || g FROM generate_series(1, 2000) g`);
    await sql(`CREATE ROLE ${role} LOGIN PASSWORD 'app'`);
    await sql(`GRANT USAGE ON SCHEMA ${schema} TO ${role}`);
    await sql(`GRANT SELECT, INSERT, UPDATE, DELETE ON ${schema}.auth_users TO ${role}`);
    const url = new URL(env.sourceUrl());
    url.username = role;
    url.password = 'app';
    appUrl = url.toString();
    config = writeConfig({
      prefix: name,
      slot: name,
      publication: name,
      tables: [`${schema}.auth_users`],
      targetUrl: target.url,
      projections: [{ recipe: 'users', sourceSchema: schema }],
    });
    writeFileSync(config, stringify({ ...parse(readFileSync(config, 'utf8')), cutover: { applicationRoles: [role] } }));
    capture = TandemProcess.capture(config);
    await capture.waitForLog(/streaming changes/);
    projector = TandemProcess.project(config);
    await waitForProjection();
  });

  afterAll(async () => {
    await projector?.stop();
    await capture?.stop();
    await dropSlot(name);
    await sql(`ALTER ROLE ${role} RESET ALL`).catch(() => undefined);
    await sql(`DROP OWNED BY ${role}`).catch(() => undefined);
    await sql(`DROP ROLE IF EXISTS ${role}`).catch(() => undefined);
    await target?.drop();
  });

  it('blocks on lag at the drained gate, says why, and unfreezes', async () => {
    await projector.stop();
    for (let i = 0; i < 20; i++) await appWrite();
    expect((await cutover('plan')).code).toBe(0);
    const { code, output } = await cutover('start', '--drain-timeout', '3000');
    expect(code).toBe(8);
    expect(output).toMatch(/drained gate: projections still lag the freeze position .*applied up to offset \d+, end offset \d+/);
    const record = await status();
    expect(record).toMatchObject({ state: 'aborted', operator: 'alice', reason: expect.stringContaining('drained gate') });
    expect(record.history.map((h: { state: string }) => h.state)).toEqual(['parallel', 'frozen', 'aborted']);
    await appWrite(); // unfrozen: the application writes again
    projector = TandemProcess.project(config);
    await waitForProjection();
  });

  it('blocks on a failed reconciliation at the verified gate, and unfreezes', async () => {
    const [changed] = await targetQuery(
      target.url,
      `UPDATE users.users u SET name = 'Mallory' FROM (SELECT id, name AS old FROM users.users WHERE email = 'user10@example.com') o
        WHERE u.id = o.id RETURNING o.old`,
    );
    try {
      expect((await cutover('plan')).code).toBe(0);
      const { code, output } = await cutover('start');
      expect(code).toBe(8);
      expect(output).toMatch(/verified gate: reconciliation \d+ of users is FAIL/);
      const record = await status();
      expect(record).toMatchObject({ state: 'aborted', freezeLsn: expect.stringMatching(/\//), reconciliationIds: [expect.any(Number)] });
      expect(record.history.map((h: { state: string }) => h.state)).toEqual(['parallel', 'frozen', 'drained', 'aborted']);
      await appWrite();
    } finally {
      await targetQuery(target.url, `UPDATE users.users SET name = $1 WHERE email = 'user10@example.com'`, [changed.old]);
    }
    await waitForProjection();
  });

  it('refuses legacy writes while frozen, and abort unfreezes', async () => {
    expect((await cutover('plan')).code).toBe(0);
    const started = await cutover('start');
    expect(started.code).toBe(0);
    expect(started.record.state).toBe('verified');
    await expect(appWrite()).rejects.toThrow(/read-only transaction/);
    const aborted = await cutover('abort', '--reason', 'rehearsal');
    expect(aborted.record).toMatchObject({ state: 'aborted', reason: 'rehearsal' });
    await appWrite();
    await waitForProjection();
  });

  it('after a clean reconciliation, verifies only the rows changed since, and a difference among them fails the gate', async () => {
    const [base] = await targetQuery(target.url, "SELECT id FROM tandem.reconciliations WHERE verdict = 'PASS' ORDER BY id DESC LIMIT 1");
    for (let i = 0; i < 3; i++) await appWrite();
    await waitForProjection();
    const email = `app${written}@example.com`;
    await targetQuery(target.url, `UPDATE users.users SET name = 'Mallory' WHERE email = $1`, [email]);
    try {
      expect((await cutover('plan')).code).toBe(0);
      const { code, output } = await cutover('start');
      expect(code).toBe(8);
      expect(output).toMatch(/verified gate: reconciliation \d+ of users is FAIL/);
      const [report] = await targetQuery(target.url, 'SELECT report FROM tandem.reconciliations WHERE id = $1', [(await status()).reconciliationIds[0]]);
      // the rows written since that reconciliation (this test's three, and the one before), not the 2,000 others
      const changed = report.report.verifiedSince.changedKeys;
      expect(report.report.verifiedSince.reconciliationId).toBe(Number(base.id));
      expect(changed).toBeGreaterThanOrEqual(3);
      expect(changed).toBeLessThan(10);
      expect(report.report.tables[0]).toMatchObject({ mismatched: 1, missing: 0, extra: 0, sourceCount: changed, targetCount: changed });
      expect(report.report.tables[0].sample[0].columns.name[1]).toBe('Mallory');
    } finally {
      await targetQuery(target.url, `UPDATE users.users SET name = split_part(email, '@', 1) WHERE email = $1`, [email]);
    }
    await appWrite();
    await waitForProjection();
  });

  it('commits: records freeze LSN, offsets, reconciliation, backup, operator, and the freeze window', async () => {
    expect((await cutover('plan')).code).toBe(0);
    const started = await cutover('start');
    expect(started.code).toBe(0);
    const { code, record } = await cutover('commit');
    expect(code).toBe(0);
    expect(record).toMatchObject({ state: 'committed', operator: 'alice', freezeLsn: expect.stringMatching(/^[0-9A-F]+\/[0-9A-F]+$/) });
    expect(Object.keys(record.offsets.users).length).toBe(3);
    expect(record.freezeWindowMs).toBeGreaterThan(0);
    const at = (state: string) => Date.parse(record.history.find((h: { state: string }) => h.state === state).at);
    process.stdout.write(
      `cutover ${record.id}: write-freeze window ${record.freezeWindowMs} ms (frozen→drained ${at('drained') - at('frozen')} ms, →verified ${at('verified') - at('drained')} ms, →committed ${at('committed') - at('verified')} ms, of which CLI start-up of the separate commit command)\n`,
    );
    const [stored] = await targetQuery(target.url, 'SELECT reconciliation_ids, backup_ids, committed_at FROM tandem.cutovers WHERE id = $1', [record.id]);
    const [reconciliation] = await targetQuery(target.url, 'SELECT verdict FROM tandem.reconciliations WHERE id = $1', [stored.reconciliation_ids[0]]);
    expect(reconciliation.verdict).toBe('PASS');
    const [backup] = await targetQuery(target.url, 'SELECT schema_name, kind, operator FROM tandem.backups WHERE id = $1', [stored.backup_ids[0]]);
    expect(backup).toMatchObject({ kind: 'cutover', operator: 'alice' });
    const [copy] = await targetQuery(target.url, `SELECT count(*)::int AS n FROM "${backup.schema_name}".users`);
    expect(copy.n).toBe(await sourceCount());
    await expect(appWrite()).rejects.toThrow(/read-only transaction/); // the legacy database stays frozen
    const audit = await targetQuery(target.url, `SELECT action FROM tandem.operator_audit WHERE subject = $1 ORDER BY id`, [`cutover:${record.id}`]);
    expect(audit.map((a) => a.action)).toEqual(['cutover.plan', 'cutover.frozen', 'cutover.drained', 'cutover.verified', 'cutover.committed']);
  });

  it('start --commit freezes, drains, verifies and commits in one process while the application writes; nothing committed is lost', async () => {
    await sql(`ALTER ROLE ${role} RESET default_transaction_read_only`); // the previous test left the legacy database frozen
    let writing = true;
    const committed: string[] = [];
    let refused = 0;
    const writer = (async () => {
      let i = 0;
      while (writing) {
        const client = new Client({ connectionString: appUrl });
        client.on('error', () => undefined); // the freeze terminates the application's sessions
        try {
          await client.connect();
          while (writing) {
            const email = `during${++i}@example.com`;
            await client.query(`INSERT INTO ${schema}.auth_users (id, email) VALUES (gen_random_uuid()::text, $1)`, [email]);
            committed.push(email);
          }
        } catch (error) {
          if (/read-only transaction/.test((error as Error).message)) refused++;
          await new Promise((resolve) => setTimeout(resolve, 20));
        } finally {
          await client.end().catch(() => undefined);
        }
      }
    })();
    try {
      await eventually(async () => committed.length >= 20, 30_000, 'the application writing');
      expect((await cutover('plan')).code).toBe(0);
      const { code, record, output } = await cutover('start', '--commit');
      expect({ code, output: code === 0 ? '' : output }).toEqual({ code: 0, output: '' });
      expect(record.state).toBe('committed');
      expect(record.history.map((h: { state: string }) => h.state)).toEqual(['parallel', 'frozen', 'drained', 'verified', 'committed']);
      await eventually(async () => refused > 0, 30_000, 'writes refused while frozen');
    } finally {
      writing = false;
      await writer;
    }
    // every write the application saw committed is in the legacy table and in the projection
    const inTarget = await targetQuery(target.url, `SELECT email FROM users.users WHERE email LIKE 'during%'`);
    expect(inTarget.map((row) => row.email).sort()).toEqual([...committed].sort());
    const [{ n: legacy }] = await sql(`SELECT count(*)::int AS n FROM ${schema}.auth_users WHERE email LIKE 'during%'`);
    expect(legacy).toBe(committed.length);
    const [reconciliation] = await targetQuery(target.url, 'SELECT verdict FROM tandem.reconciliations WHERE id = $1', [(await status()).reconciliationIds[0]]);
    expect(reconciliation.verdict).toBe('PASS');
    await expect(appWrite()).rejects.toThrow(/read-only transaction/);
  });
});
