import { Pool } from 'pg';
import { TandemProcess, writeConfig } from '../support/capture-process';
import { createTargetDatabase, targetQuery } from '../support/target-db';
import { dropSlot, eventually, sql, uniqueName, withSource } from '../support/services';
import {
  createLegacyAppState,
  generateAppStates,
  type GenerateSummary,
} from '../../demo/app-state';
import { appStateProjection } from '../../src/projections/app-state/app-state.projection';
import { deterministicUuid } from '../../src/projections/framework/define-projection';
import { decodeRecord } from '../../src/projections/framework/event-decoder';
import { applyBatch } from '../../src/projections/framework/batch-applier';
import { ensureTandemSchema } from '../../src/connectors/postgres-target/tandem-schema';
import { applyMigrations } from '../../src/connectors/postgres-target/migrations';

/**
 * The app-state recipe end to end: legacy user_app_state (JSONB per user, with duplicates and bad
 * states) -> capture -> Kafka -> projector -> seven normalized tables; then live updates, deletes,
 * quarantines, and a replay of the whole log into a fresh target database.
 */
const ENTITIES = [
  { table: 'orgs', list: 'orgs', entity: 'org' },
  { table: 'personas', list: 'personas', entity: 'persona' },
  { table: 'contents', list: 'contents', entity: 'content' },
  { table: 'accounts', list: 'accounts', entity: 'account' },
  { table: 'leads', list: 'leads', entity: 'lead' },
  { table: 'references', list: 'references', entity: 'reference' },
  { table: 'inbox_items', list: 'inboxItems', entity: 'inbox_item' },
];
const ALL_TABLES = ['source_rows', 'user_states', ...ENTITIES.map((e) => e.table)];

type Counts = Record<string, number>;

