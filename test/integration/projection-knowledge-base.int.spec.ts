import { createHash } from 'crypto';
import { mkdtempSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { Client, Pool } from 'pg';
import { TandemProcess, writeConfig } from '../support/capture-process';
import { createTargetDatabase, targetQuery } from '../support/target-db';
import { readTopics } from '../support/kafka-reader';
import { dropSlot, env, eventually, sql, testKafka, uniqueName, withSource } from '../support/services';
import {
  createLegacyKnowledgeBase,
  generateKnowledgeBase,
  type KnowledgeBaseGenerateResult,
} from '../../demo/knowledge-base';
import { knowledgeBaseProjection } from '../../src/projections/knowledge-base/knowledge-base.projection';
import type { KnowledgeBaseRow } from '../../src/projections/knowledge-base/knowledge-base.projection';
import { ensureTandemSchema } from '../../src/connectors/postgres-target/tandem-schema';
import { applyMigrations } from '../../src/connectors/postgres-target/migrations';
import { executeStatements, planStatements } from '../../src/connectors/postgres-target/row-writer';

/**
 * The knowledge-base recipe end to end: legacy kb_documents + system_prompts -> capture -> Kafka ->
 * projector -> knowledge_base (docs, effective docs, versioned prompts, reindex queue, storage
 * limits, row-level security), and the seed's export files through `tandem import`.
 */
describe('projection: knowledge-base recipe', () => {
  const name = uniqueName('kb');
  const schema = name;
  const reader = `${name}_reader`;
  const PLACEHOLDER = '__debezium_unavailable_value';
  let target: Awaited<ReturnType<typeof createTargetDatabase>>;
  let config: string;
  let capture: TandemProcess;
  let projector: TandemProcess;
  let demo: KnowledgeBaseGenerateResult;
  let tenantA: string;
  let tenantB: string;
  const LONG_DOC = '3c2b1a00-0000-4000-8000-00000000000f';
  let longContent: string;

  const rows = (text: string, values: unknown[] = []) => targetQuery(target.url, text, values);
  const one = async (text: string, values: unknown[] = []) => (await rows(text, values))[0];
  const count = async (text: string, values: unknown[] = []) => Number((await one(text, values)).n);
  const md5 = (text: string) => createHash('md5').update(text).digest('hex');
  const asTenant = async <T>(
    url: string,
    tenant: string | null,
    work: (client: Client) => Promise<T>,
  ): Promise<T> => {
    const client = new Client({ connectionString: url });
    await client.connect();
    try {
      if (tenant) await client.query(`SELECT set_config('app.tenant_id', $1, false)`, [tenant]);
      return await work(client);
    } finally {
      await client.end();
    }
  };

  beforeAll(async () => {
    target = await createTargetDatabase('kb');
    demo = await withSource(async (client) => {
      await createLegacyKnowledgeBase(client, schema);
      return generateKnowledgeBase(client, schema, { tenants: 3, docs: 400, seed: 11 });
    });
    [tenantA, tenantB] = demo.tenantIds;
    // A long document (stored out of line, TOASTed) for the unchanged-TOAST path.
    const [long] = await sql(
      `INSERT INTO ${schema}.kb_documents (id, tenant_id, title, content) VALUES ($1, $2, 'Long runbook', (SELECT string_agg(md5('long' || g), ' ') FROM generate_series(1, 400) g))
       RETURNING content`,
      [LONG_DOC, tenantA],
    );
    longContent = long.content;
    config = writeConfig({
      prefix: name,
      slot: name,
      publication: name,
      tables: [`${schema}.kb_documents`, `${schema}.system_prompts`],
      targetUrl: target.url,
      projections: [{ recipe: 'knowledge-base', sourceSchema: schema }],
      projectorBatchEvents: 500,
    });
    capture = TandemProcess.capture(config);
    await capture.waitForLog(/streaming changes/);
    projector = TandemProcess.project(config);
  });

  afterAll(async () => {
    await projector?.stop();
    await capture?.stop();
    await dropSlot(name);
    await sql(`DROP PUBLICATION IF EXISTS ${name}`);
    await sql(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await target?.drop();
    const admin = new Client({ connectionString: env.targetUrl() });
    await admin.connect();
    await admin.query(`DROP ROLE IF EXISTS "${reader}"`).catch(() => undefined);
    await admin.end();
  });

  it('projects documents by scope, the effective documents of a tenant, and root + tenant prompts', async () => {
    const total = Object.values(demo.docs).reduce((a, b) => a + b, 0) + 1;
    await eventually(
      async () => (await count('SELECT count(*) AS n FROM knowledge_base.docs')) === total,
      60_000,
      `${total} projected documents`,
    ).catch(async (error) => {
      throw new Error(`${error.message}; projector said:\n${projector.output.slice(-3000)}`);
    });
    expect(
      await count(`SELECT count(*) AS n FROM knowledge_base.docs WHERE scope = 'root' AND tenant_id IS NULL`),
    ).toBe(demo.docs.root);
    expect(await count(`SELECT count(*) AS n FROM knowledge_base.docs WHERE tenant_id = $1`, [tenantB])).toBe(
      demo.docs[tenantB],
    );
    // every document's content, title, tags and metadata as in the legacy table
    const digest = `SELECT md5(string_agg(concat_ws('|', id, tenant_id, title, %s, lang, tags::text, metadata::text, is_active), '/' ORDER BY id)) AS d FROM %s`;
    const [legacy] = await sql(digest.replace('%s', 'content').replace('%s', `${schema}.kb_documents`));
    expect((await one(digest.replace('%s', 'content_text').replace('%s', 'knowledge_base.docs'))).d).toBe(
      legacy.d,
    );
    expect(await count(`SELECT count(*) AS n FROM knowledge_base.corpora`)).toBe(4); // root + three tenants

    const [expected] = await sql(
      `SELECT count(*)::int AS n FROM ${schema}.kb_documents WHERE is_active AND (tenant_id IS NULL OR tenant_id = $1)`,
      [tenantA],
    );
    const effective = await asTenant(
      target.url,
      tenantA,
      async (client) => (await client.query('SELECT tenant_id FROM knowledge_base.v_effective_docs')).rows,
    );
    expect(effective).toHaveLength(expected.n);
    expect(new Set(effective.map((row) => row.tenant_id))).toEqual(new Set([null, tenantA]));

    // prompts: one active per scope, as in the legacy table; effective = root + "\n\n" + tenant
    const active = await rows(
      `SELECT tenant_id, version, prompt_text FROM knowledge_base.prompts WHERE status = 'active'`,
    );
    expect(active).toHaveLength(Object.keys(demo.activePrompts).length);
    expect(await count(`SELECT count(*) AS n FROM knowledge_base.prompts`)).toBe(
      Object.values(demo.promptVersions).reduce((a, b) => a + b, 0),
    );
    const effectivePrompts = await rows(
      `SELECT tenant_id, prompt_text FROM knowledge_base.v_effective_prompt`,
    );
    const byTenant = new Map(effectivePrompts.map((row) => [row.tenant_id ?? 'root', row.prompt_text]));
    expect(byTenant.get('root')).toBe(demo.activePrompts.root);
    const withPrompt = demo.tenantIds.filter((tenant) => demo.activePrompts[tenant]);
    const without = demo.tenantIds.filter((tenant) => !demo.activePrompts[tenant]);
    expect(withPrompt.length).toBeGreaterThan(0); // seed 11: tenants A and B have prompts, C has none
    expect(without.length).toBeGreaterThan(0);
    for (const tenant of withPrompt)
      expect(byTenant.get(tenant)).toBe(`${demo.activePrompts.root}\n\n${demo.activePrompts[tenant]}`);
    for (const tenant of without) expect(byTenant.get(tenant)).toBe(demo.activePrompts.root);
    expect((await one(`SELECT knowledge_base.effective_prompt($1) AS p`, [withPrompt[0]])).p).toBe(
      byTenant.get(withPrompt[0]),
    );
  });

  it('activates a new prompt version replacing the old one in one legacy transaction, whatever the order of the partitions', async () => {
    const [tenant] = demo.tenantIds.filter((t) => !demo.activePrompts[t]);
    await withSource(async (client) => {
      await client.query('BEGIN');
      await client.query(
        `UPDATE ${schema}.system_prompts SET is_active = false, updated_at = now() WHERE tenant_id IS NULL AND is_active`,
      );
      await client.query(
        `INSERT INTO ${schema}.system_prompts (tenant_id, content, version, is_active) VALUES (NULL, 'Root prompt, version 4.', 4, true)`,
      );
      await client.query(
        `INSERT INTO ${schema}.system_prompts (tenant_id, content, version, is_active) VALUES ($1, 'Answer in French.', 1, true)`,
        [tenant],
      );
      await client.query('COMMIT');
    });
    await eventually(
      async () =>
        (await one(`SELECT knowledge_base.effective_prompt($1) AS p`, [tenant])).p ===
        'Root prompt, version 4.\n\nAnswer in French.',
      30_000,
      'the new root and tenant prompts',
    );
    const root = await rows(
      `SELECT version, status FROM knowledge_base.prompts WHERE scope = 'root' ORDER BY version`,
    );
    expect(root.map((row) => `${row.version}:${row.status}`)).toEqual([
      '1:inactive',
      '2:inactive',
      '3:inactive',
      '4:active',
    ]);
    expect(
      (await one(`SELECT prompt_text FROM knowledge_base.v_effective_prompt WHERE tenant_id IS NULL`))
        .prompt_text,
    ).toBe('Root prompt, version 4.');
    demo.activePrompts.root = 'Root prompt, version 4.';
  });

  it('queues a reindex once per content change; a title-only change (unchanged TOAST) queues none and keeps the content', async () => {
    const queued = (doc: string) =>
      rows(`SELECT reason, content_hash FROM knowledge_base.reindex_queue WHERE doc_id = $1 ORDER BY id`, [
        doc,
      ]);
    const [doc] = await sql(
      `SELECT id FROM ${schema}.kb_documents WHERE tenant_id = $1 AND id <> $2 ORDER BY id LIMIT 1`,
      [tenantB, LONG_DOC],
    );
    expect(await queued(doc.id)).toHaveLength(1);
    await sql(
      `UPDATE ${schema}.kb_documents SET content = 'Rewritten: back up the descriptor too.', updated_at = now() WHERE id = $1`,
      [doc.id],
    );
    await eventually(
      async () => (await queued(doc.id)).length === 2,
      30_000,
      'the content change to be queued',
    );
    expect(await queued(doc.id)).toEqual([
      { reason: 'created', content_hash: expect.any(String) },
      { reason: 'content_changed', content_hash: md5('t:Rewritten: back up the descriptor too.') },
    ]);

    expect(await queued(LONG_DOC)).toEqual([{ reason: 'created', content_hash: md5(`t:${longContent}`) }]);
    // an indexer has processed it: a content change would queue it again, a title change must not
    await rows(`UPDATE knowledge_base.reindex_queue SET processed_at = now() WHERE doc_id = $1`, [LONG_DOC]);
    await sql(`UPDATE ${schema}.kb_documents SET title = 'Long runbook (renamed)' WHERE id = $1`, [LONG_DOC]);
    // capture sent the placeholder for the unchanged content …
    const events = await readTopics(
      testKafka(),
      [`${name}.${schema}.kb_documents`],
      (records) => records.some((r) => r.value?.op === 'u' && r.value.after.id === LONG_DOC),
      { settleMs: 0, timeoutMs: 30_000 },
    );
    expect(
      events.find((r) => r.value?.op === 'u' && r.value.after.id === LONG_DOC)!.value.after.content,
    ).toBe(PLACEHOLDER);
    // … and the projection kept the stored content and queued nothing
    await eventually(
      async () =>
        (await one(`SELECT title FROM knowledge_base.docs WHERE id = $1`, [LONG_DOC])).title ===
        'Long runbook (renamed)',
      30_000,
      'the new title',
    );
    expect(
      (await one(`SELECT content_text FROM knowledge_base.docs WHERE id = $1`, [LONG_DOC])).content_text,
    ).toBe(longContent);
    expect(
      await rows(
        `SELECT reason, processed_at IS NOT NULL AS processed FROM knowledge_base.reindex_queue WHERE doc_id = $1`,
        [LONG_DOC],
      ),
    ).toEqual([{ reason: 'created', processed: true }]);
    await sql(`UPDATE ${schema}.kb_documents SET is_active = false WHERE id = $1`, [doc.id]);
    await eventually(
      async () =>
        (await one(`SELECT is_active FROM knowledge_base.docs WHERE id = $1`, [doc.id])).is_active === false,
      30_000,
      'deactivation',
    );
    expect(await queued(doc.id)).toHaveLength(2);
    expect(
      await count(`SELECT count(*) AS n FROM tandem.quarantine WHERE projection = 'knowledge-base'`),
    ).toBe(0);
  });

  it('redelivered events (the whole log, from offset 0) change nothing and queue nothing', async () => {
    const snapshot = async () => ({
      docs: await rows(
        `SELECT id, title, content_hash, tags, metadata, is_active, _source_lsn FROM knowledge_base.docs ORDER BY id`,
      ),
      queue: await rows(
        `SELECT id, doc_id, reason, content_hash, enqueued_at, processed_at FROM knowledge_base.reindex_queue ORDER BY id`,
      ),
      prompts: await rows(`SELECT id, version, status, prompt_text FROM knowledge_base.prompts ORDER BY id`),
      pointers: await rows(`SELECT * FROM knowledge_base.active_prompts ORDER BY tenant_key`),
      corpora: await rows(`SELECT * FROM knowledge_base.corpora ORDER BY id`),
    });
    await projector.stop();
    await rows(`UPDATE knowledge_base.reindex_queue SET processed_at = now() WHERE id % 2 = 0`); // some indexed, some pending
    const before = await snapshot();
    const checkpoints = await rows(
      `SELECT topic, partition, "offset" FROM tandem.checkpoints WHERE projection = 'knowledge-base'`,
    );
    expect(checkpoints.length).toBeGreaterThan(0);
    await rows(`DELETE FROM tandem.checkpoints WHERE projection = 'knowledge-base'`);
    projector = TandemProcess.project(config);
    await eventually(
      async () => {
        const now = await rows(
          `SELECT topic, partition, "offset" FROM tandem.checkpoints WHERE projection = 'knowledge-base'`,
        );
        return checkpoints.every((c) =>
          now.some(
            (n) => n.topic === c.topic && n.partition === c.partition && BigInt(n.offset) >= BigInt(c.offset),
          ),
        );
      },
      60_000,
      'the log to be applied again',
    );
    expect(await snapshot()).toEqual(before);
  });

  it('warns past the soft storage limit and quarantines a change that would pass the hard limit, naming the tenant', async () => {
    const usage = await rows(
      `SELECT tenant_id, bytes, status FROM knowledge_base.tenant_storage ORDER BY bytes DESC`,
    );
    expect(usage.every((row) => row.status === 'ok')).toBe(true); // 500 MB / 1 GiB by default
    const top = Number(usage[0].bytes);
    const tenant = tenantB;
    const base = Number(usage.find((row) => row.tenant_id === tenant)!.bytes);
    // limits relative to the largest scope, so that only the tenant that grows crosses them
    await rows(`UPDATE knowledge_base.settings SET value = $1 WHERE name = 'storage_soft_limit_bytes'`, [
      top + 5_000,
    ]);
    await rows(`UPDATE knowledge_base.settings SET value = $1 WHERE name = 'storage_hard_limit_bytes'`, [
      top + 20_000,
    ]);
    const headroom = top - base;
    const insert = (title: string, bytes: number) =>
      sql(`INSERT INTO ${schema}.kb_documents (tenant_id, title, content) VALUES ($1, $2, repeat('x', $3))`, [
        tenant,
        title,
        bytes,
      ]);
    // One at a time: the documents travel on different partitions, and the reason's figures depend on order.
    const projected = (title: string) =>
      eventually(async () => (await count(`SELECT count(*) AS n FROM knowledge_base.docs WHERE title = '${title}'`)) === 1, 30_000, title);
    await insert('Big upload', headroom + 8_000); // past soft
    await projected('Big upload');
    await insert('Too big upload', 15_000); // would pass hard
    await eventually(
      () => rows(`SELECT 1 FROM tandem.quarantine WHERE projection = 'knowledge-base'`).then((r) => r.length > 0),
      30_000,
      'the too big upload to be quarantined',
    );
    await insert('Small note', 1_000); // still fits
    await projected('Small note');
    const [quarantined] = await eventually(
      () =>
        rows(`SELECT reason FROM tandem.quarantine WHERE projection = 'knowledge-base'`).then(
          (r) => r.length > 0 && r,
        ),
      30_000,
      'the quarantined upload',
    );
    const after = top + 8_000 + 15_000;
    const pretty = await one(
      `SELECT pg_size_pretty($1::bigint) AS after, pg_size_pretty($2::bigint) AS hard`,
      [after, top + 20_000],
    );
    expect(quarantined.reason).toBe(
      `rejected by the target database (table docs, constraint tenant_storage_hard_limit): storage hard limit: tenant ${tenant} would hold ${after} bytes ` +
        `(${pretty.after}) of document content, past its hard limit of ${top + 20_000} bytes (${pretty.hard}); this change adds 15000 bytes [SQLSTATE 23514]`,
    );
    expect(await count(`SELECT count(*) AS n FROM knowledge_base.docs WHERE title = 'Too big upload'`)).toBe(
      0,
    );
    const status = await rows(`SELECT tenant_id, status FROM knowledge_base.tenant_storage`);
    expect(status.filter((row) => row.status !== 'ok')).toEqual([{ tenant_id: tenant, status: 'warn' }]);

    // a tenant already past a (lowered) hard limit is blocked, but changes that do not grow it pass
    await rows(`UPDATE knowledge_base.settings SET value = $1 WHERE name = 'storage_hard_limit_bytes'`, [
      top,
    ]);
    expect(
      (await one(`SELECT status FROM knowledge_base.tenant_storage WHERE tenant_id = $1`, [tenant])).status,
    ).toBe('blocked');
    await sql(
      `UPDATE ${schema}.kb_documents SET title = 'Big upload (renamed)', content = repeat('y', 100) WHERE title = 'Big upload'`,
    );
    await eventually(
      async () =>
        (await count(
          `SELECT count(*) AS n FROM knowledge_base.docs WHERE title = 'Big upload (renamed)'`,
        )) === 1,
      30_000,
      'the shrinking update',
    );
    expect(
      await count(`SELECT count(*) AS n FROM tandem.quarantine WHERE projection = 'knowledge-base'`),
    ).toBe(1);
    await rows(
      `UPDATE knowledge_base.settings SET value = 524288000 WHERE name = 'storage_soft_limit_bytes'`,
    );
    await rows(
      `UPDATE knowledge_base.settings SET value = 1073741824 WHERE name = 'storage_hard_limit_bytes'`,
    );
  });

  it("never shows tenant B's documents or prompts to a session of tenant A (a real non-superuser role)", async () => {
    await rows(`CREATE ROLE "${reader}" LOGIN PASSWORD 'reader' NOSUPERUSER NOBYPASSRLS`);
    await rows(`GRANT CONNECT ON DATABASE "${target.name}" TO "${reader}"`);
    await rows(`GRANT USAGE ON SCHEMA knowledge_base TO "${reader}"`);
    await rows(`GRANT SELECT ON ALL TABLES IN SCHEMA knowledge_base TO "${reader}"`);
    const url = new URL(target.url);
    url.username = reader;
    url.password = 'reader';
    const visible = (tenant: string | null, text: string, values: unknown[] = []) =>
      asTenant(url.toString(), tenant, async (client) => (await client.query(text, values)).rows);
    const scopes = async (tenant: string | null, relation: string) =>
      new Set(
        (await visible(tenant, `SELECT DISTINCT tenant_id FROM knowledge_base.${relation}`)).map(
          (row) => row.tenant_id,
        ),
      );

    // the control: as the owner, B's rows are there
    expect(
      await count(`SELECT count(*) AS n FROM knowledge_base.docs WHERE tenant_id = $1`, [tenantB]),
    ).toBeGreaterThan(0);
    expect(
      await count(`SELECT count(*) AS n FROM knowledge_base.prompt_versions WHERE tenant_id = $1`, [tenantB]),
    ).toBeGreaterThan(0);

    const [me] = await visible(
      tenantA,
      `SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user`,
    );
    expect(me).toEqual({ rolsuper: false, rolbypassrls: false });
    // every relation shows root rows and A's rows only; those with rows of every tenant show both
    for (const relation of [
      'docs',
      'v_effective_docs',
      'corpora',
      'reindex_queue',
      'v_effective_prompt',
      'tenant_storage',
    ]) {
      expect({ relation, scopes: await scopes(tenantA, relation) }).toEqual({
        relation,
        scopes: new Set([null, tenantA]),
      });
    }
    for (const relation of ['prompt_versions', 'prompts', 'active_prompts']) {
      const seen = [...(await scopes(tenantA, relation))];
      expect({ relation, others: seen.filter((tenant) => tenant !== null && tenant !== tenantA) }).toEqual({
        relation,
        others: [],
      });
      expect(seen).toContain(null);
    }
    expect(
      await visible(tenantA, `SELECT id FROM knowledge_base.docs WHERE tenant_id = $1`, [tenantB]),
    ).toEqual([]);
    const [a] = await sql(
      `SELECT count(*)::int AS n FROM ${schema}.kb_documents WHERE tenant_id IS NULL OR tenant_id = $1`,
      [tenantA],
    );
    expect(await visible(tenantA, `SELECT id FROM knowledge_base.docs`)).toHaveLength(a.n);
    // asking for B's effective documents as A still gives only the root ones
    expect(
      new Set(
        (await visible(tenantA, `SELECT tenant_id FROM knowledge_base.effective_docs($1)`, [tenantB])).map(
          (r) => r.tenant_id,
        ),
      ),
    ).toEqual(new Set([null]));
    // B sees its own and not A's; a session without a tenant sees the root only
    expect(await scopes(tenantB, 'v_effective_docs')).toEqual(new Set([null, tenantB]));
    expect(await scopes(null, 'docs')).toEqual(new Set([null]));
    await expect(visible(tenantA, `UPDATE knowledge_base.docs SET title = 'x'`)).rejects.toThrow(
      /permission denied/,
    );
  });

  it('imports nakamoto_kb.json + nakamoto_system_prompt.txt (validated first; twice changes nothing) and sets the root prompt', async () => {
    // a second deployment fed by the export files only, as in the seed
    const name2 = uniqueName('kbimport');
    const target2 = await createTargetDatabase('kbimport');
    const config2 = writeConfig({
      prefix: name2,
      slot: name2,
      publication: name2,
      tables: [`${name2}.kb_documents`],
      targetUrl: target2.url,
      projections: [{ recipe: 'knowledge-base', sourceSchema: name2 }],
    });
    const projector2 = TandemProcess.project(config2);
    try {
      const q = (text: string, values: unknown[] = []) => targetQuery(target2.url, text, values);
      const dir = mkdtempSync(join(tmpdir(), 'tandem-kb-import-'));
      const docs = Array.from({ length: 30 }, (_, i) => ({
        title: `Imported guide ${i}`,
        ...(i % 5 === 4
          ? { source_uri: `storage://nakamoto-kb/root/guide-${i}.pdf` }
          : { content_text: `How to do thing ${i}. `.repeat(20) }),
        lang: i % 10 === 0 ? 'de' : 'en',
        tags: ['guide', `t${i % 3}`],
        metadata: { imported: true, n: i },
      }));
      writeFileSync(join(dir, 'nakamoto_kb.json'), JSON.stringify(docs));
      writeFileSync(
        join(dir, 'nakamoto_system_prompt.txt'),
        'You are Aigent Nakamoto.\nAnswer from the knowledge base.\n',
      );
      writeFileSync(
        join(dir, 'bad_kb.json'),
        JSON.stringify([
          { title: 'Never imported', content_text: 'x' },
          { title: 'Also never', content_text: 'y' },
          { title: 'Broken', tags: 'x' },
        ]),
      );

      const bad = new TandemProcess([
        'import',
        '--config',
        config2,
        '--recipe',
        'knowledge-base',
        '--from',
        join(dir, 'bad_kb.json'),
        join(dir, 'nakamoto_system_prompt.txt'),
      ]);
      expect(await bad.exited).toBe(5);
      expect(bad.output).toContain(
        'bad_kb.json, record 2 ("Broken"): tags: tags must be an array of strings',
      );

      const files = [join(dir, 'nakamoto_kb.json'), join(dir, 'nakamoto_system_prompt.txt')];
      const load = new TandemProcess([
        'import',
        '--config',
        config2,
        '--recipe',
        'knowledge-base',
        '--from',
        ...files,
      ]);
      expect(await load.exited).toBe(0);
      expect(load.output).toContain('imported 31 records');
      await eventually(
        async () =>
          (await q(`SELECT count(*)::int AS n FROM knowledge_base.docs`).catch(() => [{ n: 0 }]))[0].n === 30,
        60_000,
        '30 imported documents',
      );
      await eventually(
        async () => (await q(`SELECT count(*)::int AS n FROM knowledge_base.active_prompts`))[0].n === 1,
        30_000,
        'the root prompt',
      );
      const state = async () => ({
        docs: await q(
          `SELECT id, title, content_hash, source_uri, lang, tags, metadata, scope, _source_key, _source_lsn FROM knowledge_base.docs ORDER BY id`,
        ),
        queue: await q(
          `SELECT id, doc_id, reason, enqueued_at FROM knowledge_base.reindex_queue ORDER BY id`,
        ),
        prompts: await q(`SELECT id, version, status, prompt_text FROM knowledge_base.prompts ORDER BY id`),
        effective: await q(`SELECT * FROM knowledge_base.v_effective_prompt`),
      });
      const first = await state();
      expect(first.prompts).toEqual([
        {
          id: expect.any(String),
          version: 1,
          status: 'active',
          prompt_text: 'You are Aigent Nakamoto.\nAnswer from the knowledge base.',
        },
      ]);
      expect(first.effective).toEqual([
        expect.objectContaining({
          tenant_id: null,
          scope: 'root',
          prompt_text: 'You are Aigent Nakamoto.\nAnswer from the knowledge base.',
        }),
      ]);
      expect(first.queue).toHaveLength(30);
      expect(first.docs.filter((d) => d.source_uri !== null)).toHaveLength(6);
      expect(first.docs.every((d) => d.scope === 'root' && d.metadata.imported === true)).toBe(true);

      const importCheckpoints = () =>
        q(`SELECT topic, partition, "offset" FROM tandem.checkpoints WHERE topic LIKE $1`, [
          `${name2}.import.%`,
        ]);
      const firstRound = await importCheckpoints();
      expect(firstRound.length).toBeGreaterThan(1);
      const again = new TandemProcess([
        'import',
        '--config',
        config2,
        '--recipe',
        'knowledge-base',
        '--from',
        ...files,
      ]);
      expect(await again.exited).toBe(0);
      // the same keys land on the same partitions: wait until each of them has been read again, then compare
      await eventually(
        async () => {
          const now = await importCheckpoints();
          return firstRound.every((c) =>
            now.some(
              (n) =>
                n.topic === c.topic && n.partition === c.partition && BigInt(n.offset) > BigInt(c.offset),
            ),
          );
        },
        30_000,
        'the second import to be applied',
      );
      expect(await state()).toEqual(first);
      expect(
        (
          await q(
            `SELECT count(*)::int AS n FROM knowledge_base.docs WHERE title IN ('Never imported', 'Also never')`,
          )
        )[0].n,
      ).toBe(0);
      expect((await q(`SELECT count(*)::int AS n FROM tandem.quarantine`))[0].n).toBe(0);
    } finally {
      await projector2.stop();
      await target2.drop();
    }
  });
});

/**
 * The SQL the projection relies on, with its operations applied directly (in chosen orders, and
 * redelivered) to a fresh target: what the pipeline above cannot force, such as the order in which
 * two partitions' events arrive.
 */
describe('knowledge-base target SQL', () => {
  const definition = knowledgeBaseProjection('legacy');
  let db: Awaited<ReturnType<typeof createTargetDatabase>>;
  let pool: Pool;
  const T1 = '7a000000-0000-4000-8000-000000000001';
  const T2 = '7a000000-0000-4000-8000-000000000002';
  const prompt = (n: number) => `7b000000-0000-4000-8000-00000000000${n}`;

  beforeAll(async () => {
    db = await createTargetDatabase('kbsql');
    pool = new Pool({ connectionString: db.url, max: 2 });
    await ensureTandemSchema(pool);
    await applyMigrations(pool, definition.name, definition.schema, definition.migrations);
  });

  afterAll(async () => {
    await pool?.end();
    await db?.drop();
  });

  /** One event, validated by the projection's input schema, applied in its own transaction. */
  const apply = async (
    table: 'kb_documents' | 'system_prompts',
    lsn: number,
    row: Record<string, unknown>,
  ) => {
    const source = `legacy.${table}`;
    const after = definition.input[source].parse(row) as KnowledgeBaseRow;
    const operations = definition.apply({
      source,
      op: 'u',
      before: null,
      after,
      key: JSON.stringify({ id: row.id }),
      commitLsn: BigInt(lsn),
      commitTimeMs: 0,
      transactionId: null,
      position: { topic: source, partition: 0, offset: 0n },
    });
    const client = await pool.connect();
    try {
      await client.query('BEGIN');
      await executeStatements(
        client,
        planStatements(
          definition.name,
          definition.schema,
          operations.map((operation) => ({ operation, sourceKey: `${source}/${row.id}`, lsn: BigInt(lsn) })),
        ),
      );
      await client.query('COMMIT');
    } catch (error) {
      await client.query('ROLLBACK');
      throw error;
    } finally {
      client.release();
    }
  };
  const q = async (text: string, values: unknown[] = []) => (await pool.query(text, values)).rows;
  const activeOf = async (tenant: string) =>
    (
      await q(
        `SELECT id, prompt_text FROM knowledge_base.prompts WHERE tenant_id = $1 AND status = 'active'`,
        [tenant],
      )
    ).map((r) => `${r.id.slice(-1)}:${r.prompt_text}`);
  const version = (n: number, tenant: string, active: boolean, content = `text ${n}`) => ({
    id: prompt(n),
    tenant_id: tenant,
    content,
    version: n,
    is_active: active,
  });

  it('keeps one active prompt per scope whichever partition applies first; a stale activation loses, a later one wins', async () => {
    await apply('system_prompts', 10, version(1, T1, true));
    await apply('system_prompts', 10, version(3, T2, true, 'text 1'));
    // one legacy transaction (LSN 20) deactivates v1 and activates v2: T1 sees the activation first, T2 the deactivation
    await apply('system_prompts', 20, version(2, T1, true));
    await apply('system_prompts', 20, version(1, T1, false));
    await apply('system_prompts', 20, version(3, T2, false, 'text 1'));
    await apply('system_prompts', 20, version(4, T2, true));
    expect(await activeOf(T1)).toEqual(['2:text 2']);
    expect(await activeOf(T2)).toEqual(['4:text 4']);
    await apply('system_prompts', 10, version(1, T1, true)); // redelivered, older than the pointer
    expect(await activeOf(T1)).toEqual(['2:text 2']);
    await apply('system_prompts', 30, version(1, T1, true, '__debezium_unavailable_value')); // rollback to v1, its text unchanged (TOAST)
    await apply('system_prompts', 30, version(2, T1, false));
    expect(await activeOf(T1)).toEqual(['1:text 1']);
    expect(await q(`SELECT knowledge_base.effective_prompt($1) AS p`, [T1])).toEqual([{ p: 'text 1' }]);
    await apply('system_prompts', 40, version(1, T1, false, '__debezium_unavailable_value'));
    expect(await activeOf(T1)).toEqual([]);
    expect(
      await q(
        `SELECT count(*)::int AS n FROM knowledge_base.prompts WHERE status = 'active' GROUP BY tenant_id HAVING count(*) > 1`,
      ),
    ).toEqual([]);
  });

  it('queues one row per content version: a redelivery queues nothing, content back to an indexed version re-arms it', async () => {
    const doc = (content: string, title = 'Doc') => ({
      id: '7c000000-0000-4000-8000-000000000001',
      tenant_id: T1,
      title,
      content,
    });
    const queue = async () =>
      (
        await q(
          `SELECT reason, content_hash, processed_at IS NOT NULL AS done FROM knowledge_base.reindex_queue ORDER BY id`,
        )
      ).map(
        (r) =>
          `${r.reason}:${r.content_hash === createHash('md5').update('t:A').digest('hex') ? 'A' : 'B'}:${r.done ? 'done' : 'pending'}`,
      );
    await apply('kb_documents', 10, doc('A'));
    await apply('kb_documents', 10, doc('A')); // redelivered
    expect(await queue()).toEqual(['created:A:pending']);
    await apply('kb_documents', 20, doc('B'));
    await apply('kb_documents', 10, doc('A')); // an older event: the LSN guard writes nothing
    expect(await queue()).toEqual(['created:A:pending', 'content_changed:B:pending']);
    await q(`UPDATE knowledge_base.reindex_queue SET processed_at = now()`);
    await apply('kb_documents', 30, doc('B', 'Retitled')); // same content: nothing
    await apply('kb_documents', 40, doc('A'));
    expect(await queue()).toEqual(['content_changed:A:pending', 'content_changed:B:done']);
  });

  it('generates the same legacy data for the same seed, other data for another', async () => {
    const base = uniqueName('kbdemo');
    const digest = async (s: string) =>
      (await sql(`SELECT md5(string_agg(d::text, '/' ORDER BY id)) AS d FROM ${s}.kb_documents d`))[0].d +
      (await sql(`SELECT md5(string_agg(p::text, '/' ORDER BY id)) AS d FROM ${s}.system_prompts p`))[0].d;
    try {
      const results = await withSource(async (client) => {
        const out = [];
        for (const [suffix, seed] of [
          ['a', 5],
          ['b', 5],
          ['c', 6],
        ] as const) {
          await createLegacyKnowledgeBase(client, `${base}_${suffix}`);
          out.push(await generateKnowledgeBase(client, `${base}_${suffix}`, { tenants: 4, docs: 300, seed }));
        }
        return out;
      });
      expect(results[0]).toEqual(results[1]);
      expect(Object.values(results[0].docs).reduce((a, b) => a + b, 0)).toBe(300);
      expect(await digest(`${base}_a`)).toBe(await digest(`${base}_b`));
      expect(await digest(`${base}_a`)).not.toBe(await digest(`${base}_c`));
    } finally {
      await sql(
        `DROP SCHEMA IF EXISTS ${base}_a CASCADE; DROP SCHEMA IF EXISTS ${base}_b CASCADE; DROP SCHEMA IF EXISTS ${base}_c CASCADE`,
      );
    }
  });
});
