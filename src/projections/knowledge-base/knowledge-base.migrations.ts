import type { Migration } from '../framework/define-projection';
import { ROOT_CORPUS_ID, ROOT_TENANT_SQL as ROOT } from './knowledge-base.ids';
import { PROMPTS_SQL } from './knowledge-base.prompts-sql';

/** Defaults of the per-tenant storage limits (settings table; the tests lower them). */
export const STORAGE_SOFT_LIMIT_BYTES = 500 * 1024 * 1024; // 500 MB: status 'warn'
export const STORAGE_HARD_LIMIT_BYTES = 1024 * 1024 * 1024; // 1 GiB: growth refused, event quarantined


/**
 * Target schema `knowledge_base` (seed 000's `kb` and `prompts` schemas in one):
 *
 * - corpora: the root corpus (created here) and one per tenant (created by a trigger with the
 *   tenant's first document).
 * - docs: documents with scope root (tenant_id NULL, visible to every tenant) or tenant.
 *   content_hash and content_bytes are generated from the content, so an update that carries the
 *   unchanged-TOAST placeholder (the row writer leaves content_text out) keeps them too.
 * - reindex_queue: one row per (document, content version), written by triggers on docs when a
 *   document is created, its content_hash changes, or it is deleted. The LSN guard of the upsert
 *   means a redelivered event updates nothing, so it enqueues nothing.
 * - Storage: statement triggers on docs refuse (SQLSTATE 23514, so the event is quarantined) a
 *   change that grows a scope's content past the hard limit; tenant_storage shows ok/warn/blocked.
 * - prompt_versions + active_prompts: versioned prompts, at most one active per scope (the primary
 *   key of active_prompts). The active version is a pointer written with the event's LSN rather than
 *   a status column under a partial unique index, because "activate v3" and "deactivate v2" are
 *   events of different rows, on different Kafka partitions, applied in either order.
 * - Row-level security on every table with tenant rows: a session sees root rows and the rows of
 *   the tenant in `app.tenant_id`; the views are security_invoker, so they obey it too.
 *
 * Functions are created with `SET search_path FROM CURRENT`: they use this schema's tables whatever
 * the caller's search_path.
 */
