import { readFileSync, writeFileSync } from 'fs';
import type { INestApplicationContext } from '@nestjs/common';
import { Client } from 'pg';
import { parse, stringify } from 'yaml';
import { CutoverService } from '../../src/modules/cutover/cutover.service';
import { CutoverRepository } from '../../src/connectors/postgres-target/cutover-repository';
import { ProjectionService } from '../../src/modules/projection/projection.service';
import { TandemResources } from '../../src/modules/core/tandem-resources';
import { CutoverGateError } from '../../src/shared/errors';
import { TandemProcess, writeConfig } from '../support/capture-process';
import { createTargetDatabase, targetQuery } from '../support/target-db';
import { dropSlot, env, eventually, sql, uniqueName } from '../support/services';
import { tandemContext } from '../support/tandem-context';

/**
 * CutoverService in the composition root's context (no CLI), on the real PostgreSQL and Kafka: a
 * second plan is refused while one is active, an abort unfreezes, and start with commit records every
 * transition through the cutovers repository.
 */
describe('CutoverService in the application context', () => {
  const name = uniqueName('cutsvc');
  const schema = name;
  const role = `${name}_app`;
  const rows = 300;
  let target: Awaited<ReturnType<typeof createTargetDatabase>>;
  let capture: TandemProcess;
  let app: INestApplicationContext;
  let appUrl: string;

  const appWrite = async (email: string): Promise<void> => {
    const client = new Client({ connectionString: appUrl });
    await client.connect();
    try {
      await client.query(`INSERT INTO ${schema}.auth_users (id, email) VALUES (gen_random_uuid()::text, $1)`, [email]);
    } finally {
      await client.end();
    }
  };
  const caughtUp = async () => {
    const [{ n }] = await sql(`SELECT count(*) AS n FROM ${schema}.auth_users`);
    await eventually(async () => Number((await targetQuery(target.url, 'SELECT count(*) AS n FROM users.users'))[0].n) === Number(n), 60_000, `${n} users`);
  };

  beforeAll(async () => {
    target = await createTargetDatabase('cutsvc');
    await sql(`CREATE SCHEMA ${schema}`);
    await sql(`CREATE TABLE ${schema}.auth_users (id text PRIMARY KEY, email text NOT NULL, display_name text, instance_name text,
               raw_user_meta_data jsonb, encrypted_password text, created_at timestamptz NOT NULL DEFAULT now())`);
    await sql(`INSERT INTO ${schema}.auth_users (id, email, display_name)
               SELECT gen_random_uuid()::text, 'user' || g || '@example.com', 'User ' || g FROM generate_series(1, ${rows}) g`);
    await sql(`CREATE ROLE ${role} LOGIN PASSWORD 'app'`);
    await sql(`GRANT USAGE ON SCHEMA ${schema} TO ${role}`);
    await sql(`GRANT SELECT, INSERT ON ${schema}.auth_users TO ${role}`);
    const url = new URL(env.sourceUrl());
    url.username = role;
    url.password = 'app';
    appUrl = url.toString();
    const config = writeConfig({
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
    app = await tandemContext(config);
    await app.get(ProjectionService).start({ projection: 'users' });
    await caughtUp();
  });

  afterAll(async () => {
    await app?.get(ProjectionService).stop();
    await app?.close();
    await capture?.stop();
    await dropSlot(name);
    await sql(`ALTER ROLE ${role} RESET ALL`).catch(() => undefined);
    await sql(`DROP OWNED BY ${role}`).catch(() => undefined);
    await sql(`DROP ROLE IF EXISTS ${role}`).catch(() => undefined);
    await target?.drop();
  });

  it('refuses a second plan while one is active; abort records the reason and leaves legacy writable', async () => {
    const cutovers = app.get(CutoverService);
    const { cutover, checks } = await cutovers.plan({ operator: 'alice' });
    expect(cutover).toMatchObject({ state: 'parallel', projections: ['users'], applicationRoles: [role], operator: 'alice' });
    expect(checks).toEqual(expect.arrayContaining([`application roles present: ${role}`]));
    await expect(cutovers.plan({ operator: 'bob' })).rejects.toThrow(new CutoverGateError(`cutover ${cutover.id} is still parallel: commit or abort it first`));
    const aborted = await cutovers.abort(undefined, { operator: 'bob', reason: 'rehearsal' });
    expect(aborted).toMatchObject({ id: cutover.id, state: 'aborted', reason: 'rehearsal' });
    expect(aborted.history.map((step) => `${step.state}:${step.operator}`)).toEqual(['parallel:alice', 'aborted:bob']);
    await appWrite('after-abort@example.com');
    await caughtUp();
  });

  it('start with commit freezes, drains, verifies and commits, recorded in tandem.cutovers and the audit', async () => {
    const cutovers = app.get(CutoverService);
    const { cutover } = await cutovers.plan({ operator: 'alice' });
    const committed = await cutovers.start(cutover.id, { operator: 'alice', commit: true });
    expect(committed).toMatchObject({ state: 'committed', freezeLsn: expect.stringMatching(/^[0-9A-F]+\/[0-9A-F]+$/) });
    expect(committed.history.map((step) => step.state)).toEqual(['parallel', 'frozen', 'drained', 'verified', 'committed']);
    expect(committed.freezeWindowMs).toBeGreaterThan(0);
    expect(committed.reconciliationIds).toHaveLength(1);
    expect(committed.backupIds).toHaveLength(1);
    expect(Object.keys(committed.offsets!.users).length).toBeGreaterThan(0);
    expect(await new CutoverRepository(app.get(TandemResources).target).get(cutover.id)).toEqual(committed);
    await expect(appWrite('after-commit@example.com')).rejects.toThrow(/read-only transaction/);
    const audit = await targetQuery(target.url, 'SELECT action FROM tandem.operator_audit WHERE subject = $1 ORDER BY id', [`cutover:${cutover.id}`]);
    expect(audit.map((a) => a.action)).toEqual(['cutover.plan', 'cutover.frozen', 'cutover.drained', 'cutover.verified', 'cutover.committed']);
  });
});
