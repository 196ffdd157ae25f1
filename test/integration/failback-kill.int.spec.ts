import { readFileSync, writeFileSync } from 'fs';
import { parse, stringify } from 'yaml';
import { TandemProcess, writeConfig } from '../support/capture-process';
import { createTargetDatabase, targetQuery } from '../support/target-db';
import { dropSlot, eventually, sql, testKafka, uniqueName, withSource } from '../support/services';
import { createLegacyAppState, generateAppStates } from '../../demo/app-state';
import { changeEvents, readTopics } from '../support/kafka-reader';
import { loadConfig } from '../../src/modules/config/load-config';
import { createLogger } from '../../src/shared/logger';
import { CaptureService } from '../../src/modules/capture/capture.service';
import { ProjectionService } from '../../src/modules/projection/projection.service';
import { CutoverService } from '../../src/modules/cutover/cutover.service';
import { FailbackService } from '../../src/modules/failback/failback.service';

/**
 * kill -9 of failback capture and of the applier (`tandem failback start --only capture|apply`,
 * separate processes) while the application writes to the target: every target write lands in the
 * failback topic exactly once, none is written to legacy twice, and the legacy table ends equal to
 * the target.
 */
describe('failback: kill -9 mid-stream', () => {
  const name = uniqueName('fbk');
  const schema = name;
  const logger = createLogger('test', 'warn');
  const WRITES = 300;
  let target: Awaited<ReturnType<typeof createTargetDatabase>>;
  let file: string;
  let capture: CaptureService;
  let captureRun: Promise<void>;
  let projector: ProjectionService;
  let cutoverId: number;
  const children: TandemProcess[] = [];
  const start = (part: 'capture' | 'apply') => {
    const child = new TandemProcess(['failback', 'start', '--config', file, '--only', part, '--operator', 'alice']);
    children.push(child);
    return child;
  };

  beforeAll(async () => {
    target = await createTargetDatabase('fbk');
    await sql(`CREATE SCHEMA ${schema}`);
    await sql(`CREATE TABLE ${schema}.auth_users (id text PRIMARY KEY, email text NOT NULL, display_name text, instance_name text,
               raw_user_meta_data jsonb, encrypted_password text, created_at timestamptz NOT NULL DEFAULT now())`);
    await sql(`INSERT INTO ${schema}.auth_users (id, email) SELECT gen_random_uuid()::text, 'user' || g || '@example.com' FROM generate_series(1, 50) g`);
    // every row version written to legacy, to tell a change applied twice from one applied once
    await sql(`CREATE TABLE ${schema}.applied (id text NOT NULL, n int)`);
    await sql(`CREATE FUNCTION ${schema}.note_applied() RETURNS trigger LANGUAGE plpgsql AS
               $$ BEGIN INSERT INTO ${schema}.applied VALUES (NEW.id, (NEW.raw_user_meta_data->>'n')::int); RETURN NULL; END $$`);
    await sql(`CREATE TRIGGER note_applied AFTER INSERT OR UPDATE ON ${schema}.auth_users FOR EACH ROW EXECUTE FUNCTION ${schema}.note_applied()`);
    await sql(`CREATE ROLE ${name}_app LOGIN`);
    file = writeConfig({ prefix: name, slot: name, publication: name, tables: [`${schema}.auth_users`], targetUrl: target.url, projections: [{ recipe: 'users', sourceSchema: schema }] });
    writeFileSync(file, stringify({ ...parse(readFileSync(file, 'utf8')), cutover: { applicationRoles: [`${name}_app`] }, failback: {} }));
    const config = loadConfig(file, {});
    capture = new CaptureService(config, logger);
    captureRun = capture.run();
    captureRun.catch(() => undefined);
    await eventually(async () => capture.status().role === 'streaming', 60_000, 'capture streaming');
    projector = new ProjectionService(config, logger);
    await projector.start();
    await eventually(async () => Number((await targetQuery(target.url, 'SELECT count(*) AS n FROM users.users'))[0].n) === 50, 60_000, '50 users');
    const cutovers = new CutoverService(config, logger);
    try {
      const planned = await cutovers.plan({ operator: 'alice' });
      await cutovers.start(planned.cutover.id, { operator: 'alice' });
      cutoverId = (await cutovers.commit(planned.cutover.id, { operator: 'alice' })).id;
    } finally {
      await cutovers.close();
    }
  }, 180_000);

  afterAll(async () => {
    for (const child of children) await child.stop().catch(() => undefined);
    const failback = new FailbackService(loadConfig(file, {}), logger);
    await failback.end(cutoverId).catch(() => undefined);
    await failback.close();
    await projector?.stop();
    await capture?.stop();
    await captureRun?.catch(() => undefined);
    await dropSlot(name);
    await sql(`ALTER ROLE ${name}_app RESET ALL`).catch(() => undefined);
    await sql(`DROP ROLE IF EXISTS ${name}_app`).catch(() => undefined);
    await target?.drop();
  });

  it('applies every target write exactly once across kill -9 of capture and of the applier', async () => {
    let captureChild = start('capture');
    let applyChild = start('apply');
    await captureChild.waitForLog(/streaming changes/, 120_000);
    await applyChild.waitForLog(/failback applier running/, 120_000);
    for (let i = 1; i <= WRITES; i++) {
      await targetQuery(target.url, `UPDATE users.users SET meta = jsonb_build_object('n', $1::int) WHERE email = $2`, [i, `user${(i % 50) + 1}@example.com`]);
      if (i === 100) {
        await captureChild.kill9();
        captureChild = start('capture');
      }
      if (i === 200) {
        await applyChild.kill9();
        applyChild = start('apply');
      }
    }
    // the legacy table ends equal to the target
    const state = async (text: string) => JSON.stringify(await sql(text));
    await eventually(
      async () => {
        const legacy = await state(`SELECT id, raw_user_meta_data AS meta FROM ${schema}.auth_users ORDER BY id`);
        const rows = await targetQuery(target.url, 'SELECT source_user_id::text AS id, meta FROM users.users ORDER BY 1');
        return legacy === JSON.stringify(rows);
      },
      120_000,
      'legacy equal to the target',
    );
    // every write is in the failback topic once
    const topic = `${name}.failback.users.users`;
    const events = changeEvents(await readTopics(testKafka(), [topic], (records) => changeEvents(records).length >= WRITES));
    const seen = new Map<number, number>();
    for (const event of events) {
      const n = JSON.parse(event.value.after.meta).n as number;
      seen.set(n, (seen.get(n) ?? 0) + 1);
    }
    expect(events.length).toBe(WRITES);
    expect([...seen.values()].every((count) => count === 1)).toBe(true);
    expect(seen.size).toBe(WRITES);
    // and no change was written to legacy twice (a batch applied again after the kill would be)
    expect(await sql(`SELECT n, count(*)::int AS times FROM ${schema}.applied WHERE n IS NOT NULL GROUP BY n HAVING count(*) > 1`)).toEqual([]);
    expect(Number((await sql(`SELECT count(*) AS n FROM ${schema}.applied WHERE n IS NOT NULL`))[0].n)).toBeGreaterThan(0);
  });
});

