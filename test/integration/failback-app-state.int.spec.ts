import { randomBytes } from 'crypto';
import { readFileSync, writeFileSync } from 'fs';
import { parse, stringify } from 'yaml';
import { writeConfig } from '../support/capture-process';
import { createTargetDatabase, targetQuery } from '../support/target-db';
import { topicEnds } from '../support/kafka-reader';
import { expectForwardSilent, failbackState } from '../support/failback';
import { dropSlot, env, eventually, sql, testKafka, uniqueName, withSource } from '../support/services';
import { createLegacyAppState, generateAppStates } from '../../demo/app-state';
import { loadConfig } from '../../src/modules/config/load-config';
import type { TandemConfig } from '../../src/modules/config/config.schema';
import { createLogger } from '../../src/shared/logger';
import { CaptureService } from '../../src/modules/capture/capture.service';
import { ProjectionService } from '../../src/modules/projection/projection.service';
import { CutoverService } from '../../src/modules/cutover/cutover.service';
import { FailbackService } from '../../src/modules/failback/failback.service';
import { ReconciliationService } from '../../src/modules/reconciliation/reconciliation.service';
import { rollbackThroughFailback } from '../../src/modules/failback/failback-rollback';
import { appStateDocument } from '../../src/projections/app-state/app-state.schema';
import { newId } from '../../src/projections/app-state/app-state.explode';

/**
 * Failback of the app-state recipe, in process on the real services: after the cutover the
 * application writes to the normalized tables, and each user's legacy JSONB document is
 * re-rendered from them, keeping the document's keys Tandem has no column for.
 */