describe('projection: app-state recipe', () => {
  const name = uniqueName('appstate');
  const schema = name;
  const legacyTable = `${schema}.user_app_state`;
  let target: Awaited<ReturnType<typeof createTargetDatabase>>;
  let replayTarget: Awaited<ReturnType<typeof createTargetDatabase>> | undefined;
  let config: string;
  let capture: TandemProcess;
  let projector: TandemProcess;
  let replayProjector: TandemProcess | undefined;
  let generated: GenerateSummary;
  /** Legacy rows whose events are quarantined (their states do not count). */
  const quarantinedIds = new Set<string>();

  const q = (text: string, values: unknown[] = []) => targetQuery(target.url, text, values);

  /** Per user, the entity counts of the newest valid legacy row, and that row's id. */
  async function expectedFromLegacy(): Promise<Map<string, { id: string; counts: Counts }>> {
    const rows = await sql(
      `SELECT DISTINCT ON (user_id) id::text, user_id,
              jsonb_build_object(${ENTITIES.map((e) => `'${e.table}', jsonb_array_length(COALESCE(state->'${e.list}', '[]'))`).join(', ')}) AS counts
         FROM ${legacyTable} WHERE NOT (id = ANY($1::bigint[]))
        ORDER BY user_id, updated_at DESC, id DESC`,
      [[...quarantinedIds]],
    );
    return new Map(rows.map((row) => [row.user_id, { id: row.id, counts: row.counts }]));
  }

  async function projectedCounts(): Promise<Map<string, Counts>> {
    const rows = await q(
      ENTITIES.map(
        (e) =>
          `SELECT user_id, '${e.table}' AS t, count(*)::int AS n FROM app_state."${e.table}" GROUP BY user_id`,
      ).join(' UNION ALL '),
    );
    const result = new Map<string, Counts>();
    for (const row of rows) {
      const counts = result.get(row.user_id) ?? Object.fromEntries(ENTITIES.map((e) => [e.table, 0]));
      counts[row.t] = row.n;
      result.set(row.user_id, counts);
    }
    return result;
  }

  /** A hash of everything projected for one user (to prove "unchanged"). */
  async function userHash(userId: string): Promise<string> {
    const [row] = await q(
      `SELECT md5(string_agg(x, E'\\n' ORDER BY x)) AS h FROM (
         SELECT t::text AS x FROM app_state.user_states t WHERE user_id = $1
         ${ENTITIES.map((e) => `UNION ALL SELECT t::text FROM app_state."${e.table}" t WHERE user_id = $1`).join(' ')}) s`,
      [userId],
    );
    return row.h;
  }

  async function legacyState(id: string): Promise<any> {
    const [row] = await sql(`SELECT state::text AS state FROM ${legacyTable} WHERE id = $1`, [id]);
    return JSON.parse(row.state);
  }

  const ledgerHas = (id: string, check: (row: Record<string, any>) => boolean = () => true) =>
    eventually(
      async () => {
        const rows = await q(`SELECT * FROM app_state.source_rows WHERE source_id = $1`, [id]);
        return rows.length === 1 && check(rows[0]);
      },
      30_000,
      `legacy row ${id} in the ledger`,
    );

  const quarantineOf = (id: string, fragment: string) =>
    eventually(
      async () => {
        const rows = await q(
          `SELECT reason FROM tandem.quarantine WHERE projection = 'app-state' AND source_key::jsonb ->> 'id' = $1 AND reason LIKE $2`,
          [id, `%${fragment}%`],
        );
        return rows.length > 0 && rows[0].reason;
      },
      30_000,
      `row ${id} quarantined for ${fragment}`,
    );

  beforeAll(async () => {
    target = await createTargetDatabase('appstate');
    generated = await withSource(async (client) => {
      await createLegacyAppState(client, schema);
      return generateAppStates(client, schema, { users: 60, duplicateRatio: 0.35, badRatio: 0.06, seed: 16 });
    });
    for (const bad of generated.bad) quarantinedIds.add(bad.id);
    config = writeConfig({
      prefix: name,
      slot: name,
      publication: name,
      tables: [legacyTable],
      targetUrl: target.url,
      projections: [{ recipe: 'app-state', sourceSchema: schema }],
      projectorBatchEvents: 50,
    });
    // both start at once (each creates the topics it needs): the projector starts while capture snapshots
    capture = TandemProcess.capture(config);
    projector = TandemProcess.project(config);
    await capture.waitForLog(/streaming changes/);
  });

  afterAll(async () => {
    await replayProjector?.stop();
    await projector?.stop();
    await capture?.stop();
    await dropSlot(name);
    await sql(`DROP PUBLICATION IF EXISTS ${name}`).catch(() => undefined);
    await sql(`DROP SCHEMA IF EXISTS ${schema} CASCADE`).catch(() => undefined);
    await target?.drop();
    await replayTarget?.drop();
  });

  it('generates realistic legacy data: 4–20 KB states, duplicates, a few invalid ones', async () => {
    expect(generated.rows).toBeGreaterThan(80);
    expect(generated.duplicates).toBeGreaterThan(20);
    expect(generated.bad.length).toBeGreaterThanOrEqual(5);
    expect(generated.bad.some((bad) => bad.kind === 'duplicate-account')).toBe(true);
    const [sizes] = await sql(
      `SELECT min(octet_length(state::text)) AS min, max(octet_length(state::text)) AS max FROM ${legacyTable}`,
    );
    expect(sizes.min).toBeGreaterThanOrEqual(4096);
    expect(sizes.max).toBeLessThanOrEqual(20 * 1024);
  });

  it('projects the newest valid state of every user: per-table counts per user equal the legacy JSON', async () => {
    await eventually(
      async () =>
        (await q(`SELECT count(*)::int AS n FROM tandem.quarantine WHERE projection = 'app-state'`))[0].n ===
        generated.bad.length,
      60_000,
      `${generated.bad.length} quarantined states`,
    ).catch(async (error) => {
      throw new Error(`${error.message}; projector said:\n${projector.output.slice(-3000)}`);
    });
    const expected = await expectedFromLegacy();
    await eventually(
      async () => (await q(`SELECT count(*)::int AS n FROM app_state.user_states`))[0].n === expected.size,
      30_000,
      'every user',
    );
    const projected = await projectedCounts();
    for (const [userId, { counts }] of expected)
      expect({ userId, counts: projected.get(userId) }).toEqual({ userId, counts });
    expect(projected.size).toBe(expected.size);
    // duplicates resolved to the newest row (by updated_at, then id), whatever their insertion order
    const winners = await q(`SELECT user_id, source_id FROM app_state.user_states`);
    expect(Object.fromEntries(winners.map((w) => [w.user_id, w.source_id]))).toEqual(
      Object.fromEntries([...expected].map(([u, e]) => [u, e.id])),
    );
    const [totals] = await sql(`SELECT count(*)::int AS rows FROM ${legacyTable}`);
    const [ledger] = await q(`SELECT count(*)::int AS rows FROM app_state.source_rows`);
    expect(ledger.rows).toBe(totals.rows - generated.bad.length);
  });

  it('quarantines each invalid state with a reason naming the field path (or the constraint)', async () => {
    for (const bad of generated.bad) {
      const reason = await quarantineOf(bad.id, bad.reasonContains);
      expect(reason).toContain(bad.reasonContains);
    }
    // a user whose newest state is invalid keeps its newest valid one
    const expected = await expectedFromLegacy();
    const fallbacks = generated.bad.filter((bad) => bad.latest && expected.has(bad.userId));
    expect(fallbacks.length).toBeGreaterThan(0);
    for (const bad of fallbacks) {
      const [state] = await q(`SELECT source_id FROM app_state.user_states WHERE user_id = $1`, [bad.userId]);
      expect(state.source_id).toBe(expected.get(bad.userId)!.id);
    }
  });

  it('ignores an older duplicate written later, and applies a newer one', async () => {
    const [user] = await sql(
      `SELECT user_id, max(id)::text AS id FROM ${legacyTable} WHERE NOT (id = ANY($1::bigint[])) GROUP BY user_id HAVING count(*) = 1 ORDER BY user_id LIMIT 1`,
      [[...quarantinedIds]],
    );
    const before = await userHash(user.user_id);
    const state = await legacyState(user.id);
    // an older state: one persona of today's, and one that no longer exists (it must not come back)
    const gone = { id: 'persona_gone', orgId: state.personas[0].orgId, name: 'Gone' };
    const older = {
      ...state,
      personas: [state.personas[0], gone],
      contents: [
        ...state.contents.filter((c: any) => c.personaId === state.personas[0].id),
        { id: 'content_gone', personaId: 'persona_gone', body: 'old' },
      ],
    };
    const [stale] = await sql(
      `INSERT INTO ${legacyTable} (user_id, updated_at, state) SELECT user_id, updated_at - interval '1 day', $2::jsonb FROM ${legacyTable} WHERE id = $1 RETURNING id::text`,
      [user.id, JSON.stringify(older)],
    );
    await ledgerHas(stale.id);
    expect(await userHash(user.user_id)).toBe(before);
    const [fresh] = await sql(
      `INSERT INTO ${legacyTable} (user_id, updated_at, state) VALUES ($1, now(), $2::jsonb) RETURNING id::text`,
      [user.user_id, JSON.stringify(older)],
    );
    await eventually(
      async () =>
        (await q(`SELECT source_id FROM app_state.user_states WHERE user_id = $1`, [user.user_id]))[0]
          .source_id === fresh.id,
      30_000,
      'the newer duplicate',
    );
    expect((await projectedCounts()).get(user.user_id)).toMatchObject({
      personas: 2,
      contents: older.contents.length,
      orgs: state.orgs.length,
    });
  });

  it('an update that removes a persona removes it and its contents, without duplicating the others', async () => {
    const expected = await expectedFromLegacy();
    const candidates = await sql(
      `SELECT id::text, user_id FROM ${legacyTable} WHERE NOT (id = ANY($1::bigint[])) ORDER BY id`,
      [[...quarantinedIds]],
    );
    const winner = candidates.find(
      (row) => expected.get(row.user_id)?.id === row.id && expected.get(row.user_id)!.counts.personas >= 3,
    )!;
    const state = await legacyState(winner.id);
    const removed = state.personas.find((p: any) =>
      state.contents.some((c: any) => String(c.personaId) === String(p.id)),
    );
    const personaId = deterministicUuid('app-state', 'persona', winner.user_id, String(removed.id));
    const removedContents = state.contents.filter(
      (c: any) => String(c.personaId) === String(removed.id),
    ).length;
    expect(await q(`SELECT 1 FROM app_state.personas WHERE id = $1`, [personaId])).toHaveLength(1);
    const keptIds = (
      await q(`SELECT id FROM app_state.personas WHERE user_id = $1 AND id <> $2 ORDER BY id`, [
        winner.user_id,
        personaId,
      ])
    ).map((r) => r.id);

    const next = {
      ...state,
      personas: state.personas.filter((p: any) => p !== removed),
      contents: state.contents.filter((c: any) => String(c.personaId) !== String(removed.id)),
    };
    await sql(`UPDATE ${legacyTable} SET state = $2::jsonb, updated_at = now() WHERE id = $1`, [
      winner.id,
      JSON.stringify(next),
    ]);
    await eventually(
      async () => (await q(`SELECT 1 FROM app_state.personas WHERE id = $1`, [personaId])).length === 0,
      30_000,
      'the persona to go',
    );

    expect(await q(`SELECT 1 FROM app_state.contents WHERE persona_id = $1`, [personaId])).toHaveLength(0);
    expect(
      (await q(`SELECT id FROM app_state.personas WHERE user_id = $1 ORDER BY id`, [winner.user_id])).map(
        (r) => r.id,
      ),
    ).toEqual(keptIds);
    const counts = (await projectedCounts()).get(winner.user_id)!;
    expect(counts).toEqual({
      ...expected.get(winner.user_id)!.counts,
      personas: next.personas.length,
      contents: next.contents.length,
    });
    expect(counts.contents).toBe(expected.get(winner.user_id)!.counts.contents - removedContents);
  });

  it('keeps one user whole: an invalid state and a state the database rejects are quarantined, then a fix applies', async () => {
    const expected = await expectedFromLegacy();
    const [row] = await sql(
      `SELECT max(id)::text AS id, user_id FROM ${legacyTable} WHERE NOT (id = ANY($1::bigint[])) GROUP BY user_id HAVING count(*) = 1 ORDER BY user_id DESC LIMIT 1`,
      [[...quarantinedIds]],
    );
    expect(expected.get(row.user_id)!.id).toBe(row.id);
    const state = await legacyState(row.id);
    const before = await userHash(row.user_id);
    // the next state: one persona fewer, a new org, an account renamed
    const next = {
      ...state,
      orgs: [...state.orgs, { id: 'org_new', name: 'Newco' }],
      personas: state.personas.slice(1),
      contents: state.contents.filter((c: any) => String(c.personaId) !== String(state.personas[0].id)),
      accounts: state.accounts.map((a: any, i: number) => (i === 1 ? { ...a, handle: `${a.handle}-2` } : a)),
    };

    const invalid = {
      ...next,
      leads: next.leads.map((l: any, i: number) => (i === 0 ? { ...l, score: 'high' } : l)),
    };
    await sql(`UPDATE ${legacyTable} SET state = $2::jsonb, updated_at = now() WHERE id = $1`, [
      row.id,
      JSON.stringify(invalid),
    ]);
    expect(await quarantineOf(row.id, 'state.leads.0.score')).toContain(
      'state.leads.0.score: must be a number from 0 to 100',
    );

    const conflicting = {
      ...next,
      accounts: next.accounts.map((a: any, i: number) =>
        i === 1 ? { ...a, provider: next.accounts[0].provider, handle: next.accounts[0].handle } : a,
      ),
    };
    await sql(`UPDATE ${legacyTable} SET state = $2::jsonb, updated_at = now() WHERE id = $1`, [
      row.id,
      JSON.stringify(conflicting),
    ]);
    expect(await quarantineOf(row.id, 'accounts_provider_handle_key')).toMatch(
      /rejected by the target database \(table accounts, constraint accounts_provider_handle_key\)/,
    );
    // nothing of either state landed: not the new org, not the removed persona, not the ledger
    expect(await userHash(row.user_id)).toBe(before);
    expect(
      (await q(`SELECT version FROM app_state.source_rows WHERE source_id = $1`, [row.id]))[0].version,
    ).toBe(
      (await q(`SELECT version FROM app_state.user_states WHERE user_id = $1`, [row.user_id]))[0].version,
    );

    await sql(`UPDATE ${legacyTable} SET state = $2::jsonb, updated_at = now() WHERE id = $1`, [
      row.id,
      JSON.stringify(next),
    ]);
    const orgId = deterministicUuid('app-state', 'org', row.user_id, 'org_new');
    await eventually(
      async () => (await q(`SELECT 1 FROM app_state.orgs WHERE id = $1`, [orgId])).length === 1,
      30_000,
      'the fixed state',
    );
    expect((await projectedCounts()).get(row.user_id)).toMatchObject({
      orgs: next.orgs.length,
      personas: next.personas.length,
      contents: next.contents.length,
      accounts: next.accounts.length,
    });
    expect(
      await q(`SELECT 1 FROM app_state.personas WHERE id = $1`, [
        deterministicUuid('app-state', 'persona', row.user_id, String(state.personas[0].id)),
      ]),
    ).toHaveLength(0);
  });

  it('deleting an older duplicate changes nothing; deleting the newest empties the user until another row is written', async () => {
    const [user] = await sql(
      `SELECT user_id, array_agg(id::text ORDER BY updated_at DESC, id DESC) AS ids FROM ${legacyTable}
        WHERE user_id NOT IN (SELECT user_id FROM ${legacyTable} WHERE id = ANY($1::bigint[]))
        GROUP BY user_id HAVING count(*) >= 3 ORDER BY user_id LIMIT 1`,
      [[...quarantinedIds]],
    );
    const [newest, second, oldest] = user.ids as string[];
    const before = await userHash(user.user_id);
    await sql(`DELETE FROM ${legacyTable} WHERE id = $1`, [oldest]);
    await ledgerHas(oldest, (row) => row.deleted);
    expect(await userHash(user.user_id)).toBe(before);

    await sql(`DELETE FROM ${legacyTable} WHERE id = $1`, [newest]);
    await ledgerHas(newest, (row) => row.deleted);
    expect((await projectedCounts()).has(user.user_id)).toBe(false);
    const [status] = await q(`SELECT * FROM app_state.user_state_status WHERE user_id = $1`, [user.user_id]);
    expect(status).toMatchObject({
      source_id: newest,
      projected: false,
      live_rows: String(user.ids.length - 2),
    });

    // Written again (only updated_at: the TOASTed state is not in the change, REPLICA IDENTITY FULL supplies it)
    await sql(`UPDATE ${legacyTable} SET updated_at = now() WHERE id = $1`, [second]);
    await eventually(
      async () =>
        (await q(`SELECT source_id FROM app_state.user_states WHERE user_id = $1`, [user.user_id]))[0]
          .source_id === second,
      30_000,
      'the older duplicate to count again',
    );
    const state = await legacyState(second);
    expect((await projectedCounts()).get(user.user_id)).toEqual(
      Object.fromEntries(ENTITIES.map((e) => [e.table, state[e.list].length])),
    );
  });

  it('records every old id -> new id in tandem.id_map (the seed migration_audit)', async () => {
    for (const { table, entity } of ENTITIES) {
      const [missing] = await q(
        `SELECT count(*)::int AS n FROM app_state."${table}" t
          WHERE NOT EXISTS (SELECT 1 FROM tandem.id_map m WHERE m.projection = 'app-state' AND m.entity = $1
                              AND m.source_id::jsonb = jsonb_build_array(t.user_id, t.old_id) AND m.target_id = t.id::text)`,
        [entity],
      );
      expect({ table, missing: missing.n }).toEqual({ table, missing: 0 });
    }
    const audit = await q(
      `SELECT user_id, source_table, source_id, target_table, target_id FROM app_state.migration_audit`,
    );
    expect(audit.length).toBeGreaterThan(1000);
    for (const row of audit) {
      const entity = ENTITIES.find((e) => e.table === row.target_table)!;
      expect(row.source_table).toBe(`user_app_state.state.${entity.list}`);
      expect(row.target_id).toBe(deterministicUuid('app-state', entity.entity, row.user_id, row.source_id));
    }
  });

  it('replaying the whole log into a fresh target database gives the same state, hash for hash', async () => {
    const checkpoints = async (url: string) =>
      (
        await targetQuery(
          url,
          `SELECT topic, partition, "offset"::text AS "offset" FROM tandem.checkpoints WHERE projection = 'app-state'`,
        ).catch(() => [])
      ).map((row) => [`${row.topic}#${row.partition}`, BigInt(row.offset)] as const);
    await projector.stop(); // finishes the batch in progress
    const settled = await checkpoints(target.url);
    expect(settled.length).toBeGreaterThan(0);
    replayTarget = await createTargetDatabase('appstate_replay');
    const replayConfig = writeConfig({
      prefix: name,
      slot: name,
      publication: name,
      tables: [legacyTable],
      targetUrl: replayTarget.url,
      projections: [{ recipe: 'app-state', sourceSchema: schema }],
      projectorBatchEvents: 50,
    });
    const started = Date.now();
    replayProjector = TandemProcess.project(replayConfig);
    await eventually(
      async () => {
        const replayed = new Map(await checkpoints(replayTarget!.url));
        return settled.every(([partition, offset]) => (replayed.get(partition) ?? -1n) >= offset);
      },
      60_000,
      'the replay to reach the original checkpoints',
    ).catch(async (error) => {
      throw new Error(`${error.message}; replay projector said:\n${replayProjector!.output.slice(-3000)}`);
    });
    const replaySeconds = (Date.now() - started) / 1000;

    const hashes = async (url: string) => {
      const result: Record<string, unknown> = {};
      for (const table of ALL_TABLES) {
        const [row] = await targetQuery(
          url,
          `SELECT count(*)::int AS n, md5(string_agg(t::text, E'\\n' ORDER BY t::text)) AS h FROM app_state."${table}" t`,
        );
        result[table] = row;
      }
      const [ids] = await targetQuery(
        url,
        `SELECT count(*)::int AS n, md5(string_agg(concat_ws(',', entity, source_id, target_id, source_lsn), E'\\n' ORDER BY entity, source_id)) AS h
           FROM tandem.id_map WHERE projection = 'app-state'`,
      );
      result.id_map = ids;
      return result;
    };
    const original = await hashes(target.url);
    expect(await hashes(replayTarget.url)).toEqual(original);
    expect((original.personas as { n: number }).n).toBeGreaterThan(100);
    expect(replaySeconds).toBeLessThan(60);
  });
});