/**
 * The same kill -9 of failback capture and of the applier for a render inverse (app-state): each
 * change of the normalized tables re-renders the user's whole legacy document.
 */
describe('failback: kill -9 mid-stream, app-state', () => {
  const name = uniqueName('fbka');
  const schema = name;
  const logger = createLogger('test', 'warn');
  const WRITES = 300;
  const USERS = 10;
  let target: Awaited<ReturnType<typeof createTargetDatabase>>;
  let file: string;
  let capture: CaptureService;
  let captureRun: Promise<void>;
  let projector: ProjectionService;
  let cutoverId: number;
  let users: string[];
  const children: TandemProcess[] = [];
  const start = (part: 'capture' | 'apply') => {
    const child = new TandemProcess(['failback', 'start', '--config', file, '--only', part, '--operator', 'alice']);
    children.push(child);
    return child;
  };

  beforeAll(async () => {
    target = await createTargetDatabase('fbka');
    await withSource(async (client) => {
      await createLegacyAppState(client, schema);
      await generateAppStates(client, schema, { users: USERS, duplicateRatio: 0, badRatio: 0, seed: 9 });
    });
    await sql(`CREATE ROLE ${name}_app LOGIN`);
    file = writeConfig({
      prefix: name,
      slot: name,
      publication: name,
      tables: [`${schema}.user_app_state`],
      targetUrl: target.url,
      projections: [{ recipe: 'app-state', sourceSchema: schema }],
    });
    writeFileSync(file, stringify({ ...parse(readFileSync(file, 'utf8')), cutover: { applicationRoles: [`${name}_app`] }, failback: {} }));
    const config = loadConfig(file, {});
    capture = new CaptureService(config, logger);
    captureRun = capture.run();
    captureRun.catch(() => undefined);
    await eventually(async () => capture.status().role === 'streaming', 60_000, 'capture streaming');
    projector = new ProjectionService(config, logger);
    await projector.start();
    await eventually(
      async () => Number((await targetQuery(target.url, 'SELECT count(*) AS n FROM app_state.user_states'))[0].n) === USERS,
      120_000,
      `${USERS} users`,
    );
    users = (await targetQuery(target.url, 'SELECT user_id FROM app_state.user_states ORDER BY user_id')).map((row) => row.user_id as string);
    const cutovers = new CutoverService(config, logger);
    try {
      const planned = await cutovers.plan({ operator: 'alice' });
      await cutovers.start(planned.cutover.id, { operator: 'alice' });
      cutoverId = (await cutovers.commit(planned.cutover.id, { operator: 'alice' })).id;
    } finally {
      await cutovers.close();
    }
  }, 240_000);

  afterAll(async () => {
    for (const child of children) await child.stop().catch(() => undefined);
    const failback = new FailbackService(loadConfig(file, {}), logger);
    await failback.end(cutoverId).catch(() => undefined);
    await failback.close();
    await projector?.stop();
    await capture?.stop();
    await captureRun?.catch(() => undefined);
    await dropSlot(name);
    await sql(`ALTER ROLE ${name}_app RESET ALL`).catch(() => undefined);
    await sql(`DROP ROLE IF EXISTS ${name}_app`).catch(() => undefined);
    await target?.drop();
  });

  it('renders every target write into legacy, each in the failback topic once, across kill -9 of capture and of the applier', async () => {
    let captureChild = start('capture');
    let applyChild = start('apply');
    await captureChild.waitForLog(/streaming changes/, 120_000);
    await applyChild.waitForLog(/failback applier running/, 120_000);
    for (let i = 1; i <= WRITES; i++) {
      await targetQuery(target.url, `UPDATE app_state.user_states SET settings = settings || jsonb_build_object('n', $1::int) WHERE user_id = $2`, [
        i,
        users[i % USERS],
      ]);
      if (i === 100) {
        await captureChild.kill9();
        captureChild = start('capture');
      }
      if (i === 200) {
        await applyChild.kill9();
        applyChild = start('apply');
      }
    }
    // each user's legacy document (its newest row) carries the target's last write
    const expected = JSON.stringify(await targetQuery(target.url, `SELECT user_id, (settings->>'n')::int AS n FROM app_state.user_states ORDER BY user_id`));
    await eventually(
      async () =>
        JSON.stringify(
          await sql(
            `SELECT DISTINCT ON (user_id) user_id, (state->>'n')::int AS n FROM ${schema}.user_app_state ORDER BY user_id, updated_at DESC, id DESC`,
          ),
        ) === expected,
      120_000,
      'legacy documents equal to the target',
    );
    const events = changeEvents(await readTopics(testKafka(), [`${name}.failback.app_state.user_states`], (records) => changeEvents(records).length >= WRITES));
    const seen = new Map<number, number>();
    for (const event of events) {
      const settings = typeof event.value.after.settings === 'string' ? JSON.parse(event.value.after.settings) : event.value.after.settings;
      seen.set(settings.n as number, (seen.get(settings.n as number) ?? 0) + 1);
    }
    expect(events.length).toBe(WRITES);
    expect([...seen.values()].every((count) => count === 1)).toBe(true);
    expect(seen.size).toBe(WRITES);
  });
});
