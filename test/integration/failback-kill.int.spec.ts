import { readFileSync, writeFileSync } from 'fs';
import { parse, stringify } from 'yaml';
import { writeConfig } from '../support/capture-process';
import { createTargetDatabase, targetQuery } from '../support/target-db';
import { eventually, sql, testKafka, uniqueName, withSource } from '../support/services';
import { createLegacyAppState, generateAppStates } from '../../demo/app-state';
import { changeEvents, readTopics } from '../support/kafka-reader';
import { CommittedCutover, occurrences } from '../support/failback';
import { createLogger } from '../../src/shared/logger';

const WRITES = 300;
const logger = createLogger('test', 'warn');

/** A config with the cutover's application role and failback on. */
async function failbackConfig(name: string, table: string, targetUrl: string, projection: { recipe: string; sourceSchema: string }): Promise<string> {
  await sql(`CREATE ROLE ${name}_app LOGIN`);
  const file = writeConfig({ prefix: name, slot: name, publication: name, tables: [table], targetUrl, projections: [projection] });
  writeFileSync(file, stringify({ ...parse(readFileSync(file, 'utf8')), cutover: { applicationRoles: [`${name}_app`] }, failback: {} }));
  return file;
}

/** Every write numbered 1..WRITES is in the failback topic exactly once. */
async function expectEachWriteOnce(topic: string, numberOf: (after: Record<string, any>) => number): Promise<void> {
  const events = changeEvents(await readTopics(testKafka(), [topic], (records) => changeEvents(records).length >= WRITES));
  const seen = occurrences(events.map((event) => numberOf(event.value.after)));
  expect(events.length).toBe(WRITES);
  expect([...seen.values()].every((count) => count === 1)).toBe(true);
  expect(seen.size).toBe(WRITES);
}

const parsed = (value: unknown) => (typeof value === 'string' ? JSON.parse(value) : value);

/**
 * kill -9 of failback capture and of the applier (`tandem failback start --only capture|apply`,
 * separate processes) while the application writes to the target: every target write lands in the
 * failback topic exactly once, none is written to legacy twice, and the legacy table ends equal to
 * the target.
 */
describe('failback: kill -9 mid-stream', () => {
  const name = uniqueName('fbk');
  const schema = name;
  let target: Awaited<ReturnType<typeof createTargetDatabase>>;
  let cutover: CommittedCutover;

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
    const file = await failbackConfig(name, `${schema}.auth_users`, target.url, { recipe: 'users', sourceSchema: schema });
    cutover = new CommittedCutover(name, file, target, logger);
    await cutover.commit(async () => (await cutover.targetCount('users.users')) === 50, '50 users', 60_000);
  }, 180_000);

  afterAll(async () => {
    await cutover?.tearDown();
  });

  it('applies every target write exactly once across kill -9 of capture and of the applier', async () => {
    await cutover.writeThroughKills(WRITES, (i) =>
      targetQuery(target.url, `UPDATE users.users SET meta = jsonb_build_object('n', $1::int) WHERE email = $2`, [i, `user${(i % 50) + 1}@example.com`]),
    );
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
    await expectEachWriteOnce(`${name}.failback.users.users`, (after) => parsed(after.meta).n as number);
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
  const USERS = 10;
  let target: Awaited<ReturnType<typeof createTargetDatabase>>;
  let cutover: CommittedCutover;
  let users: string[];

  beforeAll(async () => {
    target = await createTargetDatabase('fbka');
    await withSource(async (client) => {
      await createLegacyAppState(client, schema);
      await generateAppStates(client, schema, { users: USERS, duplicateRatio: 0, badRatio: 0, seed: 9 });
    });
    const file = await failbackConfig(name, `${schema}.user_app_state`, target.url, { recipe: 'app-state', sourceSchema: schema });
    cutover = new CommittedCutover(name, file, target, logger);
    await cutover.commit(async () => (await cutover.targetCount('app_state.user_states')) === USERS, `${USERS} users`, 120_000);
    users = (await targetQuery(target.url, 'SELECT user_id FROM app_state.user_states ORDER BY user_id')).map((row) => row.user_id as string);
  }, 240_000);

  afterAll(async () => {
    await cutover?.tearDown();
  });

  it('renders every target write into legacy, each in the failback topic once, across kill -9 of capture and of the applier', async () => {
    await cutover.writeThroughKills(WRITES, (i) =>
      targetQuery(target.url, `UPDATE app_state.user_states SET settings = settings || jsonb_build_object('n', $1::int) WHERE user_id = $2`, [
        i,
        users[i % USERS],
      ]),
    );
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
    await expectEachWriteOnce(`${name}.failback.app_state.user_states`, (after) => parsed(after.settings).n as number);
  });
});