export const KNOWLEDGE_BASE_MIGRATIONS: Migration[] = [
  {
    version: 1,
    name: 'corpora, docs, reindex queue, storage limits, prompts, row-level security',
    sql: `
      CREATE TABLE settings (
        name text PRIMARY KEY,
        value bigint NOT NULL CHECK (value > 0),
        description text NOT NULL,
        _source_key text NOT NULL DEFAULT 'migration',
        _source_lsn bigint NOT NULL DEFAULT 0
      );
      INSERT INTO settings (name, value, description) VALUES
        ('storage_soft_limit_bytes', ${STORAGE_SOFT_LIMIT_BYTES},
         'per scope: past this many bytes of document content, tenant_storage shows status warn (500 MB)'),
        ('storage_hard_limit_bytes', ${STORAGE_HARD_LIMIT_BYTES},
         'per scope: a change that grows document content past this many bytes is refused and its event quarantined (1 GiB)');

      CREATE FUNCTION current_tenant_id() RETURNS uuid LANGUAGE sql STABLE
        AS $$ SELECT NULLIF(current_setting('app.tenant_id', true), '')::uuid $$;

      CREATE TABLE corpora (
        id uuid PRIMARY KEY,
        name text NOT NULL UNIQUE,
        scope text NOT NULL CHECK (scope IN ('root', 'tenant')),
        tenant_id uuid UNIQUE,
        description text,
        _source_key text NOT NULL,
        _source_lsn bigint NOT NULL,
        CHECK ((scope = 'root') = (tenant_id IS NULL))
      );
      INSERT INTO corpora (id, name, scope, tenant_id, description, _source_key, _source_lsn)
      VALUES ('${ROOT_CORPUS_ID}', 'Root', 'root', NULL, 'Root knowledge base, shared by every tenant', 'migration', 0);

      CREATE TABLE docs (
        id uuid PRIMARY KEY,
        origin text NOT NULL,
        source_id text NOT NULL,
        corpus_id uuid NOT NULL REFERENCES corpora (id),
        scope text NOT NULL CHECK (scope IN ('root', 'tenant')),
        tenant_id uuid,
        tenant_key uuid GENERATED ALWAYS AS (COALESCE(tenant_id, ${ROOT})) STORED,
        title text NOT NULL,
        content_text text,
        source_uri text,
        content_hash text GENERATED ALWAYS AS (md5(COALESCE('t:' || content_text, 'u:' || COALESCE(source_uri, '')))) STORED,
        content_bytes bigint GENERATED ALWAYS AS (COALESCE(octet_length(content_text), 0)) STORED,
        lang text NOT NULL DEFAULT 'en',
        tags text[] NOT NULL DEFAULT '{}',
        metadata jsonb NOT NULL DEFAULT '{}',
        is_active boolean NOT NULL DEFAULT true,
        created_at timestamptz,
        updated_at timestamptz,
        _source_key text NOT NULL,
        _source_lsn bigint NOT NULL,
        CHECK ((scope = 'root') = (tenant_id IS NULL))
      );
      CREATE INDEX docs_tenant_bytes ON docs (tenant_key) INCLUDE (content_bytes);
      CREATE INDEX docs_origin ON docs (origin);

      -- A tenant's corpus comes with its first document.
      CREATE FUNCTION ensure_corpus() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
      BEGIN
        IF NEW.tenant_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM corpora WHERE id = NEW.corpus_id) THEN
          INSERT INTO corpora (id, name, scope, tenant_id, description, _source_key, _source_lsn)
          VALUES (NEW.corpus_id, 'tenant:' || NEW.tenant_id, 'tenant', NEW.tenant_id,
                  'Knowledge base of tenant ' || NEW.tenant_id, NEW._source_key, NEW._source_lsn)
          ON CONFLICT DO NOTHING;
        END IF;
        RETURN NEW;
      END $$;
      CREATE TRIGGER docs_ensure_corpus BEFORE INSERT OR UPDATE OF corpus_id ON docs
        FOR EACH ROW EXECUTE FUNCTION ensure_corpus();

      CREATE TABLE reindex_queue (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        doc_id uuid NOT NULL,
        tenant_id uuid,
        content_hash text,
        reason text NOT NULL CHECK (reason IN ('created', 'content_changed', 'deleted')),
        enqueued_at timestamptz NOT NULL DEFAULT now(),
        processed_at timestamptz,
        _source_key text NOT NULL,
        _source_lsn bigint NOT NULL
      );
      CREATE UNIQUE INDEX reindex_queue_doc_content ON reindex_queue (doc_id, content_hash);
      CREATE INDEX reindex_queue_pending ON reindex_queue (id) WHERE processed_at IS NULL;

      -- One queue row per (document, content version). Content that comes back to a version already
      -- indexed re-arms that row; one still pending stays as it is.
      CREATE FUNCTION enqueue_reindex() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
      BEGIN
        IF TG_OP = 'DELETE' THEN
          INSERT INTO reindex_queue (doc_id, tenant_id, content_hash, reason, _source_key, _source_lsn)
          VALUES (OLD.id, OLD.tenant_id, NULL, 'deleted', OLD._source_key, OLD._source_lsn);
          RETURN OLD;
        END IF;
        INSERT INTO reindex_queue AS q (doc_id, tenant_id, content_hash, reason, _source_key, _source_lsn)
        VALUES (NEW.id, NEW.tenant_id, NEW.content_hash, CASE TG_OP WHEN 'INSERT' THEN 'created' ELSE 'content_changed' END,
                NEW._source_key, NEW._source_lsn)
        ON CONFLICT (doc_id, content_hash) DO UPDATE
          SET reason = EXCLUDED.reason, tenant_id = EXCLUDED.tenant_id, enqueued_at = now(), processed_at = NULL,
              _source_key = EXCLUDED._source_key, _source_lsn = EXCLUDED._source_lsn
          WHERE q.processed_at IS NOT NULL;
        RETURN NEW;
      END $$;
      CREATE TRIGGER docs_reindex_created AFTER INSERT ON docs FOR EACH ROW EXECUTE FUNCTION enqueue_reindex();
      CREATE TRIGGER docs_reindex_content_changed AFTER UPDATE ON docs
        FOR EACH ROW WHEN (OLD.content_hash IS DISTINCT FROM NEW.content_hash) EXECUTE FUNCTION enqueue_reindex();
      CREATE TRIGGER docs_reindex_deleted AFTER DELETE ON docs FOR EACH ROW EXECUTE FUNCTION enqueue_reindex();

      -- Per scope (each tenant, and the root): a statement that grows a scope's content past the
      -- hard limit fails with check_violation, naming the tenant and the sizes; the projector then
      -- applies the batch event by event and quarantines the event(s) that do it. Changes that do
      -- not grow a scope (title edits, deletions, smaller content) always pass.
      CREATE FUNCTION enforce_storage_limit() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
      DECLARE
        hard bigint := (SELECT value FROM settings WHERE name = 'storage_hard_limit_bytes');
        over record;
      BEGIN
        IF TG_OP = 'INSERT' THEN
          SELECT g.tenant_key, g.added, u.bytes INTO over
            FROM (SELECT tenant_key, sum(content_bytes) AS added FROM new_rows GROUP BY tenant_key) g
            CROSS JOIN LATERAL (SELECT sum(d.content_bytes) AS bytes FROM docs d WHERE d.tenant_key = g.tenant_key) u
           WHERE g.added > 0 AND u.bytes > hard
           ORDER BY g.tenant_key LIMIT 1;
        ELSE
          SELECT g.tenant_key, g.added, u.bytes INTO over
            FROM (SELECT tenant_key, sum(delta) AS added
                    FROM (SELECT tenant_key, content_bytes AS delta FROM new_rows
                          UNION ALL SELECT tenant_key, -content_bytes FROM old_rows) changes
                   GROUP BY tenant_key) g
            CROSS JOIN LATERAL (SELECT sum(d.content_bytes) AS bytes FROM docs d WHERE d.tenant_key = g.tenant_key) u
           WHERE g.added > 0 AND u.bytes > hard
           ORDER BY g.tenant_key LIMIT 1;
        END IF;
        IF FOUND THEN
          RAISE EXCEPTION USING
            ERRCODE = 'check_violation',
            SCHEMA = TG_TABLE_SCHEMA,
            TABLE = TG_TABLE_NAME,
            CONSTRAINT = 'tenant_storage_hard_limit',
            MESSAGE = format('storage hard limit: %s would hold %s bytes (%s) of document content, past its hard limit of %s bytes (%s); this change adds %s bytes',
                             CASE WHEN over.tenant_key = ${ROOT} THEN 'the root scope' ELSE 'tenant ' || over.tenant_key END,
                             over.bytes, pg_size_pretty(over.bytes), hard, pg_size_pretty(hard), over.added),
            HINT = 'delete or shrink documents of this scope, or raise storage_hard_limit_bytes in the settings table, then re-drive the event';
        END IF;
        RETURN NULL;
      END $$;
      CREATE TRIGGER docs_storage_limit_insert AFTER INSERT ON docs
        REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION enforce_storage_limit();
      CREATE TRIGGER docs_storage_limit_update AFTER UPDATE ON docs
        REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION enforce_storage_limit();

${PROMPTS_SQL}`,
  },
];
