import type { Migration } from '../framework/define-projection';

export const USERS_MIGRATIONS: Migration[] = [
  {
    version: 1,
    name: 'users and tenant mapping',
    sql: `
      CREATE TABLE tenant_mapping (
        instance_name text PRIMARY KEY,
        tenant_id uuid NOT NULL,
        description text,
        _source_key text NOT NULL,
        _source_lsn bigint NOT NULL
      );
      CREATE TABLE users (
        id uuid PRIMARY KEY,
        source_user_id uuid NOT NULL UNIQUE,
        email text NOT NULL,
        name text NOT NULL,
        instance_name text NOT NULL,
        status text NOT NULL CHECK (status IN ('invite_pending', 'invited', 'active')),
        meta jsonb NOT NULL DEFAULT '{}',
        created_at timestamptz NOT NULL,
        _source_key text NOT NULL,
        _source_lsn bigint NOT NULL
      );
      CREATE UNIQUE INDEX users_email_key ON users (email);
      -- source id -> new id, tenant and status: the seeds' user_migration_map
      CREATE VIEW user_migration_map AS
        SELECT u.source_user_id, u.id AS user_id, u.email,
               COALESCE(t.tenant_id, '00000000-0000-0000-0000-000000000000'::uuid) AS tenant_id,
               u.status
          FROM users u LEFT JOIN tenant_mapping t USING (instance_name);
    `,
  },
  {
    version: 2,
    name: 'tenant of imported users',
    sql: `
      ALTER TABLE users ADD COLUMN tenant_id uuid;
      CREATE OR REPLACE VIEW user_migration_map AS
        SELECT u.source_user_id, u.id AS user_id, u.email,
               COALESCE(u.tenant_id, t.tenant_id, '00000000-0000-0000-0000-000000000000'::uuid) AS tenant_id,
               u.status
          FROM users u LEFT JOIN tenant_mapping t USING (instance_name);
    `,
  },
];
