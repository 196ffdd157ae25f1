import type { Migration } from '../framework/define-projection';
import { ROOT_CORPUS_ID, ROOT_TENANT } from './knowledge-base.ids';

/** Defaults of the per-tenant storage limits (settings table; the tests lower them). */
export const STORAGE_SOFT_LIMIT_BYTES = 500 * 1024 * 1024; // 500 MB: status 'warn'
export const STORAGE_HARD_LIMIT_BYTES = 1024 * 1024 * 1024; // 1 GiB: growth refused, event quarantined

const ROOT = `'${ROOT_TENANT}'::uuid`;

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

      CREATE TABLE prompt_versions (
        id uuid PRIMARY KEY,
        origin text NOT NULL,
        source_id text NOT NULL,
        scope text NOT NULL CHECK (scope IN ('root', 'tenant')),
        tenant_id uuid,
        tenant_key uuid GENERATED ALWAYS AS (COALESCE(tenant_id, ${ROOT})) STORED,
        version integer NOT NULL,
        -- no NOT NULL: PostgreSQL checks it on the proposed row before ON CONFLICT, and an update
        -- carrying the unchanged-TOAST placeholder proposes no prompt_text (the stored one stays)
        prompt_text text,
        source_active boolean NOT NULL,
        created_at timestamptz,
        updated_at timestamptz,
        _source_key text NOT NULL,
        _source_lsn bigint NOT NULL,
        CHECK ((scope = 'root') = (tenant_id IS NULL))
      );
      CREATE INDEX prompt_versions_scope_version ON prompt_versions (tenant_key, version);

      -- An imported prompt carries no version: it gets the next one of its scope, once.
      CREATE FUNCTION assign_prompt_version() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
      BEGIN
        IF NEW.version IS NULL THEN
          SELECT version INTO NEW.version FROM prompt_versions WHERE id = NEW.id;
          IF NEW.version IS NULL THEN
            SELECT COALESCE(max(version), 0) + 1 INTO NEW.version
              FROM prompt_versions WHERE tenant_key = COALESCE(NEW.tenant_id, ${ROOT});
          END IF;
        END IF;
        RETURN NEW;
      END $$;
      CREATE TRIGGER prompt_versions_assign_version BEFORE INSERT ON prompt_versions
        FOR EACH ROW EXECUTE FUNCTION assign_prompt_version();

      -- At most one active prompt per scope: the key of this table. The latest activation (by
      -- source LSN) wins; deactivating the version that is active leaves the scope without one.
      CREATE TABLE active_prompts (
        tenant_key uuid PRIMARY KEY,
        scope text NOT NULL CHECK (scope IN ('root', 'tenant')),
        tenant_id uuid,
        prompt_id uuid NOT NULL REFERENCES prompt_versions (id) ON DELETE CASCADE,
        origin text NOT NULL,
        _source_key text NOT NULL,
        _source_lsn bigint NOT NULL,
        CHECK ((scope = 'root') = (tenant_id IS NULL)),
        CHECK (tenant_key = COALESCE(tenant_id, ${ROOT}))
      );
      CREATE INDEX active_prompts_prompt ON active_prompts (prompt_id);

      -- The seed's prompts table: every version with its status.
      CREATE VIEW prompts WITH (security_invoker = true) AS
        SELECT v.id, v.scope, v.tenant_id, v.version,
               CASE WHEN a.prompt_id IS NULL THEN 'inactive' ELSE 'active' END AS status,
               v.prompt_text, v.origin, v.source_id, v.created_at, v.updated_at
          FROM prompt_versions v
          LEFT JOIN active_prompts a ON a.prompt_id = v.id AND a.tenant_key = v.tenant_key;

      -- Per scope: the root prompt, and for every known tenant the root text + "\\n\\n" + its own.
      CREATE VIEW v_effective_prompt WITH (security_invoker = true) AS
        WITH active AS (
          SELECT v.* FROM active_prompts a JOIN prompt_versions v ON v.id = a.prompt_id AND v.tenant_key = a.tenant_key
        ), root AS (
          SELECT * FROM active WHERE scope = 'root'
        ), tenants AS (
          SELECT tenant_id FROM prompt_versions WHERE tenant_id IS NOT NULL
          UNION SELECT tenant_id FROM corpora WHERE tenant_id IS NOT NULL
        )
        SELECT NULL::uuid AS tenant_id, 'root'::text AS scope, r.id AS root_prompt_id, r.version AS root_version,
               NULL::uuid AS tenant_prompt_id, NULL::integer AS tenant_version, r.prompt_text
          FROM root r
        UNION ALL
        SELECT t.tenant_id, 'tenant', r.id, r.version, tp.id, tp.version,
               NULLIF(concat_ws(E'\\n\\n', r.prompt_text, tp.prompt_text), '')
          FROM tenants t
          LEFT JOIN root r ON true
          LEFT JOIN active tp ON tp.scope = 'tenant' AND tp.tenant_id = t.tenant_id;

      -- The effective prompt of any tenant (root only for a tenant without augmentation; NULL: root).
      CREATE FUNCTION effective_prompt(p_tenant uuid) RETURNS text LANGUAGE sql STABLE SET search_path FROM CURRENT AS $$
        SELECT NULLIF(concat_ws(E'\\n\\n',
          (SELECT v.prompt_text FROM active_prompts a JOIN prompt_versions v ON v.id = a.prompt_id WHERE a.tenant_key = ${ROOT}),
          (SELECT v.prompt_text FROM active_prompts a JOIN prompt_versions v ON v.id = a.prompt_id
            WHERE p_tenant IS NOT NULL AND p_tenant <> ${ROOT} AND a.tenant_key = p_tenant)), '')
      $$;

      -- Root documents + those of the session's tenant (SET app.tenant_id = '<uuid>').
      CREATE VIEW v_effective_docs WITH (security_invoker = true) AS
        SELECT id, corpus_id, scope, tenant_id, title, content_text, source_uri, lang, tags, metadata,
               content_hash, content_bytes, created_at, updated_at
          FROM docs
         WHERE is_active AND (tenant_id IS NULL OR tenant_id = current_tenant_id());

      -- Root documents + those of one tenant, for operators (row-level security still applies).
      CREATE FUNCTION effective_docs(p_tenant uuid) RETURNS SETOF docs LANGUAGE sql STABLE SET search_path FROM CURRENT AS $$
        SELECT * FROM docs WHERE is_active AND (tenant_id IS NULL OR tenant_id = p_tenant)
      $$;

      CREATE VIEW tenant_storage WITH (security_invoker = true) AS
        SELECT NULLIF(u.tenant_key, ${ROOT}) AS tenant_id,
               CASE WHEN u.tenant_key = ${ROOT} THEN 'root' ELSE 'tenant' END AS scope,
               u.docs, u.bytes, pg_size_pretty(u.bytes) AS size,
               l.soft AS soft_limit_bytes, l.hard AS hard_limit_bytes,
               CASE WHEN u.bytes > l.hard THEN 'blocked' WHEN u.bytes > l.soft THEN 'warn' ELSE 'ok' END AS status
          FROM (SELECT tenant_key, count(*) AS docs, sum(content_bytes)::bigint AS bytes FROM docs GROUP BY tenant_key) u
          CROSS JOIN (SELECT max(value) FILTER (WHERE name = 'storage_soft_limit_bytes') AS soft,
                             max(value) FILTER (WHERE name = 'storage_hard_limit_bytes') AS hard
                        FROM settings) l;

      -- Row-level security: root rows for everyone, a tenant's rows for sessions of that tenant.
      -- Only SELECT has a policy: any other command by a role that is not the owner finds no row.
      -- The projector writes as the owner, which row-level security does not restrict.
      ALTER TABLE corpora ENABLE ROW LEVEL SECURITY;
      CREATE POLICY tenant_isolation ON corpora FOR SELECT USING (tenant_id IS NULL OR tenant_id = current_tenant_id());
      ALTER TABLE docs ENABLE ROW LEVEL SECURITY;
      CREATE POLICY tenant_isolation ON docs FOR SELECT USING (tenant_id IS NULL OR tenant_id = current_tenant_id());
      ALTER TABLE reindex_queue ENABLE ROW LEVEL SECURITY;
      CREATE POLICY tenant_isolation ON reindex_queue FOR SELECT USING (tenant_id IS NULL OR tenant_id = current_tenant_id());
      ALTER TABLE prompt_versions ENABLE ROW LEVEL SECURITY;
      CREATE POLICY tenant_isolation ON prompt_versions FOR SELECT USING (tenant_id IS NULL OR tenant_id = current_tenant_id());
      ALTER TABLE active_prompts ENABLE ROW LEVEL SECURITY;
      CREATE POLICY tenant_isolation ON active_prompts FOR SELECT USING (tenant_id IS NULL OR tenant_id = current_tenant_id());
    `,
  },
];
