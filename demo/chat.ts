import type { ClientBase } from 'pg';
import { deterministicUuid } from '../src/projections/framework/define-projection';
import { CHAT_TABLES, EMBEDDING_DIMENSIONS, type ChatTable } from '../src/projections/chat/chat.schemas';

/**
 * The legacy side of seed 001, for the quickstart and the tests: a chat/RAG application's eight
 * tables as its Supabase/PostgreSQL schema had them (enums as plain text, no CHECKs: the legacy
 * application validated in code), and a deterministic generator of realistic data: per user a few
 * uploaded files cut into embedded chunks (vector(1536), as OpenAI's embeddings), conversations
 * with alternating user/assistant messages citing those chunks, OAuth tokens for a provider or
 * two, usage logs and settings. Counters agree with the rows (files_uploaded, message_count, …).
 *
 * `badRatio` makes that share of rows invalid the way legacy data goes wrong (an unknown enum
 * value, a negative counter, a malformed e-mail); their children (if any) then lack a valid
 * parent. The result says how many rows each table holds and how many the projection should end
 * up with (valid, with every parent valid).
 */
export interface ChatGenerateOptions {
  users: number;
  /** Same seed, same data (ids, text, vectors, timestamps). Default 1. */
  seed?: number;
  /** Share of rows (0..1) made invalid. Default 0. */
  badRatio?: number;
}

export interface ChatGenerateResult {
  /** Rows written per legacy table. */
  rows: Record<ChatTable, number>;
  /** Rows the chat projection should hold once children that overtook their parents are re-driven. */
  valid: Record<ChatTable, number>;
}

const quote = (name: string) => `"${name.replace(/"/g, '""')}"`;

export async function createLegacyChat(client: ClientBase, schema: string): Promise<void> {
  const s = quote(schema);
  await client.query(`CREATE EXTENSION IF NOT EXISTS vector`);
  await client.query(`
    CREATE SCHEMA IF NOT EXISTS ${s};
    CREATE TABLE ${s}.users (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      email text NOT NULL UNIQUE,
      full_name text,
      avatar_url text,
      subscription_tier text DEFAULT 'free',
      subscription_status text DEFAULT 'active',
      stripe_customer_id text,
      messages_used integer DEFAULT 0,
      files_uploaded integer DEFAULT 0,
      storage_used_bytes bigint DEFAULT 0,
      usage_reset_at timestamptz,
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now()
    );
    CREATE TABLE ${s}.file_metadata (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      user_id uuid NOT NULL REFERENCES ${s}.users (id) ON DELETE CASCADE,
      filename text NOT NULL,
      file_type text NOT NULL,
      file_size bigint NOT NULL,
      storage_path text NOT NULL,
      processing_status text NOT NULL DEFAULT 'pending',
      chunk_count integer DEFAULT 0,
      embedding_count integer DEFAULT 0,
      error_message text,
      metadata jsonb DEFAULT '{}',
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now()
    );
    CREATE TABLE ${s}.document_chunks (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      file_id uuid NOT NULL REFERENCES ${s}.file_metadata (id) ON DELETE CASCADE,
      user_id uuid NOT NULL REFERENCES ${s}.users (id) ON DELETE CASCADE,
      chunk_index integer NOT NULL,
      content text NOT NULL,
      embedding vector(${EMBEDDING_DIMENSIONS}),
      token_count integer,
      metadata jsonb DEFAULT '{}',
      created_at timestamptz NOT NULL DEFAULT now()
    );
    CREATE INDEX ON ${s}.document_chunks (file_id);
    CREATE TABLE ${s}.conversations (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      user_id uuid NOT NULL REFERENCES ${s}.users (id) ON DELETE CASCADE,
      title text,
      model text,
      message_count integer DEFAULT 0,
      is_archived boolean DEFAULT false,
      last_message_at timestamptz,
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now()
    );
    CREATE TABLE ${s}.chat_messages (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      conversation_id uuid NOT NULL REFERENCES ${s}.conversations (id) ON DELETE CASCADE,
      user_id uuid NOT NULL REFERENCES ${s}.users (id) ON DELETE CASCADE,
      role text NOT NULL,
      content text NOT NULL,
      sources jsonb,
      model text,
      token_count integer,
      created_at timestamptz NOT NULL DEFAULT now()
    );
    CREATE INDEX ON ${s}.chat_messages (conversation_id);
    CREATE TABLE ${s}.oauth_tokens (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      user_id uuid NOT NULL REFERENCES ${s}.users (id) ON DELETE CASCADE,
      provider text NOT NULL,
      access_token text NOT NULL,
      refresh_token text,
      token_type text DEFAULT 'Bearer',
      scope text,
      expires_at timestamptz,
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now(),
      UNIQUE (user_id, provider)
    );
    CREATE TABLE ${s}.usage_logs (
      id bigserial PRIMARY KEY,
      user_id uuid NOT NULL REFERENCES ${s}.users (id) ON DELETE CASCADE,
      action text NOT NULL,
      tokens_used integer DEFAULT 0,
      cost_usd numeric(12, 6) DEFAULT 0,
      metadata jsonb DEFAULT '{}',
      created_at timestamptz NOT NULL DEFAULT now()
    );
    CREATE TABLE ${s}.user_settings (
      user_id uuid PRIMARY KEY REFERENCES ${s}.users (id) ON DELETE CASCADE,
      theme text DEFAULT 'system',
      language text DEFAULT 'en',
      default_model text,
      notifications_enabled boolean DEFAULT true,
      preferences jsonb DEFAULT '{}',
      updated_at timestamptz DEFAULT now()
    );
  `);
}

