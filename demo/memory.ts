import { createHash } from 'crypto';
import type { ClientBase } from 'pg';
import { EMBEDDING_DIMENSIONS, LEGACY_TABLE } from '../src/projections/memory/memory.schemas';

/**
 * The legacy side of seed 004, for the quickstart, the tests and benchmarks: the application's
 * `memory_nodes` table (Q/A memories with a vector(1024) embedding, owned by a user or a tenant),
 * without the exactly-one-scope constraint the legacy schema lacked (it only asked for "at least one"
 * in code), and a deterministic generator of nodes with pseudo-random embeddings computed in SQL.
 */
export interface MemoryGenerateOptions {
  nodes: number;
  /** Personal users owning nodes (ids derived from the seed). */
  users: number;
  /** Enterprise tenants owning nodes (ids derived from the seed). */
  tenants: number;
  /** Same seed, same rows (ids, scopes, text, vectors, timestamps). Default 1. */
  seed?: number;
  /** Share of nodes (0..1) with a bad scope: neither user nor tenant, or both. Default 0.02. */
  badRatio?: number;
}

export interface MemoryGenerateResult {
  /** Nodes written (a node already there with the same id is left alone). */
  inserted: number;
  /** Of those, nodes with a bad scope (the projection quarantines them). */
  badScope: number;
  /** Of those, nodes with exactly one scope (the projection's row count for them). */
  valid: number;
  userIds: string[];
  tenantIds: string[];
}

const quote = (name: string) => `"${name.replace(/"/g, '""')}"`;

/** A uuid from md5(text), as PostgreSQL's md5(text)::uuid spells it. */
function md5Uuid(text: string): string {
  const hex = createHash('md5').update(text).digest('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

export const demoUserId = (seed: number, index: number) => md5Uuid(`memory-user:${seed}:${index}`);
export const demoTenantId = (seed: number, index: number) => md5Uuid(`memory-tenant:${seed}:${index}`);

export async function createLegacyMemory(client: ClientBase, schema: string): Promise<void> {
  const s = quote(schema);
  await client.query('CREATE EXTENSION IF NOT EXISTS vector');
  await client.query(`
    CREATE SCHEMA IF NOT EXISTS ${s};
    CREATE TABLE ${s}.${LEGACY_TABLE} (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      user_id uuid,
      tenant_id uuid,
      kind text NOT NULL DEFAULT 'qa_pair',
      content text NOT NULL,
      metadata jsonb NOT NULL DEFAULT '{}',
      embedding vector(${EMBEDDING_DIMENSIONS}) NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now()
    );
    CREATE INDEX ON ${s}.${LEGACY_TABLE} (user_id);
    CREATE INDEX ON ${s}.${LEGACY_TABLE} (tenant_id);
  `);
}

/**
 * Writes `nodes` memory nodes in one statement. Node i's id is md5("memory-node:<seed>:<i>")::uuid;
 * its embedding's value d is a hash of (i, d, seed) scaled to [-1, 1) and stored as float4, so the
 * same seed always gives the same vectors. About two thirds of the nodes are personal (a user's),
 * the rest enterprise (a tenant's) — all of one kind when the other count is 0 — and `badRatio` of
 * them carry neither scope or both.
 */
export async function generateMemoryNodes(client: ClientBase, schema: string, options: MemoryGenerateOptions): Promise<MemoryGenerateResult> {
  const seed = options.seed ?? 1;
  const badRatio = options.badRatio ?? 0.02;
  if (options.users < 0 || options.tenants < 0 || options.users + options.tenants === 0) throw new Error('generateMemoryNodes: need at least one user or tenant');
  const userIds = Array.from({ length: options.users }, (_, i) => demoUserId(seed, i));
  const tenantIds = Array.from({ length: options.tenants }, (_, i) => demoTenantId(seed, i));
  const result = await client.query<{ inserted: string; bad: string }>(
    `WITH picked AS (
       SELECT g,
              (hashint8extended(g, $2::bigint) & 9223372036854775807) AS h,
              (hashint8extended(-g, $2::bigint) & 9223372036854775807) % 10000 < $5::float8 * 10000 AS bad,
              CASE WHEN cardinality($4::uuid[]) = 0 THEN false
                   WHEN cardinality($3::uuid[]) = 0 THEN true
                   ELSE g % 3 = 0 END AS enterprise
         FROM generate_series(1, $1::int) g
     ), scoped AS (
       SELECT p.*,
              CASE WHEN cardinality($3::uuid[]) > 0 THEN ($3::uuid[])[1 + p.h % cardinality($3::uuid[])] END AS some_user,
              CASE WHEN cardinality($4::uuid[]) > 0 THEN ($4::uuid[])[1 + (p.h / 7) % cardinality($4::uuid[])] END AS some_tenant
         FROM picked p
     ), ins AS (
       INSERT INTO ${quote(schema)}.${LEGACY_TABLE} (id, user_id, tenant_id, kind, content, metadata, embedding, created_at, updated_at)
       SELECT md5('memory-node:' || $2::bigint || ':' || g)::uuid,
              CASE WHEN bad THEN CASE WHEN g % 2 = 0 THEN some_user END
                   WHEN NOT enterprise THEN some_user END,
              CASE WHEN bad THEN CASE WHEN g % 2 = 0 THEN some_tenant END
                   WHEN enterprise THEN some_tenant END,
              (ARRAY['qa_pair', 'fact', 'preference', 'episode'])[1 + h % 4],
              'Q: how do I ' || (ARRAY['deploy', 'index', 'migrate', 'reconcile', 'scale', 'back up'])[1 + h % 6] || ' the '
                || (ARRAY['database', 'cluster', 'vector store', 'API', 'queue'])[1 + (h / 6) % 5] || ' (#' || g || ')?'
                || E'\\nA: step by step, with a dry run first; node ' || g || ' of seed ' || $2::bigint || '.',
              jsonb_build_object('intent_type', (ARRAY['question', 'instruction', 'reflection'])[1 + h % 3],
                                 'technical_depth', h % 11, 'cluster_id', h % 20, 'cluster_confidence', round((h % 100) / 100.0, 2),
                                 'source', 'demo', 'seed', $2::bigint),
              (SELECT array_agg((hashint8extended(g::bigint * ${EMBEDDING_DIMENSIONS} + d, $2::bigint) / 9223372036854775808.0::float8)::real ORDER BY d)
                 FROM generate_series(0, ${EMBEDDING_DIMENSIONS - 1}) d)::vector,
              timestamptz '2024-01-01 00:00:00+00' + g * interval '1 minute',
              timestamptz '2024-01-01 00:00:00+00' + g * interval '1 minute' + (h % 1000) * interval '1 second'
         FROM scoped
       ON CONFLICT (id) DO NOTHING
       RETURNING user_id, tenant_id
     )
     SELECT count(*) AS inserted, count(*) FILTER (WHERE (user_id IS NULL) = (tenant_id IS NULL)) AS bad FROM ins`,
    [options.nodes, seed, userIds, tenantIds, badRatio],
  );
  const inserted = Number(result.rows[0].inserted);
  const badScope = Number(result.rows[0].bad);
  return { inserted, badScope, valid: inserted - badScope, userIds, tenantIds };
}
