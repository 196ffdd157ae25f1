import type { ClientBase } from 'pg';
import { CHECKPOINTS_DDL, QUARANTINE_DDL } from '../postgres-target/tandem-schema';
import { withTransaction } from '../../shared/transaction';

/**
 * What failback keeps in the legacy database, schema "tandem": its checkpoints and quarantine
 * (the target's tables, under the name `failback.<projection>`), and per legacy row the target
 * commit LSN last written to it, which guards every write (legacy tables have no LSN column).
 */
const FAILBACK_SCHEMA_SQL = `
CREATE SCHEMA IF NOT EXISTS tandem;
${CHECKPOINTS_DDL}${QUARANTINE_DDL}CREATE TABLE IF NOT EXISTS tandem.failback_versions (
  projection text NOT NULL,
  legacy_table text NOT NULL,
  key jsonb NOT NULL,
  lsn bigint NOT NULL,
  PRIMARY KEY (projection, legacy_table, key)
);
`;

/** Creates failback's tables and its replication origin in the legacy database (idempotent). */
export async function ensureFailbackSchema(client: ClientBase, origin: string): Promise<void> {
  await withTransaction(client, async () => {
    await client.query("SELECT pg_advisory_xact_lock(hashtextextended('tandem.failback-schema', 0))");
    await client.query(FAILBACK_SCHEMA_SQL);
    await client.query(
      'SELECT pg_replication_origin_create($1) WHERE NOT EXISTS (SELECT 1 FROM pg_replication_origin WHERE roname = $1)',
      [origin],
    );
  });
}
