import type { Pool, PoolClient } from 'pg';

/** The state Tandem keeps in the target database, schema "tandem" (DESIGN.md, "State Tandem keeps"). */
const TANDEM_SCHEMA_SQL = `
CREATE SCHEMA IF NOT EXISTS tandem;
CREATE TABLE IF NOT EXISTS tandem.checkpoints (
  projection text NOT NULL,
  topic text NOT NULL,
  partition int NOT NULL,
  "offset" bigint NOT NULL,
  commit_lsn bigint,
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (projection, topic, partition)
);
CREATE TABLE IF NOT EXISTS tandem.id_map (
  projection text NOT NULL,
  entity text NOT NULL,
  source_id text NOT NULL,
  target_id text NOT NULL,
  source_lsn bigint NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (projection, entity, source_id)
);
CREATE TABLE IF NOT EXISTS tandem.quarantine (
  id bigserial PRIMARY KEY,
  projection text NOT NULL,
  topic text NOT NULL,
  partition int NOT NULL,
  "offset" bigint NOT NULL,
  source_key text,
  commit_lsn bigint,
  event jsonb,
  reason text NOT NULL,
  status text NOT NULL DEFAULT 'quarantined' CHECK (status IN ('quarantined', 'redriven')),
  quarantined_at timestamptz NOT NULL DEFAULT now(),
  redriven_at timestamptz,
  UNIQUE (projection, topic, partition, "offset")
);
CREATE TABLE IF NOT EXISTS tandem.reconciliations (
  id bigserial PRIMARY KEY,
  projection text NOT NULL,
  source_lsn pg_lsn NOT NULL,
  verdict text NOT NULL CHECK (verdict IN ('PASS', 'FAIL')),
  mismatch_ratio double precision NOT NULL,
  threshold double precision NOT NULL,
  started_at timestamptz NOT NULL,
  finished_at timestamptz NOT NULL,
  report jsonb NOT NULL
);
CREATE TABLE IF NOT EXISTS tandem.projection_migrations (
  projection text NOT NULL,
  version int NOT NULL,
  name text NOT NULL,
  checksum text NOT NULL,
  applied_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (projection, version)
);
`;

/** Creates Tandem's own tables; safe to run concurrently from several projectors. */
export async function ensureTandemSchema(pool: Pool): Promise<void> {
  const client: PoolClient = await pool.connect();
  try {
    await client.query('BEGIN');
    await client.query("SELECT pg_advisory_xact_lock(hashtextextended('tandem.schema', 0))");
    await client.query(TANDEM_SCHEMA_SQL);
    await client.query('COMMIT');
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
}
