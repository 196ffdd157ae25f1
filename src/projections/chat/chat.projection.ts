import { z, type ZodType } from 'zod';
import { defineProjection, type ProjectionDefinition, type ProjectionEvent, type RowOperation } from '../framework/define-projection';
import { UNAVAILABLE_VALUE } from '../../contracts/envelope';
import { isUnavailable } from '../toastable';
import { CHAT_MIGRATIONS } from './chat.migrations';
import { chatReconciliation } from './chat.reconcile';
import { CHAT_INPUT, CHAT_KEYS, CHAT_TABLES, type ChatRows, type ChatSourceRow, type ChatTable } from './chat.schemas';
import { ENCRYPTED_TOKEN_PATTERN, type TokenCipher } from './token-crypto';

/**
 * Seed 001: a chat/RAG application's eight tables replayed into the `chat` schema. Ids are kept
 * (they are already uuids, or the usage log's bigint), so every target row is its source row:
 * validated by the input schemas, with the seed's defaults filled in (subscription tier and
 * status, counters, settings), jsonb parsed into documents, embeddings in pgvector's text form,
 * and OAuth tokens encrypted (AES-256-GCM, see token-crypto.ts).
 *
 * Relations: the target has foreign keys, and a row whose parent is not projected yet (its
 * event overtook the parent's on another topic, or the parent itself was quarantined) is
 * quarantined with a "missing parent" reason naming the relation and the parent id; `tandem dlq
 * redrive` applies it once the parent exists. Deleting a parent cascades, as in the application.
 */
export interface ChatProjectionOptions {
  /** The schema of the legacy tables. */
  sourceSchema?: string;
  cipher: TokenCipher;
}

type Unavailable = typeof UNAVAILABLE_VALUE;

/** Maps a value unless it is the unchanged-TOAST placeholder (the runner then keeps the stored value). */
function unlessUnavailable<T, R>(value: T | Unavailable, map: (value: T) => R): R | Unavailable {
  return isUnavailable(value) ? value : map(value as T);
}

const orNull = <T>(value: T | null | undefined): T | null => value ?? null;

/** pgvector's text form '[x,y,…]'; JS prints each float the shortest way that reads back the same. */
export function vectorText(values: readonly number[]): string {
  return `[${values.join(',')}]`;
}

type Mapper<T extends ChatTable> = (row: ChatRows[T], cipher: TokenCipher) => Record<string, unknown>;

const MAPPERS: { [T in ChatTable]: Mapper<T> } = {
  users: (user) => ({
    id: user.id,
    email: user.email.trim().toLowerCase(),
    full_name: orNull(user.full_name),
    avatar_url: orNull(user.avatar_url),
    subscription_tier: user.subscription_tier ?? 'free',
    subscription_status: user.subscription_status ?? 'active',
    stripe_customer_id: orNull(user.stripe_customer_id),
    messages_used: user.messages_used ?? 0,
    files_uploaded: user.files_uploaded ?? 0,
    storage_used_bytes: user.storage_used_bytes ?? '0',
    usage_reset_at: orNull(user.usage_reset_at),
    created_at: user.created_at,
    updated_at: user.updated_at ?? user.created_at,
  }),
  file_metadata: (file) => ({
    id: file.id,
    user_id: file.user_id,
    filename: file.filename,
    file_type: file.file_type,
    file_size: file.file_size,
    storage_path: file.storage_path,
    processing_status: file.processing_status,
    chunk_count: file.chunk_count ?? 0,
    embedding_count: file.embedding_count ?? 0,
    error_message: orNull(file.error_message),
    metadata: unlessUnavailable(file.metadata, (metadata) => metadata ?? {}),
    created_at: file.created_at,
    updated_at: file.updated_at ?? file.created_at,
  }),
  document_chunks: (chunk) => ({
    id: chunk.id,
    file_id: chunk.file_id,
    user_id: chunk.user_id,
    chunk_index: chunk.chunk_index,
    content: chunk.content,
    embedding: unlessUnavailable(chunk.embedding, (embedding) => (embedding ? vectorText(embedding) : null)),
    token_count: orNull(chunk.token_count),
    metadata: unlessUnavailable(chunk.metadata, (metadata) => metadata ?? {}),
    created_at: chunk.created_at,
  }),
  conversations: (conversation) => ({
    id: conversation.id,
    user_id: conversation.user_id,
    title: orNull(conversation.title),
    model: orNull(conversation.model),
    message_count: conversation.message_count ?? 0,
    is_archived: conversation.is_archived ?? false,
    last_message_at: orNull(conversation.last_message_at),
    created_at: conversation.created_at,
    updated_at: conversation.updated_at ?? conversation.created_at,
  }),
  chat_messages: (message) => ({
    id: message.id,
    conversation_id: message.conversation_id,
    user_id: message.user_id,
    role: message.role,
    content: message.content,
    sources: unlessUnavailable(message.sources, (sources) => sources ?? []),
    model: orNull(message.model),
    token_count: orNull(message.token_count),
    created_at: message.created_at,
  }),
  oauth_tokens: (token, cipher) => ({
    id: token.id,
    user_id: token.user_id,
    provider: token.provider,
    access_token: unlessUnavailable(token.access_token, (value) => cipher.encrypt(token.id, 'access_token', value)),
    refresh_token: unlessUnavailable(token.refresh_token, (value) => (value == null ? null : cipher.encrypt(token.id, 'refresh_token', value))),
    token_type: token.token_type ?? 'Bearer',
    scope: unlessUnavailable(token.scope, orNull),
    expires_at: orNull(token.expires_at),
    created_at: token.created_at,
    updated_at: token.updated_at ?? token.created_at,
  }),
  usage_logs: (log) => ({
    id: log.id,
    user_id: log.user_id,
    action: log.action,
    tokens_used: log.tokens_used ?? 0,
    cost_usd: log.cost_usd ?? '0',
    metadata: unlessUnavailable(log.metadata, (metadata) => metadata ?? {}),
    created_at: log.created_at,
  }),
  user_settings: (settings) => ({
    user_id: settings.user_id,
    theme: settings.theme ?? 'system',
    language: settings.language ?? 'en',
    default_model: orNull(settings.default_model),
    notifications_enabled: settings.notifications_enabled ?? true,
    preferences: unlessUnavailable(settings.preferences, (preferences) => preferences ?? {}),
    updated_at: orNull(settings.updated_at),
  }),
};

