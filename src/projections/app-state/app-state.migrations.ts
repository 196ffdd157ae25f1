import type { Migration } from '../framework/define-projection';

/**
 * The normalized tables of seed 002, in schema app_state (search_path is set to it).
 *
 * Every entity row keeps: `user_id`; `old_id` (its id in the JSON document); `position` (its index
 * in the document's list); `source_id` (the legacy user_app_state row it came from); `version` (that
 * row's (updated_at, id) as ordered text, see app-state.schema.ts rowVersion); `extra` (the
 * document's keys the table has no column for); and the framework's `_source_key`/`_source_lsn`.
 *
 * Links are immediate foreign keys with ON DELETE CASCADE: an event first removes the entities
 * that left the document, then upserts the rest parents first, in one transaction, so a kept
 * content whose old persona was removed is re-inserted under its new persona by the same event.
 * (Deferred foreign keys would only fail at COMMIT, after the per-event savepoints that keep a
 * failing user's state out as a whole.)
 */
export const APP_STATE_MIGRATIONS: Migration[] = [
  {
    version: 1,
    name: 'user_app_state exploded into seven normalized tables',
    sql: `
      -- Every legacy row seen: which rows each user has (duplicates) and which were deleted.
      CREATE TABLE source_rows (
        source_id text PRIMARY KEY,
        user_id text,
        updated_at timestamptz,
        version text COLLATE "C",
        state_bytes int,
        deleted boolean NOT NULL DEFAULT false,
        _source_key text NOT NULL,
        _source_lsn bigint NOT NULL
      );
      CREATE INDEX source_rows_user_id_idx ON source_rows (user_id);

      -- Per user, the winning legacy row: the greatest (updated_at, id, commit LSN) seen.
      CREATE TABLE user_states (
        user_id text PRIMARY KEY,
        source_id text NOT NULL,
        source_updated_at timestamptz,
        version text COLLATE "C" NOT NULL,
        schema_version int,
        settings jsonb NOT NULL DEFAULT '{}',
        entity_counts jsonb NOT NULL,
        state_bytes int NOT NULL,
        _source_key text NOT NULL,
        _source_lsn bigint NOT NULL
      );

      CREATE TABLE orgs (
        id uuid PRIMARY KEY,
        user_id text NOT NULL,
        old_id text NOT NULL,
        position int NOT NULL,
        name text NOT NULL,
        website text,
        industry text,
        size text,
        description text,
        created_at timestamptz,
        extra jsonb NOT NULL DEFAULT '{}',
        source_id text NOT NULL,
        version text COLLATE "C" NOT NULL,
        _source_key text NOT NULL,
        _source_lsn bigint NOT NULL,
        CONSTRAINT orgs_user_old_id_key UNIQUE (user_id, old_id)
      );
      CREATE INDEX orgs_source_id_idx ON orgs (source_id);

      CREATE TABLE personas (
        id uuid PRIMARY KEY,
        user_id text NOT NULL,
        old_id text NOT NULL,
        position int NOT NULL,
        org_id uuid NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
        name text NOT NULL,
        role text,
        tone text,
        description text,
        audience text,
        goals text[] NOT NULL DEFAULT '{}',
        is_default boolean NOT NULL DEFAULT false,
        created_at timestamptz,
        extra jsonb NOT NULL DEFAULT '{}',
        source_id text NOT NULL,
        version text COLLATE "C" NOT NULL,
        _source_key text NOT NULL,
        _source_lsn bigint NOT NULL,
        CONSTRAINT personas_user_old_id_key UNIQUE (user_id, old_id)
      );
      CREATE INDEX personas_org_id_idx ON personas (org_id);
      CREATE INDEX personas_source_id_idx ON personas (source_id);

      CREATE TABLE contents (
        id uuid PRIMARY KEY,
        user_id text NOT NULL,
        old_id text NOT NULL,
        position int NOT NULL,
        persona_id uuid NOT NULL REFERENCES personas (id) ON DELETE CASCADE,
        type text NOT NULL,
        title text,
        body text NOT NULL,
        status text NOT NULL CHECK (status IN ('draft', 'scheduled', 'published', 'archived')),
        tags text[] NOT NULL DEFAULT '{}',
        scheduled_at timestamptz,
        published_at timestamptz,
        created_at timestamptz,
        updated_at timestamptz,
        extra jsonb NOT NULL DEFAULT '{}',
        source_id text NOT NULL,
        version text COLLATE "C" NOT NULL,
        _source_key text NOT NULL,
        _source_lsn bigint NOT NULL,
        CONSTRAINT contents_user_old_id_key UNIQUE (user_id, old_id)
      );
      CREATE INDEX contents_persona_id_idx ON contents (persona_id);
      CREATE INDEX contents_source_id_idx ON contents (source_id);

      CREATE TABLE accounts (
        id uuid PRIMARY KEY,
        user_id text NOT NULL,
        old_id text NOT NULL,
        position int NOT NULL,
        provider text NOT NULL,
        handle text NOT NULL,
        display_name text,
        scopes text[] NOT NULL DEFAULT '{}',
        active boolean NOT NULL DEFAULT true,
        connected_at timestamptz,
        extra jsonb NOT NULL DEFAULT '{}',
        source_id text NOT NULL,
        version text COLLATE "C" NOT NULL,
        _source_key text NOT NULL,
        _source_lsn bigint NOT NULL,
        CONSTRAINT accounts_user_old_id_key UNIQUE (user_id, old_id),
        -- checked at the end of each statement, so two accounts may swap handles in one state
        CONSTRAINT accounts_provider_handle_key UNIQUE (user_id, provider, handle) DEFERRABLE INITIALLY IMMEDIATE
      );
      CREATE INDEX accounts_source_id_idx ON accounts (source_id);

      CREATE TABLE leads (
        id uuid PRIMARY KEY,
        user_id text NOT NULL,
        old_id text NOT NULL,
        position int NOT NULL,
        name text NOT NULL,
        email text,
        company text,
        title text,
        status text NOT NULL CHECK (status IN ('new', 'contacted', 'replied', 'qualified', 'won', 'lost')),
        score numeric CHECK (score BETWEEN 0 AND 100),
        source text,
        notes text,
        created_at timestamptz,
        extra jsonb NOT NULL DEFAULT '{}',
        source_id text NOT NULL,
        version text COLLATE "C" NOT NULL,
        _source_key text NOT NULL,
        _source_lsn bigint NOT NULL,
        CONSTRAINT leads_user_old_id_key UNIQUE (user_id, old_id)
      );
      CREATE INDEX leads_source_id_idx ON leads (source_id);

      CREATE TABLE "references" (
        id uuid PRIMARY KEY,
        user_id text NOT NULL,
        old_id text NOT NULL,
        position int NOT NULL,
        title text NOT NULL,
        url text,
        kind text NOT NULL CHECK (kind IN ('link', 'file', 'note', 'quote')),
        excerpt text,
        tags text[] NOT NULL DEFAULT '{}',
        created_at timestamptz,
        extra jsonb NOT NULL DEFAULT '{}',
        source_id text NOT NULL,
        version text COLLATE "C" NOT NULL,
        _source_key text NOT NULL,
        _source_lsn bigint NOT NULL,
        CONSTRAINT references_user_old_id_key UNIQUE (user_id, old_id)
      );
      CREATE INDEX references_source_id_idx ON "references" (source_id);

      CREATE TABLE inbox_items (
        id uuid PRIMARY KEY,
        user_id text NOT NULL,
        old_id text NOT NULL,
        position int NOT NULL,
        account_id uuid REFERENCES accounts (id) ON DELETE CASCADE,
        sender text NOT NULL,
        subject text,
        preview text,
        received_at timestamptz NOT NULL,
        read boolean NOT NULL DEFAULT false,
        archived boolean NOT NULL DEFAULT false,
        extra jsonb NOT NULL DEFAULT '{}',
        source_id text NOT NULL,
        version text COLLATE "C" NOT NULL,
        _source_key text NOT NULL,
        _source_lsn bigint NOT NULL,
        CONSTRAINT inbox_items_user_old_id_key UNIQUE (user_id, old_id)
      );
      CREATE INDEX inbox_items_account_id_idx ON inbox_items (account_id);
      CREATE INDEX inbox_items_source_id_idx ON inbox_items (source_id);

      -- The seed's migration_audit: every old id -> new id, from tandem.id_map.
      CREATE VIEW migration_audit AS
        SELECT m.source_id::jsonb ->> 0 AS user_id,
               'user_app_state.state.' || CASE m.entity WHEN 'inbox_item' THEN 'inboxItems' ELSE m.entity || 's' END AS source_table,
               m.source_id::jsonb ->> 1 AS source_id,
               CASE m.entity WHEN 'inbox_item' THEN 'inbox_items' ELSE m.entity || 's' END AS target_table,
               m.target_id::uuid AS target_id,
               m.source_lsn,
               m.created_at
          FROM tandem.id_map m
         WHERE m.projection = 'app-state';

      -- Per user: the winning legacy row, whether it still exists (and still belongs to the user),
      -- and how many of the user's legacy rows exist. projected = false with live_rows > 0 means the
      -- newest row was deleted: the older duplicates count again once one of them is written.
      CREATE VIEW user_state_status AS
        SELECT s.user_id, s.source_id, s.source_updated_at,
               COALESCE(r.user_id = s.user_id AND NOT r.deleted, false) AS projected,
               (SELECT count(*) FROM source_rows d WHERE d.user_id = s.user_id AND NOT d.deleted) AS live_rows
          FROM user_states s
          LEFT JOIN source_rows r ON r.source_id = s.source_id;
    `,
  },
];