describe('failback: app-state', () => {
  const name = uniqueName('fbas');
  const schema = name;
  const role = `${name}_app`;
  const newRole = `${name}_new`;
  const user = 'user-failback';
  const logger = createLogger('test', process.env.TEST_LOG_LEVEL ?? 'warn');
  let target: Awaited<ReturnType<typeof createTargetDatabase>>;
  let config: TandemConfig;
  let capture: CaptureService;
  let captureRun: Promise<void>;
  let projector: ProjectionService;
  let failback: FailbackService;
  let failbackRun: Promise<void> | null = null;
  let cutoverId: number;

  /** The legacy document of our user, with unknown keys at the top and inside entities. */
  const document = {
    schemaVersion: 3,
    featureFlags: { beta: true, nested: { keep: [1, 2, null] } },
    ui: { theme: 'light' },
    orgs: [{ id: 'org_1', name: 'Acme', website: 'https://acme.io', createdAt: 1735812000000, crmId: 'X-1' }],
    personas: [
      { id: 'p_1', orgId: 'org_1', name: 'Founder voice', tone: 'direct', goals: ['hire'], avatar: { color: 'red' } },
      { id: 'p_2', orgId: 'org_1', name: 'Support voice', isDefault: true },
      { id: 12345, orgId: 'org_1', name: 'Numeric id persona' },
    ],
    contents: [
      { id: 'c_1', personaId: 'p_1', type: 'post', body: 'Hello', status: 'draft', tags: ['a'], draftNotes: 'keep me' },
      { id: 'c_2', personaId: 'p_2', body: 'Goes with its persona', status: 'published' },
    ],
    accounts: [{ id: 'a_1', provider: 'linkedin', handle: 'acme', connectedAt: '2025-01-02T10:00:00Z' }],
    leads: [
      { id: 'l_1', name: 'Ann Lee', email: 'ann@corp.com', status: 'contacted', score: 72.5 },
      { id: 'l_2', name: 'Bob Roe', status: 'new' },
    ],
    references: [{ id: 'r_1', title: 'Pricing', url: 'https://acme.io/pricing', kind: 'link' }],
    inboxItems: [{ id: 'i_1', accountId: 'a_1', from: 'Ann Lee', subject: 'Re: hi', receivedAt: 1735812000000, read: false }],
  };

  const appTarget = (text: string, values: unknown[] = []) => targetQuery(target.url, text, values);
  /** The legacy application's view: the newest row of the user. */
  const legacyState = async (userId: string) =>
    (await sql(`SELECT id::text, state FROM ${schema}.user_app_state WHERE user_id = $1 ORDER BY updated_at DESC, id DESC LIMIT 1`, [userId]))[0];
  const forwardEnd = () => topicEnds(testKafka(), `${name}.${schema}.user_app_state`);

  beforeAll(async () => {
    target = await createTargetDatabase('fbas');
    await withSource(async (client) => {
      await createLegacyAppState(client, schema);
      await generateAppStates(client, schema, { users: 12, duplicateRatio: 0.5, badRatio: 0, seed: 14 });
      // an older duplicate of our user first, then the row that wins
      await client.query(`INSERT INTO ${schema}.user_app_state (user_id, updated_at, state) VALUES ($1, now() - interval '1 day', $2)`, [
        user,
        JSON.stringify({ ...document, personas: document.personas.slice(0, 1), contents: [] }),
      ]);
      await client.query(`INSERT INTO ${schema}.user_app_state (user_id, updated_at, state) VALUES ($1, now() - interval '1 hour', $2)`, [user, JSON.stringify(document)]);
    });
    await sql(`CREATE ROLE ${role} LOGIN PASSWORD 'app'`);
    await sql(`GRANT USAGE ON SCHEMA ${schema} TO ${role}`);
    await sql(`GRANT SELECT, INSERT, UPDATE, DELETE ON ${schema}.user_app_state TO ${role}`);
    await sql(`GRANT USAGE ON SEQUENCE ${schema}.user_app_state_id_seq TO ${role}`);
    await sql(`CREATE ROLE ${newRole} LOGIN PASSWORD 'new'`);
    const file = writeConfig({
      prefix: name,
      slot: name,
      publication: name,
      tables: [`${schema}.user_app_state`],
      targetUrl: target.url,
      projections: [{ recipe: 'app-state', sourceSchema: schema }],
    });
    writeFileSync(file, stringify({ ...parse(readFileSync(file, 'utf8')), cutover: { applicationRoles: [role] }, failback: { applicationRoles: [newRole] } }));
    config = loadConfig(file, {});
    capture = new CaptureService(config, logger);
    captureRun = capture.run();
    let captureFailure: Error | null = null;
    captureRun.catch((error: Error) => (captureFailure = error));
    await eventually(async () => {
      if (captureFailure) throw captureFailure;
      return capture.status().role === 'streaming';
    }, 60_000, 'capture streaming');
    projector = new ProjectionService(config, logger);
    await projector.start();
    await eventually(async () => Number((await appTarget('SELECT count(*) AS n FROM app_state.user_states'))[0].n) === 13, 60_000, '13 users projected');
    await eventually(async () => Number((await appTarget('SELECT count(*) AS n FROM app_state.personas WHERE user_id = $1', [user]))[0].n) === 3, 60_000, 'our user projected');
  }, 120_000);

  afterAll(async () => {
    await failback?.stop().catch(() => undefined);
    await failbackRun?.catch(() => undefined);
    if ((await failback?.record(cutoverId).catch(() => null))?.state === 'active') await failback.end(cutoverId).catch(() => undefined);
    await failback?.close().catch(() => undefined);
    await projector?.stop();
    await capture?.stop();
    await captureRun?.catch(() => undefined);
    await dropSlot(name);
    await sql(`ALTER ROLE ${role} RESET ALL`).catch(() => undefined);
    await sql(`DROP OWNED BY ${role}`).catch(() => undefined);
    await sql(`DROP ROLE IF EXISTS ${role}`).catch(() => undefined);
    await target?.drop();
    await sql(`ALTER ROLE ${newRole} RESET ALL`).catch(() => undefined);
    await sql(`DROP ROLE IF EXISTS ${newRole}`).catch(() => undefined);
  });

  it('re-renders each changed user’s document in legacy, keeps unknown keys, and rolls back with every write', async () => {
    const cutovers = new CutoverService(config, logger);
    try {
      const planned = await cutovers.plan({ operator: 'alice' });
      await cutovers.start(planned.cutover.id, { operator: 'alice' });
      cutoverId = (await cutovers.commit(planned.cutover.id, { operator: 'alice' })).id;
    } finally {
      await cutovers.close();
    }
    await appTarget(`GRANT USAGE ON SCHEMA app_state TO ${newRole}; GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA app_state TO ${newRole}`);
    const forwardBefore = await forwardEnd();
    const winner = (await legacyState(user)).id as string;
    failback = new FailbackService(config, logger);
    failbackRun = failback.run(await failback.record(cutoverId));
    failbackRun.catch(() => undefined); // ends with an error when the rollback drops its slot

    // The application, now on the target
    const big = randomBytes(12_000).toString('base64'); // incompressible: stored out of line (TOAST)
    await appTarget(`UPDATE app_state.personas SET name = 'Founder, renamed', goals = '{hire,grow}' WHERE user_id = $1 AND old_id = 'p_1'`, [user]);
    await appTarget(
      `INSERT INTO app_state.contents (id, user_id, old_id, position, persona_id, type, body, status, tags, created_at, source_id, version)
       SELECT $2, user_id, 'c_new', 7, id, 'article', $3, 'scheduled', '{long}', '2026-01-02T03:04:05.678Z', source_id, version
         FROM app_state.personas WHERE user_id = $1 AND old_id = 'p_1'`,
      [user, newId('content', user, 'c_new'), big],
    );
    await appTarget(`UPDATE app_state.contents SET status = 'published' WHERE user_id = $1 AND old_id = 'c_new'`, [user]); // TOASTed body unchanged
    await appTarget(`DELETE FROM app_state.leads WHERE user_id = $1 AND old_id = 'l_2'`, [user]);
    await appTarget(`UPDATE app_state.leads SET score = 90, extra = extra || '{"lastCall":"2026-01-01"}' WHERE user_id = $1 AND old_id = 'l_1'`, [user]);
    await appTarget(`DELETE FROM app_state.personas WHERE user_id = $1 AND old_id = 'p_2'`, [user]); // its content c_2 goes with it
    await appTarget(`UPDATE app_state.user_states SET settings = settings || '{"ui":{"theme":"dark"}}' WHERE user_id = $1`, [user]);
    // another user removed as a whole: every legacy row of it goes, its older duplicates too
    const [gone] = await appTarget(`SELECT s.user_id FROM app_state.user_states s WHERE (SELECT count(*) FROM app_state.source_rows r WHERE r.user_id = s.user_id) > 1 AND s.user_id <> $1 LIMIT 1`, [user]);
    await appTarget(
      `WITH ${['inbox_items', 'contents', 'personas', 'orgs', 'accounts', 'leads', '"references"'].map((t, i) => `d${i} AS (DELETE FROM app_state.${t} WHERE user_id = $1)`).join(', ')}
       DELETE FROM app_state.user_states WHERE user_id = $1`,
      [gone.user_id],
    );
    await appTarget(`UPDATE app_state.orgs SET name = 'Acme Inc' WHERE user_id = $1`, [user]); // the last write

    // failback capture first waits to lead its slot: slow on a loaded machine. The two users' changes
    // travel on different partitions, so the removal may land after the last write: wait for both.
    const goneRows = () => sql(`SELECT 1 FROM ${schema}.user_app_state WHERE user_id = $1`, [gone.user_id]);
    await eventually(
      async () => (await legacyState(user)).state.orgs[0].name === 'Acme Inc' && (await goneRows()).length === 0,
      180_000,
      'the writes in legacy',
      () => failbackState(failback, cutoverId),
    );
    const { id, state } = await legacyState(user);
    expect(id).toBe(winner); // the winning row is the one written: the older duplicate stays older
    expect(appStateDocument.safeParse(state).success).toBe(true); // a document the legacy application reads
    expect(state).toMatchObject({ schemaVersion: 3, featureFlags: document.featureFlags, ui: { theme: 'dark' } });
    expect(state.orgs).toEqual([{ id: 'org_1', name: 'Acme Inc', website: 'https://acme.io', createdAt: '2025-01-02T10:00:00.000Z', crmId: 'X-1' }]);
    expect(state.personas.map((p: { id: string }) => p.id)).toEqual(['p_1', '12345']);
    expect(state.personas[0]).toEqual({ id: 'p_1', orgId: 'org_1', name: 'Founder, renamed', tone: 'direct', goals: ['hire', 'grow'], isDefault: false, avatar: { color: 'red' } });
    expect(state.contents.map((c: { id: string }) => c.id)).toEqual(['c_1', 'c_new']);
    expect(state.contents[0].draftNotes).toBe('keep me');
    expect(state.contents[1]).toMatchObject({ personaId: 'p_1', type: 'article', body: big, status: 'published', createdAt: '2026-01-02T03:04:05.678Z' });
    expect(state.leads).toEqual([{ id: 'l_1', name: 'Ann Lee', email: 'ann@corp.com', status: 'contacted', score: 90, lastCall: '2026-01-01' }]);
    expect(state.inboxItems[0]).toMatchObject({ accountId: 'a_1', from: 'Ann Lee', receivedAt: '2025-01-02T10:00:00.000Z' });

    // forward capture read past the failback writes and produced no event for them
    await expectForwardSilent(name, forwardEnd, forwardBefore);

    await eventually(async () => (await failback.readLag(cutoverId)).caughtUp, 30_000, 'failback caught up', () => failbackState(failback, cutoverId));
    const rolledBack = await rollbackThroughFailback(failback, config, logger, cutoverId, { operator: 'alice' });
    expect(rolledBack).toMatchObject({ state: 'rolled-back' });

    // the legacy application writes its state again, and it flows forward to the target
    const legacyApp = new URL(env.sourceUrl());
    legacyApp.username = role;
    legacyApp.password = 'app';
    await targetQuery(
      legacyApp.toString(),
      `UPDATE ${schema}.user_app_state SET updated_at = now(), state = jsonb_set(state, '{personas,0,name}', '"Back in legacy"') WHERE id = $1`,
      [winner],
    );
    await eventually(
      async () => (await appTarget(`SELECT name FROM app_state.personas WHERE user_id = $1 AND old_id = 'p_1'`, [user]))[0]?.name === 'Back in legacy',
      30_000,
      'the legacy write projected',
    );
    expect((await appTarget(`SELECT length(body) AS n FROM app_state.contents WHERE user_id = $1 AND old_id = 'c_new'`, [user]))[0].n).toBe(big.length);

    const reconciliation = new ReconciliationService(config, logger);
    const [forward] = await reconciliation.run({ projection: 'app-state', threshold: 0 });
    const [backward] = await reconciliation.run({ projection: 'app-state', threshold: 0, direction: 'failback' });
    const verdict = (report: typeof forward) => (report.verdict === 'PASS' ? 'PASS' : JSON.stringify(report.tables));
    expect([verdict(forward), verdict(backward)]).toEqual(['PASS', 'PASS']);
  });
});
