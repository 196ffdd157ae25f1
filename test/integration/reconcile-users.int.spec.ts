import { mkdtempSync, readFileSync, readdirSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { TandemProcess, writeConfig } from '../support/capture-process';
import { createTargetDatabase, targetQuery } from '../support/target-db';
import { dropSlot, eventually, sql, uniqueName } from '../support/services';

/** Reconciliation of the users recipe: clean, corrupted, and under a continuous write load. */
describe('reconcile: users', () => {
  const name = uniqueName('recon');
  const schema = name;
  let target: Awaited<ReturnType<typeof createTargetDatabase>>;
  let config: string;
  let capture: TandemProcess;
  let projector: TandemProcess;

  const reconcile = async (...extra: string[]) => {
    const run = new TandemProcess(['reconcile', '--config', config, '--json', ...extra]);
    const code = await run.exited;
    if (!run.stdout.startsWith('[')) throw new Error(`tandem reconcile (exit ${code}) printed no JSON:\n${run.output}`);
    return { code, reports: JSON.parse(run.stdout), output: run.output };
  };
  const waitForProjection = (n: number) =>
    eventually(async () => Number((await targetQuery(target.url, 'SELECT count(*) AS n FROM users.users'))[0].n) === n, 60_000, `${n} users`);

  beforeAll(async () => {
    target = await createTargetDatabase('recon');
    await sql(`CREATE SCHEMA ${schema}`);
    await sql(`CREATE TABLE ${schema}.auth_users (id text PRIMARY KEY, email text NOT NULL, display_name text, instance_name text,
               raw_user_meta_data jsonb, encrypted_password text, created_at timestamptz NOT NULL DEFAULT now())`);
    await sql(`INSERT INTO ${schema}.auth_users (id, email, display_name)
               SELECT gen_random_uuid()::text, 'user' || g || '@example.com', CASE WHEN g % 3 = 0 THEN 'User ' || g END FROM generate_series(1, 20000) g`);
    await sql(`INSERT INTO ${schema}.auth_users (id, email) VALUES (gen_random_uuid()::text, 'broken-address')`);
    config = writeConfig({
      prefix: name,
      slot: name,
      publication: name,
      tables: [`${schema}.auth_users`],
      targetUrl: target.url,
      projections: [{ recipe: 'users', sourceSchema: schema }],
    });
    capture = TandemProcess.capture(config);
    await capture.waitForLog(/streaming changes/);
    projector = TandemProcess.project(config);
    await waitForProjection(20000);
  });

  afterAll(async () => {
    await projector.stop();
    await capture.stop();
    await dropSlot(name);
    await target.drop();
  });

  it('counts a quarantined row against the threshold, saying how many and why', async () => {
    const { code, reports, output } = await reconcile('--threshold', '0');
    expect(code).toBe(6);
    expect(reports[0]).toMatchObject({
      verdict: 'FAIL',
      acceptQuarantined: false,
      mismatchRatio: 1 / 20001,
      quarantined: { total: 1, byReason: { [`invalid ${schema}.auth_users row`]: 1 } },
    });
    const markdown = new TandemProcess(['reconcile', '--config', config, '--threshold', '0']);
    expect(await markdown.exited).toBe(6);
    // the Markdown escapes punctuation (\\. \\( \\_): read it without the backslashes
    expect(markdown.stdout.replace(/\\/g, '')).toContain(
      `FAIL: mismatch ratio 0.0050 % (threshold 0.0000 %); 1 row quarantined (1 invalid ${schema}.auth_users row), counted as differences`,
    );
    expect(output).not.toContain('PASS');
  });

  it('passes with --accept-quarantined, records that in the report, reports the quarantined row as quarantined, and writes the reports', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tandem-recon-'));
    const { code, reports } = await reconcile('--report', dir, '--threshold', '0', '--accept-quarantined');
    expect(code).toBe(0);
    const [report] = reports;
    expect(report).toMatchObject({ projection: 'users', verdict: 'PASS', acceptQuarantined: true, sourceLsn: expect.stringMatching(/^[0-9A-F]+\/[0-9A-F]+$/) });
    expect(report.tables[0]).toMatchObject({ table: 'users', sourceCount: 20001, targetCount: 20000, matched: 20000, missing: 0, extra: 0, mismatched: 0, quarantined: 1 });
    expect(report.tables[0].quarantinedSample[0].reason).toContain('invalid e-mail address');
    expect(report.tables[0].rowsFetched).toBeLessThan(2500); // only the range around the quarantined row moved
    const files = readdirSync(dir).sort();
    expect(files).toEqual([`reconciliation-${report.id}-users.html`, `reconciliation-${report.id}-users.json`, `reconciliation-${report.id}-users.md`]);
    expect(readFileSync(join(dir, files[0]), 'utf8')).toContain('<svg');
    expect(readFileSync(join(dir, files[2]), 'utf8').replace(/\\/g, '')).toContain('1 row quarantined');
    expect(readFileSync(join(dir, files[2]), 'utf8').replace(/\\/g, '')).toContain('accepted with --accept-quarantined');
    const [stored] = await targetQuery(
      target.url,
      `SELECT verdict, source_lsn::text, report->'acceptQuarantined' AS accepted FROM tandem.reconciliations WHERE id = $1`,
      [report.id],
    );
    expect(stored).toEqual({ verdict: 'PASS', source_lsn: report.sourceLsn, accepted: true });
  });

  it('reports zero differences while capture and the projector apply a continuous write load', async () => {
    let writing = true;
    const writer = (async () => {
      let i = 0;
      while (writing) {
        i++;
        await sql(`UPDATE ${schema}.auth_users SET display_name = 'Live ' || $1::text WHERE email = $2`, [i, `user${(i % 20000) + 1}@example.com`]);
        await sql(`INSERT INTO ${schema}.auth_users (id, email) VALUES (gen_random_uuid()::text, $1)`, [`live${i}@example.com`]);
      }
    })();
    try {
      await new Promise((resolve) => setTimeout(resolve, 1000));
      const { code, reports } = await reconcile('--threshold', '0', '--accept-quarantined');
      expect(reports[0].tables[0]).toMatchObject({ missing: 0, extra: 0, mismatched: 0 });
      expect(code).toBe(0);
    } finally {
      writing = false;
      await writer;
    }
  });

  it('finds and names injected corruption exactly, and fails', async () => {
    const [{ n }] = await sql(`SELECT count(*)::int - 1 AS n FROM ${schema}.auth_users`);
    await waitForProjection(n);
    const [changed] = await targetQuery(
      target.url,
      `UPDATE users.users u SET name = 'Mallory' FROM (SELECT id, name AS old FROM users.users WHERE email = 'user10@example.com') o
        WHERE u.id = o.id RETURNING u.source_user_id, o.old`,
    );
    const [deleted] = await targetQuery(target.url, `DELETE FROM users.users WHERE email = 'user11@example.com' RETURNING source_user_id`);
    const extraId = '99999999-9999-4999-8999-999999999999';
    await targetQuery(
      target.url,
      `INSERT INTO users.users (id, source_user_id, email, name, instance_name, status, created_at, _source_key, _source_lsn)
       VALUES (gen_random_uuid(), $1, 'ghost@example.com', 'Ghost', 'root', 'invite_pending', now(), $2, 1)`,
      [extraId, `${schema}.auth_users/{"id":"${extraId}"}`],
    );
    const { code, reports } = await reconcile('--threshold', '0');
    expect(code).toBe(6);
    const table = reports[0].tables[0];
    expect(reports[0].verdict).toBe('FAIL');
    expect(table).toMatchObject({ missing: 1, extra: 1, mismatched: 1 });
    expect(table.sample).toEqual(
      expect.arrayContaining([
        { key: changed.source_user_id, kind: 'mismatched', columns: { name: [changed.old, 'Mallory'] } },
        { key: deleted.source_user_id, kind: 'missing' },
        { key: extraId, kind: 'extra' },
      ]),
    );
  });
});
