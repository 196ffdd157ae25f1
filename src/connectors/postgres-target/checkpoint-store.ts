import type { ClientBase, Pool } from 'pg';

export interface Checkpoint {
  topic: string;
  partition: number;
  /** The last applied offset. */
  offset: bigint;
  /** The highest commit LSN applied from this partition. */
  commitLsn: bigint | null;
}

export const partitionId = (topic: string, partition: number) => `${topic}#${partition}`;

export async function loadCheckpoints(pool: Pool | ClientBase, projection: string): Promise<Map<string, Checkpoint>> {
  const { rows } = await pool.query<{ topic: string; partition: number; offset: string; commit_lsn: string | null }>(
    'SELECT topic, partition, "offset"::text AS "offset", commit_lsn::text FROM tandem.checkpoints WHERE projection = $1',
    [projection],
  );
  return new Map(
    rows.map((row) => [
      partitionId(row.topic, row.partition),
      { topic: row.topic, partition: row.partition, offset: BigInt(row.offset), commitLsn: row.commit_lsn === null ? null : BigInt(row.commit_lsn) },
    ]),
  );
}

/** Written in the same transaction as the rows it covers. */
export async function saveCheckpoints(client: ClientBase, projection: string, checkpoints: Checkpoint[]): Promise<void> {
  if (checkpoints.length === 0) return;
  await client.query(
    `INSERT INTO tandem.checkpoints AS c (projection, topic, partition, "offset", commit_lsn)
     SELECT $1, topic, partition, "offset", commit_lsn
       FROM jsonb_to_recordset($2::jsonb) AS r(topic text, partition int, "offset" bigint, commit_lsn bigint)
     ON CONFLICT (projection, topic, partition) DO UPDATE
       SET "offset" = EXCLUDED."offset", commit_lsn = GREATEST(c.commit_lsn, EXCLUDED.commit_lsn), updated_at = now()`,
    [
      projection,
      JSON.stringify(
        checkpoints.map((c) => ({
          topic: c.topic,
          partition: c.partition,
          offset: c.offset.toString(),
          commit_lsn: c.commitLsn === null ? null : c.commitLsn.toString(),
        })),
      ),
    ],
  );
}

/** The projection's checkpoints become exactly `checkpoints` (a swapped-in schema was built to them). */
export async function replaceCheckpoints(client: ClientBase, projection: string, checkpoints: Checkpoint[]): Promise<void> {
  await forgetCheckpoints(client, projection);
  await saveCheckpoints(client, projection, checkpoints);
}

/** The projection reads every partition from its start again. */
export async function forgetCheckpoints(db: Pool | ClientBase, projection: string): Promise<void> {
  await db.query('DELETE FROM tandem.checkpoints WHERE projection = $1', [projection]);
}
