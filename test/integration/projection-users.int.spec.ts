import { mkdtempSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { TandemProcess, writeConfig } from '../support/capture-process';
import { createTargetDatabase, targetQuery } from '../support/target-db';
import { dropSlot, eventually, sql, uniqueName } from '../support/services';

/**
 * The users recipe end to end: legacy auth users -> capture -> Kafka -> projector -> target, with
 * bad rows quarantined, a projector killed mid-stream, and a re-drive after a fix.
 */
describe('projection: users recipe', () => {
  const name = uniqueName('users');
  const schema = name;
  let target: Awaited<ReturnType<typeof createTargetDatabase>>;
  let config: string;
  let capture: TandemProcess;
  let projector: TandemProcess;

  const count = async (text: string) => Number((await targetQuery(target.url, text))[0].n);

  beforeAll(async () => {
    target = await createTargetDatabase('users');
    await sql(`CREATE SCHEMA ${schema}`);
    await sql(`CREATE TABLE ${schema}.auth_users (id text PRIMARY KEY, email text NOT NULL, display_name text, instance_name text,
               raw_user_meta_data jsonb, encrypted_password text, created_at timestamptz NOT NULL DEFAULT now())`);
    await sql(`INSERT INTO ${schema}.auth_users (id, email, display_name, encrypted_password)
               SELECT gen_random_uuid()::text, 'user' || g || '@example.com', CASE WHEN g % 2 = 0 THEN 'User ' || g END, 'bcrypt$secret'
                 FROM generate_series(1, 300) g`);
    await sql(`INSERT INTO ${schema}.auth_users (id, email) VALUES ('not-a-uuid', 'bad-id@example.com'), (gen_random_uuid()::text, 'no-at-sign')`);
    config = writeConfig({
      prefix: name,
      slot: name,
      publication: name,
      tables: [`${schema}.auth_users`],
      targetUrl: target.url,
      projections: [{ recipe: 'users', sourceSchema: schema }],
      projectorBatchEvents: 50,
    });
    capture = TandemProcess.capture(config);
    await capture.waitForLog(/streaming changes/);
    projector = TandemProcess.project(config);
  });

  afterAll(async () => {
    await projector.stop();
    await capture.stop();
    await dropSlot(name);
    await target.drop();
  });

  it('projects every valid user without a password, named by display name or e-mail', async () => {
    await eventually(async () => (await count('SELECT count(*) AS n FROM users.users')) === 300, 60_000, '300 projected users');
    const [odd] = await targetQuery(target.url, `SELECT * FROM users.users WHERE email = 'user1@example.com'`);
    const [even] = await targetQuery(target.url, `SELECT * FROM users.users WHERE email = 'user2@example.com'`);
    expect(odd.name).toBe('user1');
    expect(even.name).toBe('User 2');
    expect(odd.status).toBe('invite_pending');
    expect(odd.meta).toEqual({}); // the jsonb document itself, not a JSON string holding it
    expect(JSON.stringify(odd)).not.toContain('bcrypt');
    const [map] = await targetQuery(target.url, `SELECT * FROM users.user_migration_map WHERE email = 'user1@example.com'`);
    expect(map).toMatchObject({ user_id: odd.id, source_user_id: odd.source_user_id, tenant_id: '00000000-0000-0000-0000-000000000000' });
    const [idMap] = await targetQuery(target.url, `SELECT * FROM tandem.id_map WHERE projection = 'users' AND source_id = $1`, [odd.source_user_id]);
    expect(idMap.target_id).toBe(odd.id);
  });

  it('quarantines an invalid uuid and an invalid e-mail with the reason, and goes on', async () => {
    const rows = await eventually(async () => {
      const found = await targetQuery(target.url, `SELECT reason, source_key, event FROM tandem.quarantine WHERE projection = 'users' ORDER BY source_key`);
      return found.length === 2 && found;
    }, 30_000, 'two quarantined events');
    expect(rows.map((r) => r.reason).sort()).toEqual([
      expect.stringContaining('email: invalid e-mail address'),
      expect.stringContaining('id: source user id is not a valid uuid'),
    ]);
    const list = new TandemProcess(['dlq', 'list', '--config', config, '--json']);
    expect(await list.exited).toBe(0);
    expect(JSON.parse(list.output.slice(list.output.indexOf('[')))).toHaveLength(2);
  });

  it('applies updates and deletes, and a projector killed mid-stream resumes exactly once', async () => {
    await sql(`UPDATE ${schema}.auth_users SET display_name = 'Renamed' WHERE email = 'user1@example.com'`);
    await sql(`DELETE FROM ${schema}.auth_users WHERE email = 'user3@example.com'`);
    const writes = sql(`INSERT INTO ${schema}.auth_users (id, email) SELECT gen_random_uuid()::text, 'bulk' || g || '@example.com' FROM generate_series(1, 3000) g`);
    await writes;
    await eventually(async () => (await count('SELECT count(*) AS n FROM users.users')) > 400, 60_000, 'the projector to be mid-stream');
    await projector.kill9();
    projector = TandemProcess.project(config);
    await eventually(async () => (await count('SELECT count(*) AS n FROM users.users')) === 3299, 90_000, '3,299 users').catch(async (error) => {
      throw new Error(`${error.message}; have ${await count('SELECT count(*) AS n FROM users.users')}; projector said:\n${projector.output.slice(-3000)}`);
    });
    expect(await count(`SELECT count(*) AS n FROM users.users WHERE email = 'user3@example.com'`)).toBe(0);
    expect((await targetQuery(target.url, `SELECT name FROM users.users WHERE email = 'user1@example.com'`))[0].name).toBe('Renamed');
    expect(await count(`SELECT count(*) - count(DISTINCT source_user_id) AS n FROM users.users`)).toBe(0);
    const [legacy] = await sql(`SELECT count(*)::int AS n FROM ${schema}.auth_users`);
    expect(legacy.n - 2).toBe(3299); // all but the two quarantined rows
  });

  it('re-drives a quarantined event once the conflict is fixed', async () => {
    await sql(`INSERT INTO ${schema}.auth_users (id, email) VALUES (gen_random_uuid()::text, 'USER5@example.com')`);
    const [quarantined] = await eventually(
      () => targetQuery(target.url, `SELECT id, reason FROM tandem.quarantine WHERE reason LIKE '%users_email_key%'`).then((r) => r.length > 0 && r),
      30_000,
      'the duplicate e-mail to be quarantined',
    );
    expect(quarantined.reason).toContain('constraint users_email_key');
    await sql(`UPDATE ${schema}.auth_users SET email = 'user5-old@example.com' WHERE email = 'user5@example.com'`);
    await eventually(async () => (await count(`SELECT count(*) AS n FROM users.users WHERE email = 'user5-old@example.com'`)) === 1, 30_000, 'the fix');
    const redrive = new TandemProcess(['dlq', 'redrive', '--config', config, '--projection', 'users', '--id', String(quarantined.id)]);
    expect(await redrive.exited).toBe(0);
    expect(await count(`SELECT count(*) AS n FROM users.users WHERE email = 'user5@example.com'`)).toBe(1);
    const [entry] = await targetQuery(target.url, `SELECT status FROM tandem.quarantine WHERE id = $1`, [quarantined.id]);
    expect(entry.status).toBe('redriven');
  });

  it('imports the seed export files through the same log, validated first, idempotently', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tandem-import-'));
    const tenant = '11111111-1111-4111-8111-111111111111';
    const users = Array.from({ length: 20 }, (_, i) => ({
      source_user_id: `2c1f8a2e-0000-4000-8000-${String(i).padStart(12, '0')}`,
      email: `imported${i}@example.com`,
      ...(i < 5 ? { tenant_id: tenant } : {}),
      status: 'active',
      meta: { plan: 'pro' },
    }));
    writeFileSync(join(dir, 'nakamoto_users.json'), JSON.stringify(users));
    writeFileSync(join(dir, 'tenant_mapping.csv'), `instance_name,tenant_id,description\nroot,00000000-0000-0000-0000-000000000000,"Root, the original"\n`);
    const files = [join(dir, 'nakamoto_users.json'), join(dir, 'tenant_mapping.csv')];

    writeFileSync(join(dir, 'bad.json'), JSON.stringify([...users.slice(0, 3), { source_user_id: 'nope', email: 'x@example.com' }]));
    const bad = new TandemProcess(['import', '--config', config, '--recipe', 'users', '--from', join(dir, 'bad.json')]);
    expect(await bad.exited).toBe(5);
    expect(bad.output).toContain('bad.json, record 3 (nope): source_user_id: source_user_id is not a valid uuid');

    for (let run = 0; run < 2; run++) {
      const load = new TandemProcess(['import', '--config', config, '--recipe', 'users', '--from', ...files]);
      expect(await load.exited).toBe(0);
      expect(load.output).toContain('imported 21 records');
    }
    await eventually(async () => (await count(`SELECT count(*) AS n FROM users.users WHERE email LIKE 'imported%'`)) === 20, 30_000, '20 imported users');
    await new Promise((resolve) => setTimeout(resolve, 1000));
    expect(await count(`SELECT count(*) AS n FROM users.users WHERE email LIKE 'imported%'`)).toBe(20);
    const [imported] = await targetQuery(target.url, `SELECT meta FROM users.users WHERE email = 'imported0@example.com'`);
    expect(imported.meta).toEqual({ plan: 'pro' });
    expect(await count(`SELECT count(*) AS n FROM users.user_migration_map WHERE tenant_id = '${tenant}'`)).toBe(5);
    expect(await count(`SELECT count(*) AS n FROM users.tenant_mapping`)).toBe(1);
    expect(await count(`SELECT count(*) AS n FROM users.users WHERE email = 'x@example.com'`)).toBe(0);
  });

  it('plans without writing in --dry-run: SQL with parameters, id mappings and a summary', async () => {
    const fresh = await createTargetDatabase('users_dry');
    try {
      const dryConfig = writeConfig({
        prefix: name,
        slot: name,
        publication: name,
        tables: [`${schema}.auth_users`],
        targetUrl: fresh.url,
        projections: [{ recipe: 'users', sourceSchema: schema }],
      });
      const text = new TandemProcess(['project', '--config', dryConfig, '--dry-run']);
      expect(await text.exited).toBe(0);
      expect(text.output).toMatch(/INSERT INTO "users"\."users" AS target .* ON CONFLICT \("id"\)/);
      expect(text.output).toMatch(/-- id map user: [0-9a-f-]{36} -> [0-9a-f-]{36}/);
      expect(text.output).toContain('dry run:');

      const json = new TandemProcess(['project', '--config', dryConfig, '--dry-run', '--json']);
      expect(await json.exited).toBe(0);
      const summary = JSON.parse(json.output.slice(json.output.indexOf('{\n')));
      expect(summary.rows['users.users'].upserts).toBeGreaterThanOrEqual(3300);
      expect(summary.quarantined.map((q: { reason: string }) => q.reason)).toEqual(
        expect.arrayContaining([expect.stringContaining('invalid e-mail address')]),
      );
      const [{ tables }] = await targetQuery(fresh.url, `SELECT count(*)::int AS tables FROM pg_tables WHERE schemaname IN ('users', 'tandem')`);
      expect(tables).toBe(0);
    } finally {
      await fresh.drop();
    }
  });
});
