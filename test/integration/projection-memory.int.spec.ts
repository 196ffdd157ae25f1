import { mkdtempSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { Client } from 'pg';
import { TandemProcess, writeConfig } from '../support/capture-process';
import { createTargetDatabase, targetQuery } from '../support/target-db';
import { dropSlot, eventually, sql, testKafka, uniqueName, withSource } from '../support/services';
import { randomVector, writeNpy } from '../support/npy';
import {
  createLegacyMemory,
  generateMemoryNodes,
  type MemoryGenerateResult,
} from '../../demo/memory';

/**
 * The memory recipe (seed 004) end to end: legacy memory_nodes (vector(1024), user or tenant scope)
 * -> capture -> Kafka -> projector -> memory.nodes, with bad scopes quarantined by the target's
 * constraint, embeddings compared bit for bit, the scoped similarity search, and the file-based
 * store (nodes.json + nodes.npy) imported through the same log, validated first, idempotently.
 */
describe('projection: memory recipe', () => {
  const name = uniqueName('memory');
  const schema = name;
  const legacyTable = `${schema}.memory_nodes`;
  const importTopic = `${name}.import.nodes`;
  let target: Awaited<ReturnType<typeof createTargetDatabase>>;
  let config: string;
  let capture: TandemProcess;
  let projector: TandemProcess;
  let generated: MemoryGenerateResult;

  const count = async (text: string, values: unknown[] = []) =>
    Number((await targetQuery(target.url, text, values))[0].n);
  const legacyNodes = () => count(`SELECT count(*) AS n FROM memory.nodes WHERE origin = $1`, [legacyTable]);
  const vectorText = (values: number[]) => `[${values.join(',')}]`;
  /** eventually(), and on a timeout what the projector said, so a failure explains itself. */
  const waitFor = <T>(check: () => Promise<T | undefined | false>, timeoutMs: number, what: string) =>
    eventually(check, timeoutMs, what).catch(async (error) => {
      const quarantine = await targetQuery(
        target.url,
        `SELECT source_key, reason FROM tandem.quarantine ORDER BY id DESC LIMIT 5`,
      ).catch(() => []);
      throw new Error(
        `${error.message}\nlatest quarantine: ${JSON.stringify(quarantine)}\nprojector said:\n${projector.output.slice(-4000)}`,
      );
    });

  beforeAll(async () => {
    target = await createTargetDatabase('memory');
    generated = await withSource(async (client) => {
      await createLegacyMemory(client, schema);
      return generateMemoryNodes(client, schema, {
        nodes: 300,
        users: 4,
        tenants: 2,
        seed: 11,
        badRatio: 0.03,
      });
    });
    config = writeConfig({
      prefix: name,
      slot: name,
      publication: name,
      tables: [legacyTable],
      targetUrl: target.url,
      projections: [{ recipe: 'memory', sourceSchema: schema }],
      projectorBatchEvents: 100,
    });
    capture = TandemProcess.capture(config);
    await capture.waitForLog(/streaming changes/);
    projector = TandemProcess.project(config);
  });

  afterAll(async () => {
    await projector?.stop();
    await capture?.stop();
    await dropSlot(name);
    await target?.drop();
  });

  it('projects every node with exactly one scope, embeddings bit for bit', async () => {
    expect(generated.inserted).toBe(300);
    expect(generated.badScope).toBeGreaterThan(0);
    await waitFor(
      async () => (await legacyNodes()) === generated.valid,
      60_000,
      `${generated.valid} projected nodes`,
    );
    const columns = `id::text AS id, user_id::text, tenant_id::text, kind, content, metadata, embedding::text AS embedding, created_at, updated_at`;
    const order = 'ORDER BY id::text COLLATE "C"';
    const legacy = await sql(
      `SELECT ${columns} FROM ${legacyTable} WHERE (user_id IS NULL) <> (tenant_id IS NULL) ${order}`,
    );
    const projected = await targetQuery(
      target.url,
      `SELECT ${columns} FROM memory.nodes WHERE origin = $1 ${order}`,
      [legacyTable],
    );
    expect(projected).toHaveLength(legacy.length);
    expect(projected).toEqual(legacy);
    expect(legacy[0].embedding.split(',')).toHaveLength(1024);
    expect(typeof projected[0].metadata.technical_depth).toBe('number'); // a jsonb document, not a JSON string
  });

  it('quarantines nodes with neither or both scopes, naming the constraint, and later events still apply', async () => {
    const quarantined = await waitFor(
      async () => {
        const rows = await targetQuery(
          target.url,
          `SELECT reason, source_key FROM tandem.quarantine WHERE projection = 'memory'`,
        );
        return rows.length === generated.badScope && rows;
      },
      30_000,
      `${generated.badScope} quarantined nodes`,
    );
    for (const row of quarantined) expect(row.reason).toContain('constraint nodes_scope_check');

    const [kept, retargeted, removed, donor] = await sql(
      `SELECT id::text FROM ${legacyTable} WHERE user_id IS NOT NULL AND tenant_id IS NULL ORDER BY created_at LIMIT 4`,
    );
    await sql(`UPDATE ${legacyTable} SET content = 'edited: ' || content, updated_at = now() WHERE id = $1`, [
      kept.id,
    ]);
    await sql(
      `UPDATE ${legacyTable} SET embedding = (SELECT embedding FROM ${legacyTable} WHERE id = $2) WHERE id = $1`,
      [retargeted.id, donor.id],
    );
    await sql(`DELETE FROM ${legacyTable} WHERE id = $1`, [removed.id]);
    const fresh = randomVector(99, 1024);
    await sql(
      `INSERT INTO ${legacyTable} (id, tenant_id, content, metadata, embedding) VALUES ('00000000-0000-4000-8000-000000000001', $1, 'fresh', '{"k": 1}', $2)`,
      [generated.tenantIds[0], vectorText(fresh)],
    );
    await sql(
      `INSERT INTO ${legacyTable} (id, content, embedding) VALUES ('00000000-0000-4000-8000-000000000002', 'no scope', $1)`,
      [vectorText(fresh)],
    );

    const check = `SELECT id::text, content, embedding::text FROM %s WHERE id::text = ANY($1::text[]) ORDER BY id::text COLLATE "C"`;
    const ids = [kept.id, retargeted.id, removed.id, donor.id, '00000000-0000-4000-8000-000000000001'];
    const legacyRows = await sql(check.replace('%s', legacyTable), [ids]);
    expect(legacyRows).toHaveLength(4);
    let projectedRows: Array<Record<string, any>> = [];
    // the changes sit on different partitions: wait for all of them
    await waitFor(
      async () => {
        projectedRows = await targetQuery(target.url, check.replace('%s', 'memory.nodes'), [ids]);
        const quarantined = await count(
          `SELECT count(*) AS n FROM tandem.quarantine WHERE projection = 'memory'`,
        );
        return (
          JSON.stringify(projectedRows) === JSON.stringify(legacyRows) &&
          quarantined === generated.badScope + 1
        );
      },
      30_000,
      'the edits, the delete, the new node and the new bad node',
    );
    expect(projectedRows).toEqual(legacyRows);
    expect(await legacyNodes()).toBe(generated.valid);
    const [latest] = await targetQuery(
      target.url,
      `SELECT reason, source_key FROM tandem.quarantine WHERE projection = 'memory' ORDER BY id DESC LIMIT 1`,
    );
    expect(latest.source_key).toContain('00000000-0000-4000-8000-000000000002');
    expect(latest.reason).toContain('constraint nodes_scope_check');
    // the content-only update carried the unchanged-TOAST placeholder for the embedding: kept as stored
    expect(projectedRows.find((row) => row.id === kept.id)!.content).toMatch(/^edited: /);
    const [{ distance }] = await targetQuery(
      target.url,
      `SELECT embedding <-> $1::vector AS distance FROM memory.nodes WHERE id = $2`,
      [vectorText(fresh), '00000000-0000-4000-8000-000000000001'],
    );
    expect(distance).toBe(0);
  });

  it('searches by cosine similarity within one scope only, through the HNSW index', async () => {
    const [userA, userB] = generated.userIds;
    const [probe] = await targetQuery(
      target.url,
      `SELECT id, embedding::text AS embedding FROM memory.nodes WHERE user_id = $1 ORDER BY id LIMIT 1`,
      [userA],
    );
    const search = (user: string | null, tenant: string | null, k = 10) =>
      targetQuery(target.url, `SELECT * FROM memory.similar_nodes($1::vector, $2, $3, $4)`, [
        probe.embedding,
        user,
        tenant,
        k,
      ]);

    const own = await search(userA, null);
    expect(own[0].id).toBe(probe.id);
    expect(own[0].distance).toBeLessThan(1e-6);
    expect(own).toHaveLength(10);
    expect(new Set(own.map((row) => row.user_id))).toEqual(new Set([userA]));
    expect(own.map((row) => row.distance)).toEqual([...own.map((row) => row.distance)].sort((a, b) => a - b));

    // the probe is the nearest node of all: another scope must still never see it
    const all = await count(`SELECT count(*) AS n FROM memory.nodes WHERE user_id = $1`, [userB]);
    const other = await search(userB, null, 1000);
    expect(other).toHaveLength(all);
    expect(other.every((row) => row.user_id === userB && row.tenant_id === null)).toBe(true);
    const tenant = await search(null, generated.tenantIds[1], 1000);
    expect(tenant.length).toBe(
      await count(`SELECT count(*) AS n FROM memory.nodes WHERE tenant_id = $1`, [generated.tenantIds[1]]),
    );
    expect(tenant.every((row) => row.tenant_id === generated.tenantIds[1] && row.user_id === null)).toBe(
      true,
    );
    expect(tenant.map((row) => row.id)).not.toContain(probe.id);

    await expect(search(null, null)).rejects.toThrow('pass exactly one scope');
    await expect(search(userA, generated.tenantIds[0])).rejects.toThrow('pass exactly one scope');
    // the HNSW index is deferred: built once the projector has caught up with its topics
    await eventually(
      async () =>
        (
          await targetQuery(
            target.url,
            `SELECT 1 FROM pg_indexes WHERE schemaname = 'memory' AND indexname = 'nodes_embedding_hnsw'`,
          )
        ).length > 0,
      60_000,
      'the deferred HNSW index to be built',
    );
    // a few hundred rows are cheaper to scan; with scans priced out the planner must find the index
    const client = new Client({ connectionString: target.url });
    await client.connect();
    try {
      await client.query(`SET enable_seqscan = off`);
      const plan = await client.query(
        `EXPLAIN SELECT id FROM memory.nodes ORDER BY embedding <=> $1::vector LIMIT 5`,
        [probe.embedding],
      );
      expect(plan.rows.map((row) => row['QUERY PLAN']).join('\n')).toMatch(
        /Index Scan using nodes_embedding_hnsw on nodes/,
      );
    } finally {
      await client.end();
    }
  });

  describe('import of nodes.json + nodes.npy', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tandem-memory-import-'));
    const nodes = (count: number) =>
      Array.from({ length: count }, (_, i) => ({
        id: `mem_${(0xa000 + i).toString(16)}`,
        human_content: `question ${i}`,
        assistant_content: `answer ${i}`,
        created_at: '2024-03-01T12:00:00Z',
        intent_type: 'question',
        ...(i < 20 ? { user_id: generated.userIds[1] } : {}),
      }));
    const vectors = (count: number, dimensions = 1024) =>
      Array.from({ length: count }, (_, i) => randomVector(1000 + i, dimensions));
    const importFiles = (label: string, json: unknown, embeddings: number[][]) => {
      writeFileSync(join(dir, `${label}.json`), JSON.stringify(json));
      writeNpy(join(dir, `${label}.npy`), embeddings);
      return [join(dir, `${label}.json`), join(dir, `${label}.npy`)];
    };
    const runImport = (
      files: string[],
      env: Record<string, string> = { TANDEM_MEMORY_TENANT_ID: generated.tenantIds[1] },
    ) => new TandemProcess(['import', '--config', config, '--recipe', 'memory', '--from', ...files], env);
    const importOffsets = async () => {
      const admin = testKafka().admin();
      await admin.connect();
      try {
        return await admin.fetchTopicOffsets(importTopic);
      } finally {
        await admin.disconnect();
      }
    };

    it('refuses invalid exports with exit 5, naming the file, the record and the reason, and writes nothing', async () => {
      const valid = nodes(6);
      const badUuid = valid.map((node, i) => (i === 4 ? { ...node, user_id: 'user-42' } : node));
      const runs = [
        runImport(importFiles('mismatch', valid, vectors(5))),
        runImport(importFiles('narrow', valid, vectors(6, 512))),
        runImport(importFiles('baduuid', badUuid, vectors(6))),
      ];
      const codes = await Promise.all(runs.map((run) => run.exited));
      const outputs = runs.map((run) => run.output);
      expect(
        codes.map((code, i) => `${code}: ${code === [5, 5, 5][i] ? 'as expected' : outputs[i]}`),
      ).toEqual([5, 5, 5].map((code) => `${code}: as expected`));
      expect(outputs[0]).toContain(
        'mismatch.npy: node count mismatch: mismatch.json has 6 nodes, mismatch.npy has 5 embedding rows',
      );
      expect(outputs[1]).toContain(
        'narrow.npy: dimension mismatch: embeddings have 512 dimensions, expected 1024',
      );
      expect(outputs[2]).toContain('baduuid.json, record 4 (mem_a004): user_id: user_id is not a valid uuid');
      expect((await importOffsets()).every((partition) => partition.high === '0')).toBe(true);
      expect(await count(`SELECT count(*) AS n FROM memory.nodes WHERE origin = 'import.nodes'`)).toBe(0);
    });

    it('imports every node with its embedding, exactly, and importing the same files twice changes nothing', async () => {
      const exported = nodes(60);
      const embeddings = vectors(60);
      const files = importFiles('nodes', exported, embeddings);
      const first = runImport(files);
      expect(await first.exited).toBe(0);
      expect(first.output).toContain('imported 60 records');
      await waitFor(
        async () =>
          (await count(`SELECT count(*) AS n FROM memory.nodes WHERE origin = 'import.nodes'`)) === 60,
        30_000,
        '60 imported nodes',
      );

      const rows = await targetQuery(
        target.url,
        `SELECT id, user_id, tenant_id, content, metadata, embedding::text AS embedding FROM memory.nodes WHERE origin = 'import.nodes' ORDER BY id`,
      );
      expect(
        rows.filter((row) => row.user_id === generated.userIds[1] && row.tenant_id === null),
      ).toHaveLength(20);
      expect(
        rows.filter((row) => row.tenant_id === generated.tenantIds[1] && row.user_id === null),
      ).toHaveLength(40);
      rows.forEach((row, i) => {
        expect(row.id).toBe(exported[i].id);
        expect(row.content).toBe(`question ${i}\n\nanswer ${i}`);
        expect(row.metadata).toMatchObject({ intent_type: 'question', human_content: `question ${i}` });
        // every float32 of the .npy file, unchanged
        expect(JSON.parse(row.embedding).map(Math.fround)).toEqual(embeddings[i]);
      });
      const [nearest] = await targetQuery(
        target.url,
        `SELECT id, distance FROM memory.similar_nodes($1::vector, NULL, $2, 3)`,
        [vectorText(embeddings[30]), generated.tenantIds[1]],
      );
      expect(nearest.id).toBe(exported[30].id);
      expect(nearest.distance).toBeLessThan(1e-6);

      const snapshot = `SELECT id, md5(n::text) AS digest FROM memory.nodes n WHERE origin = 'import.nodes' ORDER BY id`;
      const before = await targetQuery(target.url, snapshot);
      const second = runImport(files);
      expect(await second.exited).toBe(0);
      // wait until the projector has applied the second import: each partition's checkpoint reaches its
      // last data record (the high watermark minus the transaction's commit marker)
      const offsets = await importOffsets();
      await waitFor(
        async () => {
          const checkpoints = await targetQuery(
            target.url,
            `SELECT partition, "offset" FROM tandem.checkpoints WHERE projection = 'memory' AND topic = $1`,
            [importTopic],
          );
          return offsets.every(
            (partition) =>
              partition.high === '0' ||
              checkpoints.some(
                (c) => c.partition === partition.partition && BigInt(c.offset) >= BigInt(partition.high) - 2n,
              ),
          );
        },
        30_000,
        'the second import to be applied',
      );
      expect(await targetQuery(target.url, snapshot)).toEqual(before);
      expect(await count(`SELECT count(*) AS n FROM memory.nodes`)).toBe(generated.valid + 60);
    });
  });
});
