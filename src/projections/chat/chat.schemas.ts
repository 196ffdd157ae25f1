import { z } from 'zod';
import { UNAVAILABLE_VALUE } from '../../contracts/envelope';

/**
 * Seed 001: the chat/RAG application's eight tables, validated as its "strict Zod schemas" did
 * (enums, uuids, required fields, non-negative counters), on the values capture writes (README,
 * "Column types": bigint and numeric as strings, timestamptz as ISO strings, jsonb as a JSON string,
 * vector as a number array). Columns PostgreSQL may store out of line accept the unchanged-TOAST
 * placeholder. Unknown columns are dropped, so a column added to the legacy table does not break
 * the stream. Messages name what is wrong and, for enums, the offending value; no schema ever
 * echoes an OAuth token.
 */
export const EMBEDDING_DIMENSIONS = 1536;

export const CHAT_TABLES = [
  'users',
  'file_metadata',
  'document_chunks',
  'conversations',
  'chat_messages',
  'oauth_tokens',
  'usage_logs',
  'user_settings',
] as const;
export type ChatTable = (typeof CHAT_TABLES)[number];

export const SUBSCRIPTION_TIERS = ['free', 'pro', 'pro_byok'] as const;
export const SUBSCRIPTION_STATUSES = ['active', 'canceled', 'past_due', 'trialing'] as const;
export const PROCESSING_STATUSES = ['pending', 'processing', 'completed', 'failed'] as const;
export const MESSAGE_ROLES = ['user', 'assistant', 'system'] as const;
/** The seed names no providers; these are the document sources and sign-ins such an app connects. */
export const OAUTH_PROVIDERS = ['google', 'microsoft', 'github', 'notion', 'dropbox'] as const;
export const USAGE_ACTIONS = ['chat_message', 'file_upload', 'file_delete', 'document_search', 'embedding', 'export'] as const;
export const THEMES = ['light', 'dark', 'system'] as const;

/**
 * Parent relations (child table, column, parent table): each is a foreign key in the target, and a
 * child whose parent is not there yet is quarantined with a "missing parent" reason.
 */
export const CHAT_RELATIONS: ReadonlyArray<{ table: ChatTable; column: string; parent: ChatTable }> = [
  { table: 'file_metadata', column: 'user_id', parent: 'users' },
  { table: 'document_chunks', column: 'file_id', parent: 'file_metadata' },
  { table: 'document_chunks', column: 'user_id', parent: 'users' },
  { table: 'conversations', column: 'user_id', parent: 'users' },
  { table: 'chat_messages', column: 'conversation_id', parent: 'conversations' },
  { table: 'chat_messages', column: 'user_id', parent: 'users' },
  { table: 'oauth_tokens', column: 'user_id', parent: 'users' },
  { table: 'usage_logs', column: 'user_id', parent: 'users' },
  { table: 'user_settings', column: 'user_id', parent: 'users' },
];

/** The target primary key of each table (the source's). */
export const CHAT_KEYS: Record<ChatTable, string> = {
  users: 'id',
  file_metadata: 'id',
  document_chunks: 'id',
  conversations: 'id',
  chat_messages: 'id',
  oauth_tokens: 'id',
  usage_logs: 'id',
  user_settings: 'user_id',
};

const shown = (input: unknown) =>
  input === undefined || input === null ? 'missing' : JSON.stringify(typeof input === 'string' && input.length > 40 ? `${input.slice(0, 40)}…` : input);

const oneOf = <T extends readonly [string, ...string[]]>(values: T, what: string) =>
  z.enum(values, { error: (issue) => `${shown(issue.input)} is not a valid ${what} (expected ${values.join(' | ')})` });

/** Any 8-4-4-4-12 hex id, as PostgreSQL's uuid type accepts (not only RFC 9562 versions). */
const id = (what: string) => z.guid({ error: `${what} is missing or not a valid uuid` });
const timestamp = z.iso.datetime({ offset: true, error: 'must be an ISO-8601 timestamp' });
const count = z.number({ error: 'must be a number' }).int('must be an integer').nonnegative('must not be negative');
const bigintText = z.string({ error: 'must be an integer' }).regex(/^\d+$/, 'must be a non-negative integer');
/**
 * A column PostgreSQL may store out of line (TOAST): an update that does not touch it carries the
 * placeholder, and the runner keeps the stored value. Like toastable(), but a bad value reports the
 * inner schema's own message ("refresh_token: must not be empty") rather than a union's "Invalid input".
 */
export function orUnchanged<T extends z.ZodType>(schema: T) {
  return z.unknown().transform((value, context): z.output<T> | typeof UNAVAILABLE_VALUE => {
    if (value === UNAVAILABLE_VALUE) return UNAVAILABLE_VALUE;
    const result = schema.safeParse(value);
    if (result.success) return result.data;
    for (const issue of result.error.issues) context.addIssue({ code: 'custom', message: issue.message, path: issue.path });
    return z.NEVER;
  });
}

/** jsonb arrives as a JSON string; parsed here so the target stores the document, not a string. */
const jsonText = z.string({ error: 'must be a JSON document' }).transform((text, context): unknown => {
  try {
    return JSON.parse(text);
  } catch {
    context.addIssue({ code: 'custom', message: 'is not valid JSON' });
    return z.NEVER;
  }
});