/**
 * The target row of a validated source row (exported for tests). A column whose value is the
 * unchanged-TOAST placeholder is left out of the row altogether: the upsert then neither writes nor
 * parses it, so the stored value stays. (Passing the placeholder through would make
 * jsonb_populate_recordset parse it as the column's type, which fails for vector, uuid, … columns.)
 */
export function chatTargetRow<T extends ChatTable>(table: T, row: ChatRows[T], cipher: TokenCipher): Record<string, unknown> {
  const mapped = (MAPPERS[table] as Mapper<T>)(row, cipher);
  return Object.fromEntries(Object.entries(mapped).filter(([, value]) => !isUnavailable(value)));
}

/** Written token columns must be ciphertext (or absent: unchanged): a last check before SQL. */
const encryptedToken = z.string().regex(ENCRYPTED_TOKEN_PATTERN, 'is not in encrypted form');
const chatOutput = {
  oauth_tokens: z.object({ access_token: encryptedToken.optional(), refresh_token: encryptedToken.nullable().optional() }),
};

export function chatProjection({ sourceSchema = 'public', cipher }: ChatProjectionOptions): ProjectionDefinition<ChatSourceRow> {
  const tableOf = new Map<string, ChatTable>(CHAT_TABLES.map((table) => [`${sourceSchema}.${table}`, table]));
  const input: Record<string, ZodType<ChatSourceRow>> = Object.fromEntries(
    CHAT_TABLES.map((table) => [`${sourceSchema}.${table}`, CHAT_INPUT[table] as ZodType<ChatSourceRow>]),
  );

  return defineProjection<ChatSourceRow>({
    name: 'chat',
    schema: 'chat',
    migrations: CHAT_MIGRATIONS,
    // Each table is its own topic: a message routinely arrives before its conversation. It waits and
    // is applied once the conversation is in, instead of staying quarantined until a re-drive.
    retryOrderingConflicts: true,
    input,
    output: chatOutput,
    reconcile: chatReconciliation(sourceSchema),
    sensitive: { [`${sourceSchema}.oauth_tokens`]: ['access_token', 'refresh_token'] },
    apply(event: ProjectionEvent<ChatSourceRow>): RowOperation[] {
      const table = tableOf.get(event.source);
      if (!table) throw new Error(`the chat projection does not read ${event.source}`);
      const key = CHAT_KEYS[table];
      if (event.op === 't') return [{ op: 'delete', table, match: {} }];
      if (event.op === 'd') {
        const id = event.before?.[key];
        if (id === undefined || id === null) throw new Error(`a delete of ${event.source} without its key column ${key}`);
        return [{ op: 'delete', table, match: { [key]: id } }];
      }
      if (event.after === null) return [];
      return [{ op: 'upsert', table, key: [key], row: chatTargetRow(table, event.after as ChatRows[typeof table], cipher) }];
    },
  });
}
