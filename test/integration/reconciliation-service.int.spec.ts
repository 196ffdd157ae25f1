import type { INestApplicationContext } from '@nestjs/common';
import { ReconciliationService } from '../../src/modules/reconciliation/reconciliation.service';
import { ReconciliationRepository } from '../../src/modules/reconciliation/reconciliation-repository';
import { ProjectionService } from '../../src/modules/projection/projection.service';
import { TandemResources } from '../../src/modules/core/tandem-resources';
import { TandemProcess, writeConfig } from '../support/capture-process';
import { createTargetDatabase, targetQuery } from '../support/target-db';
import { dropSlot, eventually, sql, uniqueName } from '../support/services';
import { tandemContext } from '../support/tandem-context';

/**
 * ReconciliationService in the composition root's context (no CLI), on the real PostgreSQL and Kafka:
 * verdicts, stored reports, and the process's shared connections left open for the next caller.
 */
describe('ReconciliationService in the application context', () => {
  const name = uniqueName('recsvc');
  const schema = name;
  const rows = 500;
  let target: Awaited<ReturnType<typeof createTargetDatabase>>;
  let capture: TandemProcess;
  let app: INestApplicationContext;

  beforeAll(async () => {
    target = await createTargetDatabase('recsvc');
    await sql(`CREATE SCHEMA ${schema}`);
    await sql(`CREATE TABLE ${schema}.auth_users (id text PRIMARY KEY, email text NOT NULL, display_name text, instance_name text,
               raw_user_meta_data jsonb, encrypted_password text, created_at timestamptz NOT NULL DEFAULT now())`);
    await sql(`INSERT INTO ${schema}.auth_users (id, email, display_name)
               SELECT gen_random_uuid()::text, 'user' || g || '@example.com', 'User ' || g FROM generate_series(1, ${rows}) g`);
    const config = writeConfig({
      prefix: name,
      slot: name,
      publication: name,
      tables: [`${schema}.auth_users`],
      targetUrl: target.url,
      projections: [{ recipe: 'users', sourceSchema: schema }],
    });
    capture = TandemProcess.capture(config);
    await capture.waitForLog(/streaming changes/);
    app = await tandemContext(config);
    await app.get(ProjectionService).start({ projection: 'users' });
    await eventually(
      async () => Number((await targetQuery(target.url, 'SELECT count(*) AS n FROM users.users'))[0].n) === rows,
      60_000,
      `${rows} users`,
    );
  });

  afterAll(async () => {
    await app?.get(ProjectionService).stop();
    await app?.close();
    await capture?.stop();
    await dropSlot(name);
    await target?.drop();
  });

  it('passes on equal data and stores the report it returns', async () => {
    const [report] = await app.get(ReconciliationService).run({ projection: 'users', threshold: 0 });
    expect(report).toMatchObject({ projection: 'users', verdict: 'PASS', direction: 'forward', id: expect.any(Number) });
    expect(report.tables[0]).toMatchObject({ sourceCount: rows, targetCount: rows, missing: 0, extra: 0, mismatched: 0 });
    const reports = new ReconciliationRepository(app.get(TandemResources).target);
    expect(await reports.read(report.id!)).toEqual(report);
    expect((await reports.list({ projection: 'users' }))[0]).toMatchObject({ id: report.id, verdict: 'PASS', threshold: 0 });
  });

  it('fails on drift, naming the missing and the changed row', async () => {
    const [changed] = await targetQuery(target.url, `UPDATE users.users SET name = 'Mallory' WHERE email = 'user7@example.com' RETURNING email`);
    await targetQuery(target.url, `DELETE FROM users.users WHERE email = 'user8@example.com'`);
    const [report] = await app.get(ReconciliationService).run({ projection: 'users', threshold: 0 });
    expect(changed).toBeDefined();
    expect(report.verdict).toBe('FAIL');
    expect(report.tables[0]).toMatchObject({ missing: 1, mismatched: 1, extra: 0 });
    expect(report.tables[0].sample.map((d) => d.kind).sort()).toEqual(['mismatched', 'missing']);
  });

  it('leaves the shared pools open for the next service, and the context closes them', async () => {
    const resources = app.get(TandemResources);
    const pool = resources.target;
    await app.get(ReconciliationService).run({ projection: 'users' });
    expect(resources.target).toBe(pool);
    expect((await pool.query<{ one: number }>('SELECT 1 AS one')).rows[0].one).toBe(1);
    await resources.close();
    await expect(pool.query('SELECT 1')).rejects.toThrow(/after calling end/);
    expect(resources.target).not.toBe(pool); // opened again on the next use
  });
});
