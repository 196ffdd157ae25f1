import type { Pool } from 'pg';
import { withTransaction } from '../../shared/transaction';

/** Checkpoints and quarantine: also kept in the legacy database by failback (failback-schema.ts). */
export const CHECKPOINTS_DDL = `
CREATE TABLE IF NOT EXISTS tandem.checkpoints (
  projection text NOT NULL,
  topic text NOT NULL,
  partition int NOT NULL,
  "offset" bigint NOT NULL,
  commit_lsn bigint,
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (projection, topic, partition)
);
`;
export const QUARANTINE_DDL = `
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
  status text NOT NULL DEFAULT 'quarantined' CHECK (status IN ('quarantined', 'redriven', 'waiting')),
  quarantined_at timestamptz NOT NULL DEFAULT now(),
  redriven_at timestamptz,
  UNIQUE (projection, topic, partition, "offset")
);
-- the projector lists a projection's waiting events after every chunk; quarantined ones may be many
CREATE INDEX IF NOT EXISTS quarantine_waiting_idx ON tandem.quarantine (projection, id) WHERE status = 'waiting';
`;

/** The state Tandem keeps in the target database, schema "tandem" (DESIGN.md, "State Tandem keeps"). */
const TANDEM_SCHEMA_SQL = `
CREATE SCHEMA IF NOT EXISTS tandem;
${CHECKPOINTS_DDL}CREATE TABLE IF NOT EXISTS tandem.id_map (
  projection text NOT NULL,
  entity text NOT NULL,
  source_id text NOT NULL,
  target_id text NOT NULL,
  source_lsn bigint NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (projection, entity, source_id)
);
${QUARANTINE_DDL}-- 'waiting': an event refused for a row it refers to that has not arrived yet (retried by the projector)
DO $$ BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conname = 'quarantine_status_check' AND conrelid = 'tandem.quarantine'::regclass
                   AND pg_get_constraintdef(oid) LIKE '%waiting%') THEN
    ALTER TABLE tandem.quarantine DROP CONSTRAINT IF EXISTS quarantine_status_check;
    ALTER TABLE tandem.quarantine ADD CONSTRAINT quarantine_status_check CHECK (status IN ('quarantined', 'redriven', 'waiting'));
  END IF;
END $$;
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
CREATE TABLE IF NOT EXISTS tandem.operator_audit (
  id bigserial PRIMARY KEY,
  at timestamptz NOT NULL DEFAULT now(),
  operator text NOT NULL,
  action text NOT NULL,
  subject text,
  details jsonb NOT NULL DEFAULT '{}'
);
-- outcome of an admin API action ('ok' | 'failed', with the error); NULL for rows written by the CLI.
-- Checked first so that an up-to-date database takes no table lock here.
DO $$ BEGIN
  IF NOT EXISTS (SELECT 1 FROM information_schema.columns
                  WHERE table_schema = 'tandem' AND table_name = 'operator_audit' AND column_name = 'outcome') THEN
    ALTER TABLE tandem.operator_audit ADD COLUMN IF NOT EXISTS outcome text, ADD COLUMN IF NOT EXISTS error text;
  END IF;
END $$;
-- cutover, replay, backup: src/modules/cutover, src/modules/replay
CREATE TABLE IF NOT EXISTS tandem.cutovers (
  id bigserial PRIMARY KEY,
  state text NOT NULL CHECK (state IN ('parallel', 'frozen', 'drained', 'verified', 'committed', 'aborted')),
  projections text[] NOT NULL,
  application_roles text[] NOT NULL,
  freeze_lsn pg_lsn,
  offsets jsonb,
  reconciliation_ids bigint[],
  backup_ids bigint[],
  operator text NOT NULL,
  reason text,
  history jsonb NOT NULL DEFAULT '[]',
  planned_at timestamptz NOT NULL DEFAULT now(),
  frozen_at timestamptz,
  drained_at timestamptz,
  verified_at timestamptz,
  committed_at timestamptz,
  aborted_at timestamptz,
  freeze_window_ms bigint
);
-- failback after a committed cutover: src/modules/failback
CREATE TABLE IF NOT EXISTS tandem.failbacks (
  cutover_id bigint PRIMARY KEY REFERENCES tandem.cutovers (id),
  projections text[] NOT NULL,
  slot text NOT NULL,
  publication text NOT NULL,
  start_lsn pg_lsn NOT NULL,
  state text NOT NULL CHECK (state IN ('active', 'stopped', 'rolled-back')),
  operator text NOT NULL,
  started_at timestamptz NOT NULL DEFAULT now(),
  stopped_at timestamptz,
  rollback jsonb
);
-- each table setting failback changed on the target, to be restored when it ends (failback-target-capture.ts)
CREATE TABLE IF NOT EXISTS tandem.failback_table_changes (
  publication text NOT NULL,
  relid oid NOT NULL,
  setting text NOT NULL,
  applied text NOT NULL,
  previous text,
  PRIMARY KEY (publication, relid, setting)
);
CREATE TABLE IF NOT EXISTS tandem.checkpoint_snapshots (
  id bigserial PRIMARY KEY,
  projection text NOT NULL,
  offsets jsonb NOT NULL,
  commit_lsn bigint,
  reason text NOT NULL,
  taken_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS tandem.backups (
  id bigserial PRIMARY KEY,
  projection text NOT NULL,
  schema_name text NOT NULL,
  kind text NOT NULL CHECK (kind IN ('replay', 'cutover', 'restore')),
  checkpoint_snapshot_id bigint REFERENCES tandem.checkpoint_snapshots (id),
  operator text NOT NULL,
  note text,
  taken_at timestamptz NOT NULL DEFAULT now(),
  restored_at timestamptz
);
CREATE TABLE IF NOT EXISTS tandem.replays (
  id bigserial PRIMARY KEY,
  projection text NOT NULL,
  kind text NOT NULL CHECK (kind IN ('replay', 'rollback')),
  position text NOT NULL,
  offsets jsonb,
  status text NOT NULL CHECK (status IN ('running', 'swapped', 'dry-run', 'failed')),
  events_applied bigint,
  events_quarantined bigint,
  state_hash text,
  backup_id bigint,
  export_file text,
  events_exported bigint,
  operator text NOT NULL,
  reason text,
  started_at timestamptz NOT NULL DEFAULT now(),
  finished_at timestamptz
);
-- a mirror projection's tables and the columns its sources gained, in order: its migrations are rendered from them
CREATE TABLE IF NOT EXISTS tandem.mirror_steps (
  projection text NOT NULL,
  version int NOT NULL,
  kind text NOT NULL CHECK (kind IN ('table', 'column')),
  source_table text NOT NULL,
  spec jsonb NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (projection, version)
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
  await withTransaction(pool, async (client) => {
    await client.query("SELECT pg_advisory_xact_lock(hashtextextended('tandem.schema', 0))");
    await client.query(TANDEM_SCHEMA_SQL);
  });
}
