import { randomBytes } from 'crypto';
import { TandemProcess, writeConfig } from '../support/capture-process';
import { createTargetDatabase, targetQuery } from '../support/target-db';
import { dropSlot, eventually, sql, uniqueName, withSource } from '../support/services';
import { createLegacyMemory, generateMemoryNodes, type MemoryGenerateResult } from '../../demo/memory';
import { createLegacyChat, generateChat, type ChatGenerateResult } from '../../demo/chat';
import { createLegacyAppState, generateAppStates, type GenerateSummary } from '../../demo/app-state';
import { createLegacyKnowledgeBase, generateKnowledgeBase } from '../../demo/knowledge-base';
import { CHAT_TABLES } from '../../src/projections/chat/chat.schemas';
import { isoUtc, jsTrim, jsonDate, jsonText } from '../../src/projections/reconcile-sql';

/**
 * `tandem reconcile` over the memory, chat, app-state and knowledge-base recipes, end to end: the
 * recipes' demo generators fill one legacy schema (small sizes, with their invalid rows), one capture
 * and one projector run all four projections, and reconciliation passes with zero differences, the
 * quarantined rows reported as quarantined. Then one changed column, one deleted row and one extra
 * row go into a target table of each recipe, and reconciliation fails naming exactly those keys.
 */