/**
 * Duplicates of one user arrive in any order (different rows sit on different partitions, snapshot
 * events share one LSN, live ones are later): every arrival order, applied batch by batch or all in
 * one batch, must give the same target state, that of the greatest (updated_at, id).
 */
describe('projection: app-state, duplicates in any arrival order', () => {
  let target: Awaited<ReturnType<typeof createTargetDatabase>>;
  let pool: Pool;
  const definition = appStateProjection('legacy');
  const user = 'user-order';

  const base = () => ({
    orgs: [{ id: 'o1', name: 'Acme' }],
    personas: [
      { id: 'p1', orgId: 'o1', name: 'One' },
      { id: 'p2', orgId: 'o1', name: 'Two' },
    ],
    contents: [
      { id: 'c1', personaId: 'p1', body: 'first' },
      { id: 'c2', personaId: 'p2', body: 'second' },
    ],
    accounts: [{ id: 'a1', provider: 'linkedin', handle: 'ann' }],
    leads: [{ id: 'l1', name: 'Lee', score: 10 }],
    references: [{ id: 'r1', title: 'Ref' }],
    inboxItems: [{ id: 'i1', accountId: 'a1', from: 'Lee', receivedAt: '2025-01-01T00:00:00Z' }],
  });
  const event = (op: string, id: string, updatedAt: string | null, lsn: number, state: unknown) => ({
    key: JSON.stringify({ id }),
    value: JSON.stringify({
      before: op === 'd' ? { id, user_id: user, updated_at: null, state: null } : null,
      after: op === 'd' ? null : { id, user_id: user, updated_at: updatedAt, state: JSON.stringify(state) },
      op,
      ts_ms: 1,
      source: { schema: 'legacy', table: 'user_app_state', commit_lsn: lsn, ts_ms: 1 },
    }),
  });
  const newest = {
    ...base(),
    orgs: [...base().orgs, { id: 'o2', name: 'Beta' }],
    personas: [...base().personas, { id: 'p4', orgId: 'o2', name: 'Four' }],
  };
  // row 1: snapshot, then updated live; row 2: the newest updated_at, from the snapshot (lowest LSN);
  // row 3: inserted live with an older updated_at, then deleted
  const rows = [
    [
      event('r', '1', '2025-05-01T10:00:01Z', 100, {
        ...base(),
        leads: [...base().leads, { id: 'l2', name: 'Extra' }],
      }),
      event('u', '1', '2025-05-01T10:00:04Z', 300, {
        ...base(),
        personas: [base().personas[0], { id: 'p3', orgId: 'o1', name: 'Three' }],
        contents: [{ id: 'c3', personaId: 'p3', body: 'third' }],
      }),
    ],
    [event('r', '2', '2025-05-01T10:00:05Z', 100, newest)],
    [
      event('c', '3', '2025-05-01T10:00:02Z', 200, {
        ...base(),
        leads: [{ id: 'l1', name: 'Lee (old)', score: 99 }],
      }),
      event('d', '3', null, 400, null),
    ],
  ];

  function interleavings<T>(lists: T[][]): T[][] {
    const remaining = lists.filter((list) => list.length > 0);
    if (remaining.length === 0) return [[]];
    return remaining.flatMap((list, index) =>
      interleavings(remaining.map((other, i) => (i === index ? other.slice(1) : other))).map((rest) => [
        list[0],
        ...rest,
      ]),
    );
  }

  beforeAll(async () => {
    target = await createTargetDatabase('appstate_order');
    pool = new Pool({ connectionString: target.url, max: 2 });
    await ensureTandemSchema(pool);
    await applyMigrations(pool, definition.name, definition.schema, definition.migrations);
  });

  afterAll(async () => {
    await pool?.end();
    await target?.drop();
  });

  it("gives the same state for every order, the newest row's", async () => {
    const orders = interleavings(rows);
    expect(orders).toHaveLength(30);
    const seen = new Map<string, number>();
    for (const [index, order] of orders.entries()) {
      await pool.query(
        `${[...ALL_TABLES]
          .reverse()
          .map((t) => `DELETE FROM app_state."${t}";`)
          .join(' ')} DELETE FROM tandem.id_map WHERE projection = 'app-state'`,
      );
      const items = order.map((e, offset) => {
        const record = {
          topic: 'p.legacy.user_app_state',
          partition: 0,
          offset: BigInt(offset),
          key: e.key,
          value: e.value,
        };
        return { record, decoded: decodeRecord(definition, 'p', record) };
      });
      if (index % 2 === 0) for (const item of items) await applyBatch(pool, definition, [item], []);
      else await applyBatch(pool, definition, items, []);
      const { rows: snapshot } = await pool.query(
        `SELECT ${ALL_TABLES.map((t) => `(SELECT string_agg(t::text, E'\\n' ORDER BY t::text) FROM app_state."${t}" t) AS "${t}"`).join(', ')},
                (SELECT string_agg(concat_ws(',', entity, source_id, target_id, source_lsn), E'\\n' ORDER BY entity, source_id) FROM tandem.id_map) AS id_map`,
      );
      const state = JSON.stringify(snapshot[0]);
      seen.set(state, (seen.get(state) ?? 0) + 1);
    }
    expect([...seen.values()]).toEqual([30]);
    const { rows: heads } = await pool.query(`SELECT source_id FROM app_state.user_states`);
    expect(heads).toEqual([{ source_id: '2' }]);
    const { rows: personas } = await pool.query(
      `SELECT old_id, name, source_id FROM app_state.personas ORDER BY position`,
    );
    expect(personas).toEqual(newest.personas.map((p) => ({ old_id: p.id, name: p.name, source_id: '2' })));
    const { rows: leads } = await pool.query(`SELECT old_id, name, score::int FROM app_state.leads`);
    expect(leads).toEqual([{ old_id: 'l1', name: 'Lee', score: 10 }]);
    const { rows: ledger } = await pool.query(
      `SELECT source_id, deleted FROM app_state.source_rows ORDER BY source_id`,
    );
    expect(ledger).toEqual([
      { source_id: '1', deleted: false },
      { source_id: '2', deleted: false },
      { source_id: '3', deleted: true },
    ]);
  });
});
