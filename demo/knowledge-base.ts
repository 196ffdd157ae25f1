import { createHash } from 'crypto';
import type { ClientBase } from 'pg';

/**
 * The legacy side of seed 000, for the quickstart and the tests: the old Aigent Nakamoto
 * application kept its knowledge base and system prompts in two tables, with a nullable tenant_id
 * (NULL = the root instance, shared by every tenant), and validated nothing in the database.
 *
 * `generateKnowledgeBase` fills them deterministically (same seed, same ids, text and timestamps)
 * with realistic data in a few INSERT … SELECT statements (tens of thousands of documents in
 * seconds): about a quarter of the documents are root documents, the others spread over the
 * tenants; most are a few KB, one in twenty is long (tens of KB, TOASTed), some point to a file in
 * storage; the root prompt has three versions (the last active), most tenants have one or two
 * versions of a prompt augmentation (the last active).
 */
export interface KnowledgeBaseGenerateOptions {
  tenants: number;
  docs: number;
  /** Same seed, same data. Default 1. Ids derive from it: generate each seed once per schema. */
  seed?: number;
}

export interface KnowledgeBaseGenerateResult {
  tenantIds: string[];
  /** Documents per scope: "root" or a tenant id. */
  docs: Record<string, number>;
  /** Prompt versions per scope: "root" or a tenant id. */
  promptVersions: Record<string, number>;
  /** The active prompt text per scope, as the legacy application would use it. */
  activePrompts: Record<string, string>;
}

const POOL_SIZE = 4096;

const quote = (name: string) => `"${name.replace(/"/g, '""')}"`;

export async function createLegacyKnowledgeBase(client: ClientBase, schema: string): Promise<void> {
  const s = quote(schema);
  await client.query(`
    CREATE SCHEMA IF NOT EXISTS ${s};
    CREATE TABLE ${s}.kb_documents (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      tenant_id uuid,
      title text NOT NULL,
      content text,
      source_uri text,
      lang text DEFAULT 'en',
      tags text[] DEFAULT '{}',
      metadata jsonb DEFAULT '{}',
      is_active boolean NOT NULL DEFAULT true,
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now()
    );
    CREATE INDEX ON ${s}.kb_documents (tenant_id);
    CREATE TABLE ${s}.system_prompts (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      tenant_id uuid,
      content text NOT NULL,
      version integer NOT NULL DEFAULT 1,
      is_active boolean NOT NULL DEFAULT false,
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now()
    );
    CREATE INDEX ON ${s}.system_prompts (tenant_id, version);
  `);
}