describe('reconcile: memory, chat, app-state and knowledge-base recipes', () => {
  const name = uniqueName('reconrec');
  const schema = name;
  const withKey = { TANDEM_TOKEN_KEY: randomBytes(32).toString('base64') };
  const legacyTables = ['memory_nodes', ...CHAT_TABLES, 'user_app_state', 'kb_documents', 'system_prompts'];
  let target: Awaited<ReturnType<typeof createTargetDatabase>>;
  let config: string;
  let capture: TandemProcess;
  let projector: TandemProcess;
  let memory: MemoryGenerateResult;
  let chat: ChatGenerateResult;
  let appState: GenerateSummary;

  const q = (text: string, values: unknown[] = []) => targetQuery(target.url, text, values);
  const reconcile = async (...extra: string[]) => {
    const run = new TandemProcess(['reconcile', '--config', config, '--json', '--threshold', '0', ...extra], withKey);
    const code = await run.exited;
    if (!run.stdout.startsWith('[')) throw new Error(`tandem reconcile (exit ${code}) printed no JSON:\n${run.output}`);
    const reports: any[] = JSON.parse(run.stdout);
    return { code, report: (projection: string) => reports.find((r) => r.projection === projection), reports };
  };
  const table = (report: any, name: string) => report.tables.find((t: any) => t.table === name);

  /** Per legacy table: [legacy rows, target rows written from it, its events in quarantine]. */
  async function progress(): Promise<Record<string, [number, number, number]>> {
    const targetCounts: Record<string, string> = {
      memory_nodes: `SELECT count(*)::int AS n FROM memory.nodes WHERE origin = '${schema}.memory_nodes'`,
      ...Object.fromEntries(CHAT_TABLES.map((t) => [t, `SELECT count(*)::int AS n FROM chat.${t}`])),
      user_app_state: 'SELECT count(*)::int AS n FROM app_state.source_rows WHERE NOT deleted',
      kb_documents: `SELECT count(*)::int AS n FROM knowledge_base.docs WHERE origin = '${schema}.kb_documents'`,
      system_prompts: `SELECT count(*)::int AS n FROM knowledge_base.prompt_versions WHERE origin = '${schema}.system_prompts'`,
    };
    const quarantined = Object.fromEntries(
      (await q(`SELECT topic, count(*)::int AS n FROM tandem.quarantine WHERE status <> 'redriven' GROUP BY topic`)).map((row) => [row.topic, row.n]),
    );
    const result: Record<string, [number, number, number]> = {};
    for (const t of legacyTables) {
      const [{ n: legacy }] = await sql(`SELECT count(*)::int AS n FROM ${schema}.${t}`);
      const [{ n: projected }] = await q(targetCounts[t]);
      result[t] = [legacy, projected, quarantined[`${name}.${schema}.${t}`] ?? 0];
    }
    return result;
  }
  const allProcessed = async () => Object.values(await progress()).every(([legacy, projected, quarantined]) => legacy === projected + quarantined);

  beforeAll(async () => {
    const started = Date.now();
    target = await createTargetDatabase('reconrec');
    await withSource(async (client) => {
      await createLegacyMemory(client, schema);
      memory = await generateMemoryNodes(client, schema, { nodes: 60, users: 3, tenants: 2, seed: 7, badRatio: 0.06 });
      await createLegacyChat(client, schema);
      chat = await generateChat(client, schema, { users: 5, seed: 3, badRatio: 0.06 });
      await createLegacyAppState(client, schema);
      appState = await generateAppStates(client, schema, { users: 16, duplicateRatio: 0.5, badRatio: 0.15, seed: 5 });
      // a user whose newest row is invalid but who has an older valid one: the target projects the older one
      const { rows: fallback } = await client.query(
        `INSERT INTO ${schema}.user_app_state (user_id, updated_at, state)
         SELECT user_id, updated_at + interval '1 day', jsonb_set(state, '{personas,0,orgId}', '"org_missing"')
           FROM (SELECT DISTINCT ON (user_id) * FROM ${schema}.user_app_state ORDER BY user_id, updated_at DESC, id DESC) winner
          WHERE NOT (id = ANY ($1::bigint[]))
          ORDER BY user_id LIMIT 1
         RETURNING id::text, user_id`,
        [appState.bad.map((bad) => bad.id)],
      );
      appState.bad.push({ id: fallback[0].id, userId: fallback[0].user_id, kind: 'dangling-org', reasonContains: 'state.personas.0.orgId', latest: true });
      await createLegacyKnowledgeBase(client, schema);
      await generateKnowledgeBase(client, schema, { tenants: 2, docs: 40, seed: 5 });
    });
    config = writeConfig({
      prefix: name,
      slot: name,
      publication: name,
      tables: legacyTables.map((t) => `${schema}.${t}`),
      targetUrl: target.url,
      projections: ['memory', 'chat', 'app-state', 'knowledge-base'].map((recipe) => ({ recipe, sourceSchema: schema })),
      projectorBatchEvents: 500,
    });
    capture = TandemProcess.capture(config);
    await capture.waitForLog(/streaming changes/);
    projector = new TandemProcess(['project', '--config', config], withKey);
    const explain = async (error: Error) => {
      throw new Error(`${error.message}\n${JSON.stringify(await progress())}\nprojector said:\n${projector.output.slice(-3000)}`);
    };
    await eventually(allProcessed, 120_000, 'every legacy row projected or quarantined').catch(explain);
    // chat: children that overtook their parents are applied by the projector once their parents are in;
    // those whose parent is invalid wait (counted with the quarantined above)
    await eventually(
      async () => {
        const counts = await Promise.all(CHAT_TABLES.map(async (t) => (await q(`SELECT count(*)::int AS n FROM chat.${t}`))[0].n));
        return CHAT_TABLES.every((t, i) => counts[i] === chat.valid[t]);
      },
      120_000,
      'every valid chat row projected',
    ).catch(explain);
    await eventually(allProcessed, 60_000, 'every legacy row projected or quarantined').catch(explain);
    console.log(`reconcile-recipes: set-up took ${Date.now() - started} ms`);
  });

  afterAll(async () => {
    await projector?.stop();
    await capture?.stop();
    await dropSlot(name);
    await sql(`DROP PUBLICATION IF EXISTS ${name}`);
    await sql(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await target?.drop();
  });

  it('normalizes in SQL as the recipes do in JavaScript (dates in documents, jsonb numbers, trim)', async () => {
    const dates: unknown[] = ['2025-01-01T00:00:00.1239Z', '2025-02-30', '2025-01-01T10:00+05:30', '2025-01-01 10:00:00-03:00', '2025-01-01T24:00:00Z', 1735812000123, 0];
    const [row] = await sql(
      `SELECT ARRAY[${dates.map((_, i) => jsonDate(`$${i + 1}::jsonb`)).join(', ')}] AS dates,
              ${jsonDate(`'"last tuesday"'::jsonb`)} AS bad_date, ${jsonDate(`'1.5'::jsonb`)} AS fraction,
              ${jsonText(`'{"b": [1.10, 20, 0.000], "a": 0.50, "s": "x 1.50 \\" 2.0"}'::jsonb`)} AS json,
              ${jsTrim(`E'\\u00a0\\t name \\n'`)} AS trimmed, ${isoUtc(`timestamp '2024-05-01 10:00:00.5'`)} AS ts`,
      dates.map((value) => JSON.stringify(value)),
    );
    expect(row.dates).toEqual(dates.map((value) => new Date(typeof value === 'string' ? value.replace(' ', 'T') : (value as number)).toISOString()));
    expect([row.bad_date, row.fraction]).toEqual([null, null]);
    expect(row.json).toBe(JSON.stringify(JSON.parse('{"a": 0.50, "b": [1.10, 20, 0.000], "s": "x 1.50 \\" 2.0"}')).replace(/([,:])/g, '$1 '));
    expect(row.trimmed).toBe('name');
    expect(row.ts).toBe('2024-05-01T10:00:00.500000Z');
  });

  it('passes with zero differences once quarantined rows are accepted; quarantined legacy rows are reported as quarantined', async () => {
    const badWinners = appState.bad.filter((bad) => bad.latest);
    expect(memory.badScope).toBeGreaterThan(0);
    expect(CHAT_TABLES.some((t) => chat.rows[t] > chat.valid[t])).toBe(true);
    expect(badWinners.length).toBeGreaterThan(0);

    // quarantined rows are rows the target lacks: without --accept-quarantined they fail the verdict
    const strict = await reconcile();
    expect(strict.code).toBe(6);
    expect(strict.report('chat')).toMatchObject({ verdict: 'FAIL', quarantined: { total: expect.any(Number) } });
    expect(strict.report('chat').quarantined.total).toBeGreaterThan(0);

    const { code, reports, report } = await reconcile('--accept-quarantined');
    expect(reports.map((r) => [r.projection, r.verdict])).toEqual([
      ['memory', 'PASS'],
      ['chat', 'PASS'],
      ['app-state', 'PASS'],
      ['knowledge-base', 'PASS'],
    ]);
    expect(code).toBe(0);
    for (const r of reports) for (const t of r.tables) expect([r.projection, t.table, t.missing, t.extra, t.mismatched]).toEqual([r.projection, t.table, 0, 0, 0]);

    expect(table(report('memory'), 'nodes')).toMatchObject({ sourceCount: 60, targetCount: memory.valid, matched: memory.valid, quarantined: memory.badScope });
    expect(table(report('memory'), 'nodes').quarantinedSample[0].reason).toContain('nodes_scope_check');

    expect(report('chat').tables.map((t: any) => t.table)).toEqual([...CHAT_TABLES]);
    for (const t of CHAT_TABLES) {
      expect([t, table(report('chat'), t)]).toEqual([
        t,
        expect.objectContaining({ sourceCount: chat.rows[t], targetCount: chat.valid[t], matched: chat.valid[t], quarantined: chat.rows[t] - chat.valid[t] }),
      ]);
    }

    // one row per user: the legacy winner; a user whose winner is invalid is its quarantined row
    const userStates = table(report('app-state'), 'user_states');
    expect(userStates).toMatchObject({ sourceCount: 16, matched: 16 - badWinners.length, quarantined: badWinners.length });
    expect(userStates.quarantinedSample.map((s: any) => s.key).sort()).toEqual(badWinners.map((bad) => bad.id).sort());
    const reasons = new Map(userStates.quarantinedSample.map((s: any) => [s.key, s.reason]));
    for (const bad of badWinners) expect(reasons.get(bad.id)).toContain(bad.reasonContains);
    // some of those users have an older valid row, which the target projects instead (the fallback is not a difference)
    const [{ n: fellBack }] = await q(`SELECT count(*)::int AS n FROM app_state.user_states WHERE user_id = ANY($1)`, [badWinners.map((bad) => bad.userId)]);
    expect(fellBack).toBeGreaterThan(0);

    const [{ n: docs }] = await sql(`SELECT count(*)::int AS n FROM ${schema}.kb_documents`);
    expect(table(report('knowledge-base'), 'docs')).toMatchObject({ sourceCount: docs, matched: docs, quarantined: 0 });
    const [{ n: prompts }] = await sql(`SELECT count(*)::int AS n FROM ${schema}.system_prompts`);
    expect(table(report('knowledge-base'), 'prompt_versions')).toMatchObject({ sourceCount: prompts, matched: prompts });
  });

  it('fails, naming exactly the changed, deleted and extra rows of each recipe', async () => {
    // memory.nodes
    const [m1, m2, m3] = await q(`SELECT id FROM memory.nodes WHERE origin = $1 ORDER BY id LIMIT 3`, [`${schema}.memory_nodes`]);
    const [memoryChanged] = await q(`UPDATE memory.nodes n SET content = 'tampered' FROM memory.nodes o WHERE n.id = $1 AND o.id = n.id RETURNING o.content AS old`, [m1.id]);
    await q(`DELETE FROM memory.nodes WHERE id = $1`, [m2.id]);
    await q(
      `INSERT INTO memory.nodes (id, user_id, tenant_id, kind, content, metadata, embedding, created_at, updated_at, origin, _source_key, _source_lsn)
       SELECT 'ghost-node', user_id, tenant_id, kind, content, metadata, embedding, created_at, updated_at, origin, _source_key, _source_lsn FROM memory.nodes WHERE id = $1`,
      [m3.id],
    );

    // chat.usage_logs (a leaf table: nothing cascades)
    const [c1, c2] = await q(`SELECT id::text, user_id FROM chat.usage_logs ORDER BY id LIMIT 2`);
    const [chatChanged] = await q(
      `UPDATE chat.usage_logs n SET tokens_used = o.tokens_used + 1 FROM chat.usage_logs o WHERE n.id = $1 AND o.id = n.id RETURNING o.tokens_used AS old, n.tokens_used AS new`,
      [c1.id],
    );
    await q(`DELETE FROM chat.usage_logs WHERE id = $1`, [c2.id]);
    await q(
      `INSERT INTO chat.usage_logs (id, user_id, action, tokens_used, cost_usd, metadata, created_at, _source_key, _source_lsn)
       VALUES (999999999, $1, 'export', 0, 0, '{}', now(), 'ghost', 1)`,
      [c1.user_id],
    );

    // app-state: user_states (a setting changed, a user's state deleted, a ghost user) and one entity column
    const winners = await sql(
      `SELECT DISTINCT ON (user_id) id::text AS id, user_id FROM ${schema}.user_app_state ORDER BY user_id, updated_at DESC, id DESC`,
    );
    const bad = new Set(appState.bad.map((b) => b.id));
    const [a1, a2, a3] = winners.filter((w) => !bad.has(w.id));
    await q(`UPDATE app_state.user_states SET settings = settings || '{"theme": "neon"}' WHERE user_id = $1`, [a1.user_id]);
    await q(`DELETE FROM app_state.user_states WHERE user_id = $1`, [a2.user_id]);
    await q(`UPDATE app_state.orgs SET name = name || ' (edited)' WHERE id = (SELECT id FROM app_state.orgs WHERE user_id = $1 ORDER BY id LIMIT 1)`, [a3.user_id]);
    await q(
      `INSERT INTO app_state.source_rows (source_id, user_id, deleted, _source_key, _source_lsn) VALUES ('ghost-row', 'ghost-user', false, 'ghost', 1);
       INSERT INTO app_state.user_states (user_id, source_id, version, entity_counts, state_bytes, _source_key, _source_lsn)
       VALUES ('ghost-user', 'ghost-row', 'ghost', '{}', 0, 'ghost', 1)`,
    );

    // knowledge_base.docs
    const [k1, k2, k3] = await q(`SELECT source_id FROM knowledge_base.docs WHERE origin = $1 ORDER BY source_id LIMIT 3`, [`${schema}.kb_documents`]);
    const [kbChanged] = await q(
      `UPDATE knowledge_base.docs n SET title = 'Tampered' FROM knowledge_base.docs o WHERE n.source_id = $1 AND o.id = n.id RETURNING o.title AS old`,
      [k1.source_id],
    );
    await q(`DELETE FROM knowledge_base.docs WHERE source_id = $1`, [k2.source_id]);
    await q(
      `INSERT INTO knowledge_base.docs (id, origin, source_id, corpus_id, scope, tenant_id, title, content_text, source_uri, lang, tags, metadata, is_active,
                                        created_at, updated_at, _source_key, _source_lsn)
       SELECT gen_random_uuid(), origin, 'ghost-doc', corpus_id, scope, tenant_id, title, content_text, source_uri, lang, tags, metadata, is_active,
              created_at, updated_at, _source_key, _source_lsn FROM knowledge_base.docs WHERE source_id = $1`,
      [k3.source_id],
    );

    const { code, reports, report } = await reconcile();
    expect(reports.map((r) => [r.projection, r.verdict])).toEqual([
      ['memory', 'FAIL'],
      ['chat', 'FAIL'],
      ['app-state', 'FAIL'],
      ['knowledge-base', 'FAIL'],
    ]);
    expect(code).toBe(6);
    const sampleOf = (projection: string, tableName: string) => {
      const t = table(report(projection), tableName);
      return [...t.sample].sort((a: any, b: any) => (a.key < b.key ? -1 : 1));
    };
    const byKey = (differences: any[]) => [...differences].sort((a, b) => (a.key < b.key ? -1 : 1));

    expect(sampleOf('memory', 'nodes')).toEqual(
      byKey([
        { key: m1.id, kind: 'mismatched', columns: { content: [memoryChanged.old, 'tampered'] } },
        { key: m2.id, kind: 'missing' },
        { key: 'ghost-node', kind: 'extra' },
      ]),
    );
    expect(sampleOf('chat', 'usage_logs')).toEqual(
      byKey([
        { key: c1.id, kind: 'mismatched', columns: { tokens_used: [String(chatChanged.old), String(chatChanged.new)] } },
        { key: c2.id, kind: 'missing' },
        { key: '999999999', kind: 'extra' },
      ]),
    );
    const appStates = sampleOf('app-state', 'user_states');
    expect(appStates.map((d: any) => [d.key, d.kind, Object.keys(d.columns ?? {})])).toEqual(
      byKey([
        { key: a1.id, kind: 'mismatched', columns: ['settings'] },
        { key: a2.id, kind: 'missing', columns: [] },
        { key: a3.id, kind: 'mismatched', columns: ['orgs'] },
        { key: 'ghost-row', kind: 'extra', columns: [] },
      ]).map((d) => [d.key, d.kind, d.columns]),
    );
    const orgs = appStates.find((d: any) => d.key === a3.id).columns.orgs;
    expect(orgs[0].split(':')[0]).toBe(orgs[1].split(':')[0]); // same count, other content
    expect(sampleOf('knowledge-base', 'docs')).toEqual(
      byKey([
        { key: k1.source_id, kind: 'mismatched', columns: { title: [kbChanged.old, 'Tampered'] } },
        { key: k2.source_id, kind: 'missing' },
        { key: 'ghost-doc', kind: 'extra' },
      ]),
    );
    // nothing else differs
    for (const r of reports) {
      for (const t of r.tables) {
        const injected = ['memory/nodes', 'chat/usage_logs', 'app-state/user_states', 'knowledge-base/docs'].includes(`${r.projection}/${t.table}`);
        if (!injected) expect([r.projection, t.table, t.missing + t.extra + t.mismatched]).toEqual([r.projection, t.table, 0]);
      }
    }
  });
});