/** mulberry32: small, fast, and the same sequence on every platform. */
function prng(seed: number) {
  let state = seed >>> 0;
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (min: number, max: number) => min + Math.floor(next() * (max - min + 1));
  const pick = <T>(values: readonly T[]): T => values[Math.floor(next() * values.length)];
  const weighted = <T>(entries: ReadonlyArray<readonly [T, number]>): T => {
    let roll = next() * entries.reduce((sum, [, weight]) => sum + weight, 0);
    for (const [value, weight] of entries) if ((roll -= weight) < 0) return value;
    return entries[entries.length - 1][0];
  };
  const chance = (p: number) => next() < p;
  const gaussian = () => Math.sqrt(-2 * Math.log(next() || 1e-12)) * Math.cos(2 * Math.PI * next());
  const text = (length: number, alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_') =>
    Array.from({ length }, () => alphabet[Math.floor(next() * alphabet.length)]).join('');
  return { next, int, pick, weighted, chance, gaussian, text };
}
type Random = ReturnType<typeof prng>;

const FIRST = ['Ada', 'Grace', 'Alan', 'Edsger', 'Barbara', 'Donald', 'Margaret', 'Ken', 'Radia', 'Linus', 'Frances', 'Tim', 'Hedy', 'Dennis', 'Katherine', 'Guido'];
const LAST = ['Lovelace', 'Hopper', 'Turing', 'Dijkstra', 'Liskov', 'Knuth', 'Hamilton', 'Thompson', 'Perlman', 'Torvalds', 'Allen', 'Berners-Lee', 'Lamarr', 'Ritchie', 'Johnson', 'Rossum'];
const DOMAINS = ['example.com', 'example.org', 'mail.example.net', 'acme.example', 'research.example.edu'];
const TOPICS = ['quarterly board report', 'employee handbook', 'API integration guide', 'market research summary', 'security policy', 'product roadmap', 'customer interview notes', 'grant proposal', 'onboarding checklist', 'incident postmortem', 'pricing analysis', 'data retention policy'];
const FILE_TYPES: ReadonlyArray<readonly [string, string, number]> = [
  ['pdf', 'application/pdf', 5],
  ['docx', 'application/vnd.openxmlformats-officedocument.wordprocessingml.document', 3],
  ['md', 'text/markdown', 2],
  ['txt', 'text/plain', 1],
  ['csv', 'text/csv', 1],
];
const WORDS = ('the team revenue growth policy customer data retention incident review quarterly metrics roadmap milestone security access control ' +
  'encryption onboarding process budget forecast risk mitigation compliance audit vendor contract pricing tier churn adoption feature release ' +
  'latency availability backup recovery objective stakeholder approval deadline summary findings recommendation analysis').split(' ');
const QUESTIONS = ['What does the {t} say about {w}?', 'Summarize the {t} in five bullet points.', 'Which risks are listed in the {t}?', 'Compare the {w} figures across the last two quarters.', 'Draft an email about the {w} section of the {t}.', 'Where is {w} defined?'];
const MODELS = ['gpt-4o', 'gpt-4o-mini', 'claude-3-5-sonnet', 'gpt-4-turbo'];
const PROVIDERS: ReadonlyArray<readonly [string, number]> = [['google', 5], ['microsoft', 3], ['github', 2], ['notion', 2], ['dropbox', 1]];
const SCOPES: Record<string, string> = {
  google: 'openid email profile https://www.googleapis.com/auth/drive.readonly',
  microsoft: 'openid offline_access Files.Read.All User.Read',
  github: 'read:user repo',
  notion: 'read_content',
  dropbox: 'files.metadata.read files.content.read',
};
const ACTIONS: ReadonlyArray<readonly [string, number]> = [['chat_message', 8], ['document_search', 4], ['embedding', 2], ['file_upload', 2], ['file_delete', 1], ['export', 1]];

const sentence = (random: Random, topic: string) => {
  const words = Array.from({ length: random.int(8, 18) }, () => random.pick(WORDS));
  if (random.chance(0.3)) words.splice(random.int(0, words.length - 1), 0, ...topic.split(' '));
  const text = words.join(' ');
  return `${text[0].toUpperCase()}${text.slice(1)}.`;
};
const paragraph = (random: Random, topic: string, sentences: number) => Array.from({ length: sentences }, () => sentence(random, topic)).join(' ');

function accessToken(random: Random, provider: string): string {
  switch (provider) {
    case 'google':
      return `ya29.a0${random.text(160)}`;
    case 'microsoft':
      return `EwB${random.text(380)}`;
    case 'github':
      return `gho_${random.text(36, 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789')}`;
    case 'notion':
      return `secret_${random.text(43, 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789')}`;
    default:
      return `sl.${random.text(136)}`;
  }
}

/** A unit vector near `center` (chunks of one file cluster together, as real embeddings do). */
function embeddingNear(random: Random, center: number[]): string {
  const values = center.map((value) => value + random.gaussian() * 0.35);
  const norm = Math.hypot(...values);
  return `[${values.map((value) => Number((value / norm).toPrecision(6))).join(',')}]`;
}

function randomDirection(random: Random): number[] {
  return Array.from({ length: EMBEDDING_DIMENSIONS }, () => random.gaussian());
}

const DAY = 86_400_000;
const BASE = Date.UTC(2024, 0, 15, 9, 0, 0);
const iso = (ms: number) => new Date(ms).toISOString();

type Row = Record<string, unknown>;

/**
 * Writes the demo data into the (empty) legacy tables created by createLegacyChat, parents first,
 * and returns the row counts. Deterministic: the same options give the same rows, ids included.
 */
export async function generateChat(client: ClientBase, schema: string, options: ChatGenerateOptions): Promise<ChatGenerateResult> {
  const seed = options.seed ?? 1;
  const badRatio = options.badRatio ?? 0;
  const random = prng(seed);
  const bad = () => badRatio > 0 && random.chance(badRatio);
  const idOf = (table: string, n: number) => deterministicUuid('tandem-chat-demo', String(seed), table, String(n));
  const tables = Object.fromEntries(CHAT_TABLES.map((table) => [table, [] as Row[]])) as Record<ChatTable, Row[]>;
  const valid = Object.fromEntries(CHAT_TABLES.map((table) => [table, 0])) as Record<ChatTable, number>;
  const add = (table: ChatTable, row: Row, ok: boolean) => {
    tables[table].push(row);
    if (ok) valid[table] += 1;
  };
  let serial = 0;
  const next = (table: string) => idOf(table, serial++);

  for (let u = 0; u < options.users; u++) {
    const userId = next('users');
    const first = random.pick(FIRST);
    const last = random.pick(LAST);
    const createdAt = BASE + random.int(0, 300) * DAY + random.int(0, DAY - 1);
    const tier = random.weighted([['free', 6], ['pro', 3], ['pro_byok', 1]] as const);
    const user: Row = {
      id: userId,
      email: `${random.chance(0.1) ? first : first.toLowerCase()}.${last.toLowerCase()}${u}@${random.pick(DOMAINS)}`,
      full_name: random.chance(0.9) ? `${first} ${last}` : null,
      avatar_url: random.chance(0.5) ? `https://avatars.example.com/${userId}.png` : null,
      subscription_tier: random.chance(0.05) ? null : tier,
      subscription_status: random.chance(0.03) ? null : random.weighted([['active', 80], ['trialing', 8], ['past_due', 5], ['canceled', 7]] as const),
      stripe_customer_id: tier === 'free' ? null : `cus_${random.text(14, 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789')}`,
      messages_used: 0,
      files_uploaded: 0,
      storage_used_bytes: 0,
      usage_reset_at: iso(BASE + 330 * DAY),
      created_at: iso(createdAt),
      updated_at: iso(createdAt + random.int(0, 30) * DAY),
    };
    let userOk = true;
    if (bad()) {
      userOk = false;
      if (random.chance(0.5)) user.subscription_tier = 'enterprise';
      else user.email = `${first.toLowerCase()}.${last.toLowerCase()}${u} at example.com`;
    }

    // files and their chunks
    const chunkIds: Array<{ chunk: string; file: string }> = [];
    let storage = 0;
    const fileCount = random.weighted([[0, 2], [1, 3], [2, 3], [3, 2], [4, 1]] as const);
    for (let f = 0; f < fileCount; f++) {
      const fileId = next('file_metadata');
      const topic = random.pick(TOPICS);
      const [extension, mime] = random.weighted(FILE_TYPES.map(([ext, type, weight]) => [[ext, type], weight] as const));
      const filename = `${topic.replace(/ /g, '-')}-${2023 + random.int(0, 2)}.${extension}`;
      const size = random.int(18_000, 6_000_000);
      storage += size;
      const status = random.weighted([['completed', 80], ['failed', 10], ['processing', 5], ['pending', 5]] as const);
      const chunks = status === 'completed' ? random.int(3, 8) : 0;
      const uploadedAt = createdAt + random.int(0, 200) * DAY + random.int(0, DAY - 1);
      const file: Row = {
        id: fileId,
        user_id: userId,
        filename,
        file_type: mime,
        file_size: size,
        storage_path: `uploads/${userId}/${fileId}/${filename}`,
        processing_status: status,
        chunk_count: chunks,
        embedding_count: chunks,
        error_message: status === 'failed' ? random.pick(['PDF is password-protected', 'Unsupported text encoding', 'File exceeds the page limit']) : null,
        metadata: { pages: random.int(1, 80), source: random.pick(['upload', 'upload', 'google_drive', 'onedrive']), language: 'en' },
        created_at: iso(uploadedAt),
        updated_at: iso(uploadedAt + random.int(5, 600) * 1000),
      };
      let fileOk = userOk;
      if (bad()) {
        fileOk = false;
        file.processing_status = 'done';
      }
      add('file_metadata', file, fileOk);
      const center = randomDirection(random);
      for (let c = 0; c < chunks; c++) {
        const chunkId = next('document_chunks');
        const content = paragraph(random, topic, random.int(6, 12));
        const chunk: Row = {
          id: chunkId,
          file_id: fileId,
          user_id: userId,
          chunk_index: c,
          content,
          embedding: embeddingNear(random, center),
          token_count: Math.ceil(content.length / 4),
          metadata: { page: 1 + Math.floor(c / 2), heading: random.pick(['Overview', 'Details', 'Appendix', 'Summary', 'Background']) },
          created_at: iso(uploadedAt + 1000 * (c + 1)),
        };
        let chunkOk = fileOk;
        if (bad()) {
          chunkOk = false;
          chunk.chunk_index = -1;
        }
        add('document_chunks', chunk, chunkOk);
        chunkIds.push({ chunk: chunkId, file: fileId });
      }
    }
    user.files_uploaded = fileCount;
    user.storage_used_bytes = storage;

    // conversations and messages
    let userMessages = 0;
    const conversationCount = random.weighted([[0, 1], [1, 3], [2, 3], [3, 2], [4, 1]] as const);
    for (let k = 0; k < conversationCount; k++) {
      const conversationId = next('conversations');
      const topic = random.pick(TOPICS);
      const model = random.pick(MODELS);
      const startedAt = createdAt + random.int(0, 280) * DAY + random.int(0, DAY - 1);
      const turns = random.int(1, 5);
      const withSystem = random.chance(0.2);
      const messages: Row[] = [];
      let at = startedAt;
      if (withSystem) {
        messages.push({ role: 'system', content: 'You are a helpful assistant. Answer from the uploaded documents and cite them.', model: null, sources: null });
      }
      for (let t = 0; t < turns; t++) {
        const question = random.pick(QUESTIONS).replace('{t}', topic).replace('{w}', random.pick(WORDS));
        messages.push({ role: 'user', content: question, model: null, sources: null });
        const cited = chunkIds.length > 0 && random.chance(0.7) ? Array.from({ length: random.int(1, 3) }, () => random.pick(chunkIds)) : [];
        messages.push({
          role: 'assistant',
          content: paragraph(random, topic, random.int(2, 7)) + (cited.length > 0 ? ` [${cited.map((_, i) => i + 1).join('][')}]` : ''),
          model,
          sources: cited.map(({ chunk, file }) => ({ chunk_id: chunk, file_id: file, score: Number((0.7 + random.next() * 0.29).toFixed(3)) })),
        });
      }
      const conversation: Row = {
        id: conversationId,
        user_id: userId,
        title: random.chance(0.9) ? `${topic[0].toUpperCase()}${topic.slice(1)} questions` : null,
        model,
        message_count: messages.length,
        is_archived: random.chance(0.1),
        last_message_at: null,
        created_at: iso(startedAt),
        updated_at: null,
      };
      let conversationOk = userOk;
      if (bad()) {
        conversationOk = false;
        conversation.message_count = -1;
      }
      for (const message of messages) {
        at += random.int(5, 240) * 1000;
        const row: Row = {
          id: next('chat_messages'),
          conversation_id: conversationId,
          user_id: userId,
          ...message,
          token_count: Math.ceil(String(message.content).length / 4),
          created_at: iso(at),
        };
        if (message.role === 'user') userMessages++;
        let messageOk = conversationOk;
        if (bad()) {
          messageOk = false;
          row.role = 'bot';
        }
        add('chat_messages', row, messageOk);
      }
      conversation.last_message_at = iso(at);
      conversation.updated_at = iso(at);
      add('conversations', conversation, conversationOk);
    }
    user.messages_used = userMessages;

    // OAuth tokens: one or two providers for most users
    const providers = new Set<string>();
    const tokenCount = random.weighted([[0, 3], [1, 5], [2, 2]] as const);
    while (providers.size < tokenCount) providers.add(random.weighted(PROVIDERS));
    for (const provider of providers) {
      const issuedAt = createdAt + random.int(0, 300) * DAY;
      const token: Row = {
        id: next('oauth_tokens'),
        user_id: userId,
        provider,
        access_token: accessToken(random, provider),
        refresh_token: random.chance(0.8) ? `1//0${random.text(100)}` : null,
        token_type: 'Bearer',
        scope: SCOPES[provider],
        expires_at: iso(issuedAt + 3600_000),
        created_at: iso(createdAt),
        updated_at: iso(issuedAt),
      };
      let tokenOk = userOk;
      if (bad()) {
        tokenOk = false;
        token.provider = 'myspace';
      }
      add('oauth_tokens', token, tokenOk);
    }

    // usage logs
    for (let l = random.int(3, 15); l > 0; l--) {
      const action = random.weighted(ACTIONS);
      const tokens = action === 'chat_message' ? random.int(200, 4000) : action === 'embedding' ? random.int(500, 20000) : 0;
      const log: Row = {
        user_id: userId,
        action,
        tokens_used: tokens,
        cost_usd: ((tokens * random.pick([0.15, 2.5, 3, 10])) / 1_000_000).toFixed(6),
        metadata: action === 'chat_message' ? { model: random.pick(MODELS) } : { client: random.pick(['web', 'web', 'ios', 'api']) },
        created_at: iso(createdAt + random.int(0, 320) * DAY + random.int(0, DAY - 1)),
      };
      let logOk = userOk;
      if (bad()) {
        logOk = false;
        log.action = 'chat';
      }
      add('usage_logs', log, logOk);
    }

    // settings (not every user opened the settings page)
    if (random.chance(0.85)) {
      const settings: Row = {
        user_id: userId,
        theme: random.chance(0.1) ? null : random.pick(['light', 'dark', 'dark', 'system']),
        language: random.pick(['en', 'en', 'en', 'de', 'fr', 'es']),
        default_model: random.pick(MODELS),
        notifications_enabled: random.chance(0.7),
        preferences: { citations: random.chance(0.8), temperature: random.pick([0.2, 0.3, 0.7]), sidebar_collapsed: random.chance(0.3) },
        updated_at: iso(createdAt + random.int(0, 100) * DAY),
      };
      let settingsOk = userOk;
      if (bad()) {
        settingsOk = false;
        settings.theme = 'neon';
      }
      add('user_settings', settings, settingsOk);
    }
    add('users', user, userOk);
  }

  // parents first, as the legacy foreign keys require
  for (const table of CHAT_TABLES) await insertRows(client, schema, table, tables[table]);
  const rows = Object.fromEntries(CHAT_TABLES.map((table) => [table, tables[table].length])) as Record<ChatTable, number>;
  return { rows, valid };
}

async function insertRows(client: ClientBase, schema: string, table: ChatTable, rows: Row[]): Promise<void> {
  if (rows.length === 0) return;
  const target = `${quote(schema)}.${quote(table)}`;
  const columns = Object.keys(rows[0]).map(quote).join(', ');
  const batch = table === 'document_chunks' ? 200 : 1000;
  for (let start = 0; start < rows.length; start += batch) {
    await client.query(`INSERT INTO ${target} (${columns}) SELECT ${columns} FROM jsonb_populate_recordset(NULL::${target}, $1::jsonb)`, [
      JSON.stringify(rows.slice(start, start + batch)),
    ]);
  }
}
