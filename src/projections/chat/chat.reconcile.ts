import type { TableComparison } from '../framework/define-reconciliation';
import { isoUtc, jsTrim, jsonOr, jsonText, numberText } from '../reconcile-sql';
import { CHAT_KEYS, CHAT_TABLES, type ChatTable } from './chat.schemas';

/** A compared column: the legacy expression, and the target one (default: the column itself). */
type Column = [source: string, target?: string];

const same = (column: string): Column => [column];
const uuid = (column: string): Column => [`lower(${column}::text)`];
const withDefault = (column: string, fallback: string): Column => [`coalesce(${column}, ${fallback})`, column];
const time = (column: string): Column => [isoUtc(column)];
const json = (column: string, fallback: string): Column => [jsonText(jsonOr(column, fallback)), jsonText(column)];

/**
 * Reconciliation of the chat recipe: each of the eight tables is its legacy table, one to one by
 * the same key (ids are kept). Compared: every column, as the projection maps it (the seed's defaults
 * for NULLs, the e-mail trimmed and lower-cased, jsonb in canonical text with NULL as its default,
 * embeddings in pgvector's text form, timestamps in UTC, cost without trailing zeros).
 *
 * OAuth tokens are stored encrypted (AES-256-GCM with a random IV), so no SQL on the target can
 * compare them with the legacy plaintext: for access_token and refresh_token only their presence
 * (NULL or not) is compared. That an encrypted token decrypts to the legacy one is checked by the
 * recipe's tests, not here.
 */
const COLUMNS: Record<ChatTable, Record<string, Column>> = {
  users: {
    email: [`lower(${jsTrim('email')})`, 'email'],
    full_name: same('full_name'),
    avatar_url: same('avatar_url'),
    subscription_tier: withDefault('subscription_tier', "'free'"),
    subscription_status: withDefault('subscription_status', "'active'"),
    stripe_customer_id: same('stripe_customer_id'),
    messages_used: withDefault('messages_used', '0'),
    files_uploaded: withDefault('files_uploaded', '0'),
    storage_used_bytes: withDefault('storage_used_bytes', '0'),
    usage_reset_at: time('usage_reset_at'),
    created_at: time('created_at'),
    updated_at: [isoUtc('coalesce(updated_at, created_at)'), isoUtc('updated_at')],
  },
  file_metadata: {
    user_id: uuid('user_id'),
    filename: same('filename'),
    file_type: same('file_type'),
    file_size: same('file_size'),
    storage_path: same('storage_path'),
    processing_status: same('processing_status'),
    chunk_count: withDefault('chunk_count', '0'),
    embedding_count: withDefault('embedding_count', '0'),
    error_message: same('error_message'),
    metadata: json('metadata', '{}'),
    created_at: time('created_at'),
    updated_at: [isoUtc('coalesce(updated_at, created_at)'), isoUtc('updated_at')],
  },
  document_chunks: {
    file_id: uuid('file_id'),
    user_id: uuid('user_id'),
    chunk_index: same('chunk_index'),
    content: same('content'),
    embedding: same('embedding::text'),
    token_count: same('token_count'),
    metadata: json('metadata', '{}'),
    created_at: time('created_at'),
  },
  conversations: {
    user_id: uuid('user_id'),
    title: same('title'),
    model: same('model'),
    message_count: withDefault('message_count', '0'),
    is_archived: withDefault('is_archived', 'false'),
    last_message_at: time('last_message_at'),
    created_at: time('created_at'),
    updated_at: [isoUtc('coalesce(updated_at, created_at)'), isoUtc('updated_at')],
  },
  chat_messages: {
    conversation_id: uuid('conversation_id'),
    user_id: uuid('user_id'),
    role: same('role'),
    content: same('content'),
    sources: json('sources', '[]'),
    model: same('model'),
    token_count: same('token_count'),
    created_at: time('created_at'),
  },
  oauth_tokens: {
    user_id: uuid('user_id'),
    provider: same('provider'),
    has_access_token: same('access_token IS NOT NULL'),
    has_refresh_token: same('refresh_token IS NOT NULL'),
    token_type: withDefault('token_type', "'Bearer'"),
    scope: same('scope'),
    expires_at: time('expires_at'),
    created_at: time('created_at'),
    updated_at: [isoUtc('coalesce(updated_at, created_at)'), isoUtc('updated_at')],
  },
  usage_logs: {
    user_id: uuid('user_id'),
    action: same('action'),
    tokens_used: withDefault('tokens_used', '0'),
    cost_usd: [numberText('coalesce(cost_usd, 0)'), numberText('cost_usd')],
    metadata: json('metadata', '{}'),
    created_at: time('created_at'),
  },
  user_settings: {
    theme: withDefault('theme', "'system'"),
    language: withDefault('language', "'en'"),
    default_model: same('default_model'),
    notifications_enabled: withDefault('notifications_enabled', 'true'),
    preferences: json('preferences', '{}'),
    updated_at: time('updated_at'),
  },
};

export function chatReconciliation(sourceSchema: string): TableComparison[] {
  return CHAT_TABLES.map((table): TableComparison => {
    const key = CHAT_KEYS[table];
    const columns = Object.entries(COLUMNS[table]);
    return {
      name: table,
      sourceTable: `${sourceSchema}.${table}`,
      source: { from: `{source}.${table}`, key: `${key}::text`, columns: Object.fromEntries(columns.map(([name, [source]]) => [name, source])) },
      target: {
        from: `{target}.${table}`,
        key: `${key}::text`,
        columns: Object.fromEntries(columns.map(([name, [source, target]]) => [name, target ?? source])),
      },
      quarantineKey: (kafkaKey) => (kafkaKey[key] === undefined || kafkaKey[key] === null ? null : String(kafkaKey[key])),
    };
  });
}