/** md5-based uuid, as PostgreSQL's md5(text)::uuid. */
export function demoUuid(text: string): string {
  const hex = createHash('md5').update(text).digest('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

const demoInt = (text: string) => parseInt(createHash('md5').update(text).digest('hex').slice(0, 7), 16);

/** A deterministic non-negative integer from part `part` (0..3) of md5(expr), in SQL. */
const sqlInt = (expr: string, part = 0) =>
  `(('x' || substr(md5(${expr}), ${1 + part * 7}, 7))::bit(28)::int)`;

const TOPICS = [
  'wallet backups',
  'seed phrase safety',
  'Lightning channels',
  'fee estimation',
  'UTXO consolidation',
  'multisig vaults',
  'cold storage',
  'mempool congestion',
  'the halving schedule',
  'running a full node',
  'Taproot addresses',
  'custody policy',
  'KYC requirements',
  'account recovery',
  'API rate limits',
  'billing and plans',
  'exchange withdrawals',
  'hardware wallets',
  'transaction privacy',
  'tax reporting',
  'merchant payments',
  'replace-by-fee',
  'watch-only wallets',
  'node pruning',
];
const KINDS = [
  'Guide',
  'FAQ',
  'Runbook',
  'Policy',
  'Checklist',
  'Overview',
  'Troubleshooting',
  'Release notes',
];
const AUDIENCES = [
  'new users',
  'support agents',
  'operators',
  'merchants',
  'tenant administrators',
  'developers',
];
const SUBJECTS = [
  'Users',
  'Operators',
  'The assistant',
  'Support agents',
  'Each tenant',
  'A new wallet',
  'The node',
  'Merchants',
  'Administrators',
  'The signing service',
  'Every withdrawal',
  'The fee estimator',
];
const VERBS = [
  'should verify',
  'must never share',
  'can rotate',
  'is expected to back up',
  'may export',
  'reviews',
  'should label',
  'must confirm',
  'can batch',
  'needs to monitor',
  'should document',
  'is allowed to replace',
];
const OBJECTS = [
  'the seed phrase',
  'channel balances',
  'the fee rate',
  'signed transactions',
  'API keys',
  'the recovery plan',
  'incoming payments',
  'change outputs',
  'the descriptor backup',
  'pending invoices',
  'the spending limits',
  'xpubs',
];
const QUALIFIERS = [
  'before every withdrawal',
  'at least once a month',
  'when the mempool is congested',
  'in line with the custody policy',
  'after each firmware update',
  'during onboarding',
  'before the quarterly audit',
  'whenever a device is replaced',
  'within 24 hours',
  'using the admin console',
  'on a second device',
  'once confirmations reach six',
];
const TAGS = [
  'bitcoin',
  'lightning',
  'security',
  'wallet',
  'fees',
  'compliance',
  'support',
  'billing',
  'node',
  'privacy',
  'onboarding',
  'api',
];
const AUTHORS = [
  'a.tanaka',
  'm.okafor',
  'l.schmidt',
  'r.silva',
  'j.nakamura',
  'support-bot',
  'k.osei',
  'e.novak',
];
const SOURCES = ['wiki', 'helpdesk', 'notion', 'pdf-upload', 'slack-export'];
const LANGS = [
  'en',
  'en',
  'en',
  'en',
  'en',
  'en',
  'en',
  'en',
  'en',
  'en',
  'en',
  'en',
  'en',
  'en',
  'en',
  'en',
  'de',
  'de',
  'es',
  'fr',
];

const TENANT_NAMES = [
  'Satoshi Labs',
  'Lightning Ventures',
  'Blockstream Academy',
  'Hodl Bank',
  'Mempool Watch',
  'Orange Pill Co',
  'Sats Merchant',
  'Genesis Custody',
  'Node Runners',
  'Timechain Press',
];
const TENANT_INSTRUCTIONS = [
  'Always answer in a formal tone and cite the relevant policy document.',
  'Our customers are merchants: prefer Lightning examples and mention settlement times.',
  'Never give tax advice; point to the tax reporting guide instead.',
  'Escalate any question about lost funds to a human support agent.',
  'Keep answers under 120 words and end with a link to the help center.',
  'Use metric units and European date formats.',
];
const ROOT_PROMPTS = [
  'You are Aigent Nakamoto, an assistant for Bitcoin questions. Answer briefly.',
  'You are Aigent Nakamoto, an assistant that explains Bitcoin clearly and accurately.\nUse the knowledge base before answering, and say when you are not sure.',
  'You are Aigent Nakamoto, a careful assistant for Bitcoin users and businesses.\n' +
    '- Ground every answer in the knowledge base and name the documents you used.\n' +
    '- Never ask for or repeat a seed phrase, private key or password.\n' +
    '- When a question involves moving funds, list the checks to do first.\n' +
    'If the knowledge base does not cover a question, say so and suggest where to look.',
];

export async function generateKnowledgeBase(
  client: ClientBase,
  schema: string,
  options: KnowledgeBaseGenerateOptions,
): Promise<KnowledgeBaseGenerateResult> {
  const s = quote(schema);
  const seed = options.seed ?? 1;
  const tenantIds = Array.from({ length: options.tenants }, (_, i) => demoUuid(`kb-tenant:${seed}:${i + 1}`));
  const doc = (salt: string) => `'kb-doc:' || $1::int || ':' || n || ':${salt}'`;
  const pooled = `'kb-sentence:' || i`;

  // Sentences come from a pool of 4,096 (one md5 each); a document picks its own sequence of them
  // with integer arithmetic, which keeps tens of thousands of documents to a few seconds.
  await client.query(
    `WITH pool AS MATERIALIZED (
       SELECT i, format('%s %s %s %s.',
                               ($11::text[])[1 + ${sqlInt(pooled)} % cardinality($11::text[])],
                               ($12::text[])[1 + ${sqlInt(pooled, 1)} % cardinality($12::text[])],
                               ($13::text[])[1 + ${sqlInt(pooled, 2)} % cardinality($13::text[])],
                               ($14::text[])[1 + ${sqlInt(pooled, 3)} % cardinality($14::text[])]) AS sentence
         FROM generate_series(0, ${POOL_SIZE - 1}) i
     ), d AS MATERIALIZED (
       SELECT n,
              md5('kb-doc:' || $1::int || ':' || n)::uuid AS id,
              CASE WHEN cardinality($2::uuid[]) = 0 OR ${sqlInt(doc('scope'))} % 4 = 0 THEN NULL
                   ELSE ($2::uuid[])[1 + ${sqlInt(doc('scope'), 1)} % cardinality($2::uuid[])] END AS tenant_id,
              format('%s: %s (%s)', ($4::text[])[1 + ${sqlInt(doc('title'))} % cardinality($4::text[])],
                     initcap(($3::text[])[1 + ${sqlInt(doc('title'), 1)} % cardinality($3::text[])]), n) AS title,
              ($3::text[])[1 + ${sqlInt(doc('title'), 1)} % cardinality($3::text[])] AS topic,
              ($4::text[])[1 + ${sqlInt(doc('title'))} % cardinality($4::text[])] AS kind,
              ($5::text[])[1 + ${sqlInt(doc('title'), 2)} % cardinality($5::text[])] AS audience,
              'doc-' || n AS slug,
              ${sqlInt(doc('shape'), 1)} % 7 = 0 AS has_file,
              CASE WHEN ${sqlInt(doc('shape'))} % 20 = 0 THEN 200 + ${sqlInt(doc('shape'), 2)} % 300 ELSE 3 + ${sqlInt(doc('shape'), 2)} % 40 END AS sentences,
              ${sqlInt(doc('shape'), 3)}::bigint AS start,
              ($6::text[])[1 + ${sqlInt(doc('meta'))} % cardinality($6::text[])] AS lang,
              ARRAY(SELECT DISTINCT ($7::text[])[1 + ${sqlInt(`'kb-doc:' || $1::int || ':' || n || ':tag:' || t`)} % cardinality($7::text[])]
                      FROM generate_series(1, 1 + ${sqlInt(doc('meta'), 1)} % 3) t ORDER BY 1) AS tags,
              ($8::text[])[1 + ${sqlInt(doc('meta'), 2)} % cardinality($8::text[])] AS author,
              ($9::text[])[1 + ${sqlInt(doc('meta'), 3)} % cardinality($9::text[])] AS source,
              ${sqlInt(doc('flags'))} % 3 <> 0 AS reviewed,
              ${sqlInt(doc('flags'), 1)} % 20 <> 0 AS is_active,
              timestamptz '2023-01-01 00:00:00+00' + make_interval(days => ${sqlInt(doc('time'))} % 700, secs => ${sqlInt(doc('time'), 1)} % 86400) AS created_at,
              make_interval(days => ${sqlInt(doc('time'), 2)} % 90, secs => ${sqlInt(doc('time'), 3)} % 86400) AS edited
         FROM generate_series(1, $10::int) n
     ), c AS (
       SELECT d.n, string_agg(p.sentence, CASE WHEN k % 6 = 0 THEN E'\\n\\n' ELSE ' ' END ORDER BY k) AS body
         FROM d CROSS JOIN LATERAL generate_series(1, d.sentences) k
         JOIN pool p ON p.i = (d.start + k * 7919) % ${POOL_SIZE}
        GROUP BY d.n
     )
     INSERT INTO ${s}.kb_documents (id, tenant_id, title, content, source_uri, lang, tags, metadata, is_active, created_at, updated_at)
     SELECT d.id, d.tenant_id, d.title, format('This %s covers %s for %s. ', lower(d.kind), d.topic, d.audience) || c.body,
            CASE WHEN d.has_file THEN 'storage://nakamoto-kb/' || COALESCE(d.tenant_id::text, 'root') || '/' || d.slug || '.pdf' END,
            d.lang, d.tags,
            jsonb_build_object('author', d.author, 'source', d.source, 'sentences', d.sentences, 'reviewed', d.reviewed, 'audience', d.audience),
            d.is_active, d.created_at, d.created_at + d.edited
       FROM d JOIN c USING (n)`,
    [
      seed,
      tenantIds,
      TOPICS,
      KINDS,
      AUDIENCES,
      LANGS,
      TAGS,
      AUTHORS,
      SOURCES,
      options.docs,
      SUBJECTS,
      VERBS,
      OBJECTS,
      QUALIFIERS,
    ],
  );

  // Prompts: the root prompt in three versions, and 0-2 versions of an augmentation per tenant.
  const prompts: Array<{
    id: string;
    tenant: string | null;
    content: string;
    version: number;
    active: boolean;
    at: string;
  }> = [];
  const at = (key: string) =>
    new Date(Date.UTC(2024, 0, 1) + (demoInt(key) % (300 * 86400)) * 1000).toISOString();
  ROOT_PROMPTS.forEach((content, index) =>
    prompts.push({
      id: demoUuid(`kb-prompt:${seed}:root:${index + 1}`),
      tenant: null,
      content,
      version: index + 1,
      active: index === ROOT_PROMPTS.length - 1,
      at: new Date(Date.UTC(2023, 6 * index, 1)).toISOString(),
    }),
  );
  tenantIds.forEach((tenant, t) => {
    const versions = demoInt(`kb-prompt:${seed}:${tenant}:versions`) % 3;
    const name = TENANT_NAMES[t % TENANT_NAMES.length];
    for (let version = 1; version <= versions; version++) {
      const instruction =
        TENANT_INSTRUCTIONS[demoInt(`kb-prompt:${seed}:${tenant}:${version}`) % TENANT_INSTRUCTIONS.length];
      prompts.push({
        id: demoUuid(`kb-prompt:${seed}:${tenant}:${version}`),
        tenant,
        content: `You are answering for ${name}${t >= TENANT_NAMES.length ? ` (${t + 1})` : ''}. ${instruction}`,
        version,
        active: version === versions,
        at: at(`kb-prompt:${seed}:${tenant}:${version}:at`),
      });
    }
  });
  await client.query(
    `INSERT INTO ${s}.system_prompts (id, tenant_id, content, version, is_active, created_at, updated_at)
     SELECT id, tenant_id, content, version, is_active, at, at
       FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::int[], $5::boolean[], $6::timestamptz[]) AS p(id, tenant_id, content, version, is_active, at)`,
    [
      prompts.map((p) => p.id),
      prompts.map((p) => p.tenant),
      prompts.map((p) => p.content),
      prompts.map((p) => p.version),
      prompts.map((p) => p.active),
      prompts.map((p) => p.at),
    ],
  );

  const counts = await client.query<{ scope: string; n: number }>(
    `SELECT COALESCE(tenant_id::text, 'root') AS scope, count(*)::int AS n FROM ${s}.kb_documents
      WHERE id = ANY(SELECT md5('kb-doc:' || $1::int || ':' || n)::uuid FROM generate_series(1, $2::int) n)
      GROUP BY 1`,
    [seed, options.docs],
  );
  const promptVersions: Record<string, number> = {};
  const activePrompts: Record<string, string> = {};
  for (const prompt of prompts) {
    const scope = prompt.tenant ?? 'root';
    promptVersions[scope] = (promptVersions[scope] ?? 0) + 1;
    if (prompt.active) activePrompts[scope] = prompt.content;
  }
  return {
    tenantIds,
    docs: Object.fromEntries(counts.rows.map((row) => [row.scope, row.n])),
    promptVersions,
    activePrompts,
  };
}