export const userRow = z.object({
  id: id('id'),
  email: z.string({ error: 'is required' }).trim().pipe(z.email({ error: 'not a valid e-mail address' })),
  full_name: z.string().nullable().optional(),
  avatar_url: z.string().nullable().optional(),
  /** NULL in the legacy rows means the default (seed: "ensures subscription tier defaults"). */
  subscription_tier: oneOf(SUBSCRIPTION_TIERS, 'subscription tier').nullable().optional(),
  subscription_status: oneOf(SUBSCRIPTION_STATUSES, 'subscription status').nullable().optional(),
  stripe_customer_id: z.string().nullable().optional(),
  messages_used: count.nullable().optional(),
  files_uploaded: count.nullable().optional(),
  storage_used_bytes: bigintText.nullable().optional(),
  usage_reset_at: timestamp.nullable().optional(),
  created_at: timestamp,
  updated_at: timestamp.nullable().optional(),
});

export const fileMetadataRow = z.object({
  id: id('id'),
  user_id: id('user_id'),
  filename: z.string({ error: 'is required' }).min(1, 'must not be empty'),
  file_type: z.string({ error: 'is required' }).min(1, 'must not be empty'),
  file_size: bigintText,
  storage_path: z.string({ error: 'is required' }).min(1, 'must not be empty'),
  processing_status: oneOf(PROCESSING_STATUSES, 'processing status'),
  chunk_count: count.nullable().optional(),
  embedding_count: count.nullable().optional(),
  error_message: z.string().nullable().optional(),
  metadata: orUnchanged(jsonText.nullable()).optional(),
  created_at: timestamp,
  updated_at: timestamp.nullable().optional(),
});

const embedding = z
  .array(z.number({ error: 'must hold finite numbers' }), { error: 'must be a vector (an array of numbers)' })
  .length(EMBEDDING_DIMENSIONS, { error: (issue) => `must have ${EMBEDDING_DIMENSIONS} dimensions, has ${(issue.input as unknown[]).length}` });

export const documentChunkRow = z.object({
  id: id('id'),
  file_id: id('file_id'),
  user_id: id('user_id'),
  chunk_index: count,
  content: orUnchanged(z.string({ error: 'is required' })),
  embedding: orUnchanged(embedding.nullable()).optional(),
  token_count: count.nullable().optional(),
  metadata: orUnchanged(jsonText.nullable()).optional(),
  created_at: timestamp,
});

export const conversationRow = z.object({
  id: id('id'),
  user_id: id('user_id'),
  title: z.string().nullable().optional(),
  model: z.string().nullable().optional(),
  /** Seed: "validates message counts". */
  message_count: count.nullable().optional(),
  is_archived: z.boolean().nullable().optional(),
  last_message_at: timestamp.nullable().optional(),
  created_at: timestamp,
  updated_at: timestamp.nullable().optional(),
});

export const chatMessageRow = z.object({
  id: id('id'),
  conversation_id: id('conversation_id'),
  user_id: id('user_id'),
  role: oneOf(MESSAGE_ROLES, 'message role'),
  content: orUnchanged(z.string({ error: 'is required' })),
  /** The chunks a RAG answer cites. */
  sources: orUnchanged(jsonText.nullable()).optional(),
  model: z.string().nullable().optional(),
  token_count: count.nullable().optional(),
  created_at: timestamp,
});

/** Token values: the messages never include the input. */
const tokenText = z.string({ error: 'must be a string' }).min(1, 'must not be empty');

export const oauthTokenRow = z.object({
  id: id('id'),
  user_id: id('user_id'),
  provider: oneOf(OAUTH_PROVIDERS, 'OAuth provider'),
  access_token: orUnchanged(tokenText),
  refresh_token: orUnchanged(tokenText.nullable()).optional(),
  token_type: z.string().nullable().optional(),
  scope: orUnchanged(z.string().nullable()).optional(),
  expires_at: timestamp.nullable().optional(),
  created_at: timestamp,
  updated_at: timestamp.nullable().optional(),
});

export const usageLogRow = z.object({
  id: bigintText,
  user_id: id('user_id'),
  action: oneOf(USAGE_ACTIONS, 'usage action'),
  tokens_used: count.nullable().optional(),
  cost_usd: z.string().regex(/^\d+(\.\d+)?$/, 'must be a non-negative decimal').nullable().optional(),
  metadata: orUnchanged(jsonText.nullable()).optional(),
  created_at: timestamp,
});

export const userSettingsRow = z.object({
  user_id: id('user_id'),
  theme: oneOf(THEMES, 'theme').nullable().optional(),
  language: z.string().nullable().optional(),
  default_model: z.string().nullable().optional(),
  notifications_enabled: z.boolean().nullable().optional(),
  preferences: orUnchanged(jsonText.nullable()).optional(),
  updated_at: timestamp.nullable().optional(),
});

export const CHAT_INPUT = {
  users: userRow,
  file_metadata: fileMetadataRow,
  document_chunks: documentChunkRow,
  conversations: conversationRow,
  chat_messages: chatMessageRow,
  oauth_tokens: oauthTokenRow,
  usage_logs: usageLogRow,
  user_settings: userSettingsRow,
} satisfies Record<ChatTable, z.ZodType>;

export type ChatRows = { [T in ChatTable]: z.output<(typeof CHAT_INPUT)[T]> };
export type ChatSourceRow = ChatRows[ChatTable];
