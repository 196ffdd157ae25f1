import { TandemProcess, writeConfig } from '../support/capture-process';
import { createTargetDatabase, targetQuery } from '../support/target-db';
import { dropSlot, eventually, sql, uniqueName } from '../support/services';

/**
 * A backfill end to end, as a user runs it: a table capture streams but never read, re-read with
 * `tandem backfill --wait` while its rows keep changing, reaches the users projection in full
 * through the LSN guard, and reconciles clean.
 */
describe('backfill into a projection', () => {
  it('projects every row of a backfilled table in its final state; reconcile PASS', async () => {
    const name = uniqueName('bf_users');
    const schema = name;
    const target = await createTargetDatabase('bfusers');
    await sql(`CREATE SCHEMA ${schema}`);
    await sql(`CREATE TABLE ${schema}.auth_users (id text PRIMARY KEY, email text NOT NULL, display_name text, instance_name text,
               raw_user_meta_data jsonb, encrypted_password text, created_at timestamptz NOT NULL DEFAULT now())`);
    await sql(`INSERT INTO ${schema}.auth_users (id, email, display_name)
               SELECT gen_random_uuid()::text, 'user' || g || '@example.com', 'User ' || g FROM generate_series(1, 3000) g`);
    const ids = (await sql(`SELECT id FROM ${schema}.auth_users`)).map((row) => row.id as string);
    const config = writeConfig({
      prefix: name,
      slot: name,
      publication: name,
      tables: [`${schema}.auth_users`],
      snapshotMode: 'never',
      chunkSize: 300,
      targetUrl: target.url,
      projections: [{ recipe: 'users', sourceSchema: schema }],
    });
    const capture = TandemProcess.capture(config);
    let projector: TandemProcess | null = null;
    let writing = true;
    let renamed = 0;
    const writer = (async () => {
      while (writing) {
        renamed += 1;
        await sql(`UPDATE ${schema}.auth_users SET display_name = $2 WHERE id = $1`, [ids[renamed % ids.length], `Renamed ${renamed}`]);
      }
    })();
    try {
      await capture.waitForLog(/streaming changes/);
      projector = TandemProcess.project(config);
      const backfill = new TandemProcess(['backfill', '--config', config, '--table', `${schema}.auth_users`, '--wait']);
      expect(await backfill.exited).toBe(0);
      expect(backfill.stdout).toMatch(/auth_users\s+done\s+3000 rows read/);
      writing = false;
      await writer;
      expect(renamed).toBeGreaterThan(50);

      const projected = async () => Number((await targetQuery(target.url, 'SELECT count(*) AS n FROM users.users'))[0].n);
      await eventually(async () => (await projected()) === 3000, 120_000, '3000 projected users');
      const run = new TandemProcess(['reconcile', '--config', config, '--json', '--threshold', '0']);
      expect(await run.exited).toBe(0);
      const [report] = JSON.parse(run.stdout);
      expect(report).toMatchObject({ projection: 'users', verdict: 'PASS' });
      expect(report.tables[0]).toMatchObject({ sourceCount: 3000, targetCount: 3000, matched: 3000, missing: 0, extra: 0, mismatched: 0 });
    } finally {
      writing = false;
      await writer;
      await projector?.stop();
      await capture.stop();
      await dropSlot(name);
      await target.drop();
    }
  });
});
