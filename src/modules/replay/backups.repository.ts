import type { ClientBase, Pool } from 'pg';
import { loadCheckpoints, partitionId, type Checkpoint } from '../../connectors/postgres-target/checkpoint-store';

/** tandem.backups and tandem.checkpoint_snapshots: written only here. */
export interface BackupRecord {
  id: number;
  projection: string;
  schemaName: string;
  kind: string;
  operator: string;
  note: string | null;
  takenAt: string;
  restoredAt: string | null;
  present: boolean;
}

export interface NewBackup {
  id: number;
  projection: string;
  schemaName: string;
  kind: 'replay' | 'restore' | 'cutover';
  checkpointSnapshotId: number;
  operator: string;
  note: string;
}

type CheckpointJson = { topic: string; partition: number; offset: string; commit_lsn: string | null };

export const checkpointsToJson = (checkpoints: Iterable<Checkpoint>): CheckpointJson[] =>
  [...checkpoints].map((c) => ({ topic: c.topic, partition: c.partition, offset: c.offset.toString(), commit_lsn: c.commitLsn?.toString() ?? null }));

export function checkpointsFromJson(json: CheckpointJson[]): Checkpoint[] {
  return json.map((c) => ({ topic: c.topic, partition: c.partition, offset: BigInt(c.offset), commitLsn: c.commit_lsn === null ? null : BigInt(c.commit_lsn) }));
}

/** A backup id taken before its schema exists (the schema is named after it). */
export async function nextBackupId(db: Pool | ClientBase): Promise<number> {
  const { rows } = await db.query<{ id: string }>(`SELECT nextval(pg_get_serial_sequence('tandem.backups', 'id'))::text AS id`);
  return Number(rows[0].id);
}

export async function insertBackup(db: Pool | ClientBase, backup: NewBackup): Promise<void> {
  await db.query(
    `INSERT INTO tandem.backups (id, projection, schema_name, kind, checkpoint_snapshot_id, operator, note) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
    [backup.id, backup.projection, backup.schemaName, backup.kind, backup.checkpointSnapshotId, backup.operator, backup.note],
  );
}

export async function listBackups(pool: Pool, projection?: string): Promise<BackupRecord[]> {
  const { rows } = await pool.query(
    `SELECT b.*, n.oid IS NOT NULL AS present FROM tandem.backups b LEFT JOIN pg_namespace n ON n.nspname = b.schema_name
      WHERE $1::text IS NULL OR b.projection = $1 ORDER BY b.id`,
    [projection ?? null],
  );
  return rows.map((r) => ({
    id: Number(r.id),
    projection: r.projection,
    schemaName: r.schema_name,
    kind: r.kind,
    operator: r.operator,
    note: r.note,
    takenAt: (r.taken_at as Date).toISOString(),
    restoredAt: r.restored_at ? (r.restored_at as Date).toISOString() : null,
    present: r.present,
  }));
}

/** The checkpoints a backup was at (null: none recorded). */
export async function backupCheckpoints(pool: Pool, backupId: number): Promise<Checkpoint[] | null> {
  const { rows } = await pool.query(
    'SELECT s.offsets FROM tandem.backups b JOIN tandem.checkpoint_snapshots s ON s.id = b.checkpoint_snapshot_id WHERE b.id = $1',
    [backupId],
  );
  return rows.length === 0 ? null : checkpointsFromJson(rows[0].offsets);
}

export async function markRestored(pool: Pool, backupId: number): Promise<void> {
  await pool.query('UPDATE tandem.backups SET restored_at = now() WHERE id = $1', [backupId]);
}

/** Records a projection's current checkpoints (a position `checkpoint:ID` can name). */
export async function snapshotCheckpoints(db: Pool | ClientBase, projection: string, reason: string): Promise<number> {
  const checkpoints = [...(await loadCheckpoints(db, projection)).values()];
  const commitLsn = checkpoints.reduce<bigint | null>((max, c) => (c.commitLsn !== null && (max === null || c.commitLsn > max) ? c.commitLsn : max), null);
  const { rows } = await db.query<{ id: string }>(
    'INSERT INTO tandem.checkpoint_snapshots (projection, offsets, commit_lsn, reason) VALUES ($1, $2, $3, $4) RETURNING id',
    [projection, JSON.stringify(checkpointsToJson(checkpoints)), commitLsn?.toString() ?? null, reason],
  );
  return Number(rows[0].id);
}

/** A checkpoint snapshot's projection and offsets per partition (null: no such snapshot). */
export async function readCheckpointSnapshot(pool: Pool, id: number): Promise<{ projection: string; offsets: Map<string, bigint> } | null> {
  const { rows } = await pool.query<{ projection: string; offsets: CheckpointJson[] }>(
    'SELECT projection, offsets FROM tandem.checkpoint_snapshots WHERE id = $1',
    [id],
  );
  if (rows.length === 0) return null;
  return {
    projection: rows[0].projection,
    offsets: new Map(rows[0].offsets.map((c) => [partitionId(c.topic, c.partition), BigInt(c.offset)])),
  };
}
