import type { Migration } from '../framework/define-projection';
import {
  CHAT_RELATIONS,
  EMBEDDING_DIMENSIONS,
  MESSAGE_ROLES,
  OAUTH_PROVIDERS,
  PROCESSING_STATUSES,
  SUBSCRIPTION_STATUSES,
  SUBSCRIPTION_TIERS,
  THEMES,
  USAGE_ACTIONS,
} from './chat.schemas';

const list = (values: readonly string[]) => values.map((value) => `'${value}'`).join(', ');

/**
 * "Missing parent" guards. Events of different tables travel on different topics and partitions,
 * so a child can reach the projector before its parent. A BEFORE trigger per relation turns that
 * case into a foreign_key_violation (23503) whose message names the relation and the parent id;
 * the batch applier quarantines the event with it, and `tandem dlq redrive` applies it once the
 * parent is there. The foreign keys stay as the backstop (and cascade deletes of parents).
 * The parent is looked up in the trigger's own schema, so a replay into a shadow schema works.
 */
function parentGuards(): string {
  return CHAT_RELATIONS.map(({ table, column, parent }) => {
    const fn = `${table}_requires_${parent}`;
    return `
      CREATE FUNCTION ${fn}() RETURNS trigger LANGUAGE plpgsql AS $fn$
      DECLARE present boolean;
      BEGIN
        IF NEW.${column} IS NULL THEN RETURN NEW; END IF;
        EXECUTE format('SELECT EXISTS (SELECT 1 FROM %I.${parent} WHERE id = $1)', TG_TABLE_SCHEMA) INTO present USING NEW.${column};
        IF NOT present THEN
          RAISE EXCEPTION 'missing parent: ${table}.${column} % is not in ${parent} (yet); re-drive with "tandem dlq redrive" once it is projected', NEW.${column}
            USING ERRCODE = 'foreign_key_violation', TABLE = '${table}', COLUMN = '${column}', CONSTRAINT = '${table}_${column}_fkey';
        END IF;
        RETURN NEW;
      END $fn$;
      CREATE TRIGGER ${fn} BEFORE INSERT OR UPDATE OF ${column} ON ${table} FOR EACH ROW EXECUTE FUNCTION ${fn}();`;
  }).join('\n');
}

/**
 * The chat schema: the eight tables of seed 001, with the enums as CHECK constraints, foreign keys
 * (ON DELETE CASCADE, as the application's own schema), tokens stored only in encrypted form, and
 * an HNSW index for the RAG search. Secondary uniqueness (one token per user and provider, one
 * chunk per file and index) is an index, not a constraint: rows of different keys travel on
 * different partitions, so a delete and the re-insert that replaces it may arrive in either order.
 * The source enforces it, reconciliation checks it.
 */
