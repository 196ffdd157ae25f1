import { ROOT_TENANT_SQL as ROOT } from './knowledge-base.ids';

/**
 * The prompts half of migration 1 (knowledge-base.migrations.ts): versioned prompts, the effective
 * prompt and documents per tenant, storage per scope, and row-level security. Part of one migration
 * text, so it must not change (the migration's checksum).
 */
export const PROMPTS_SQL = `      CREATE TABLE prompt_versions (
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
    `;