export const CHAT_MIGRATIONS: Migration[] = [
  {
    version: 1,
    name: 'chat tables, relations, encrypted tokens, embedding index',
    sql: `
      CREATE TABLE users (
        id uuid PRIMARY KEY,
        email text NOT NULL,
        full_name text,
        avatar_url text,
        subscription_tier text NOT NULL CHECK (subscription_tier IN (${list(SUBSCRIPTION_TIERS)})),
        subscription_status text NOT NULL CHECK (subscription_status IN (${list(SUBSCRIPTION_STATUSES)})),
        stripe_customer_id text,
        messages_used integer NOT NULL CHECK (messages_used >= 0),
        files_uploaded integer NOT NULL CHECK (files_uploaded >= 0),
        storage_used_bytes bigint NOT NULL CHECK (storage_used_bytes >= 0),
        usage_reset_at timestamptz,
        created_at timestamptz NOT NULL,
        updated_at timestamptz NOT NULL,
        _source_key text NOT NULL,
        _source_lsn bigint NOT NULL
      );
      CREATE INDEX users_email_idx ON users (email);

      CREATE TABLE file_metadata (
        id uuid PRIMARY KEY,
        user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        filename text NOT NULL,
        file_type text NOT NULL,
        file_size bigint NOT NULL CHECK (file_size >= 0),
        storage_path text NOT NULL,
        processing_status text NOT NULL CHECK (processing_status IN (${list(PROCESSING_STATUSES)})),
        chunk_count integer NOT NULL CHECK (chunk_count >= 0),
        embedding_count integer NOT NULL CHECK (embedding_count >= 0),
        error_message text,
        metadata jsonb NOT NULL,
        created_at timestamptz NOT NULL,
        updated_at timestamptz NOT NULL,
        _source_key text NOT NULL,
        _source_lsn bigint NOT NULL
      );
      CREATE INDEX file_metadata_user_idx ON file_metadata (user_id);

      CREATE TABLE document_chunks (
        id uuid PRIMARY KEY,
        file_id uuid NOT NULL REFERENCES file_metadata (id) ON DELETE CASCADE,
        user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        chunk_index integer NOT NULL CHECK (chunk_index >= 0),
        content text NOT NULL,
        embedding vector(${EMBEDDING_DIMENSIONS}),
        token_count integer CHECK (token_count >= 0),
        metadata jsonb NOT NULL,
        created_at timestamptz NOT NULL,
        _source_key text NOT NULL,
        _source_lsn bigint NOT NULL
      );
      CREATE INDEX document_chunks_file_idx ON document_chunks (file_id, chunk_index);
      CREATE INDEX document_chunks_user_idx ON document_chunks (user_id);
      CREATE INDEX document_chunks_embedding_idx ON document_chunks USING hnsw (embedding vector_cosine_ops);

      CREATE TABLE conversations (
        id uuid PRIMARY KEY,
        user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        title text,
        model text,
        message_count integer NOT NULL CHECK (message_count >= 0),
        is_archived boolean NOT NULL,
        last_message_at timestamptz,
        created_at timestamptz NOT NULL,
        updated_at timestamptz NOT NULL,
        _source_key text NOT NULL,
        _source_lsn bigint NOT NULL
      );
      CREATE INDEX conversations_user_idx ON conversations (user_id, updated_at DESC);

      CREATE TABLE chat_messages (
        id uuid PRIMARY KEY,
        conversation_id uuid NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
        user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        role text NOT NULL CHECK (role IN (${list(MESSAGE_ROLES)})),
        content text NOT NULL,
        sources jsonb NOT NULL,
        model text,
        token_count integer CHECK (token_count >= 0),
        created_at timestamptz NOT NULL,
        _source_key text NOT NULL,
        _source_lsn bigint NOT NULL
      );
      CREATE INDEX chat_messages_conversation_idx ON chat_messages (conversation_id, created_at);
      CREATE INDEX chat_messages_user_idx ON chat_messages (user_id);

      -- access_token and refresh_token hold v1:<iv>:<ciphertext> (AES-256-GCM, key TANDEM_TOKEN_KEY), never plaintext
      CREATE TABLE oauth_tokens (
        id uuid PRIMARY KEY,
        user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        provider text NOT NULL CHECK (provider IN (${list(OAUTH_PROVIDERS)})),
        access_token text NOT NULL CHECK (access_token ~ '^v1:[A-Za-z0-9+/=]+:[A-Za-z0-9+/=]+$'),
        refresh_token text CHECK (refresh_token ~ '^v1:[A-Za-z0-9+/=]+:[A-Za-z0-9+/=]+$'),
        token_type text NOT NULL,
        scope text,
        expires_at timestamptz,
        created_at timestamptz NOT NULL,
        updated_at timestamptz NOT NULL,
        _source_key text NOT NULL,
        _source_lsn bigint NOT NULL
      );
      CREATE INDEX oauth_tokens_user_provider_idx ON oauth_tokens (user_id, provider);

      CREATE TABLE usage_logs (
        id bigint PRIMARY KEY,
        user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        action text NOT NULL CHECK (action IN (${list(USAGE_ACTIONS)})),
        tokens_used integer NOT NULL CHECK (tokens_used >= 0),
        cost_usd numeric(12, 6) NOT NULL CHECK (cost_usd >= 0),
        metadata jsonb NOT NULL,
        created_at timestamptz NOT NULL,
        _source_key text NOT NULL,
        _source_lsn bigint NOT NULL
      );
      CREATE INDEX usage_logs_user_idx ON usage_logs (user_id, created_at);

      CREATE TABLE user_settings (
        user_id uuid PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
        theme text NOT NULL CHECK (theme IN (${list(THEMES)})),
        language text NOT NULL,
        default_model text,
        notifications_enabled boolean NOT NULL,
        preferences jsonb NOT NULL,
        updated_at timestamptz,
        _source_key text NOT NULL,
        _source_lsn bigint NOT NULL
      );
      ${parentGuards()}
    `,
  },
];
