import type { ClientBase, Pool } from 'pg';

export interface QuarantineEntry {
  projection: string;
  topic: string;
  partition: number;
  offset: bigint;
  sourceKey: string | null;
  commitLsn: bigint | null;
  /** The raw event value as read from Kafka (parsed JSON when it parses, else the text). */
  event: unknown;
  reason: string;
  /** 'waiting': refused for a row it refers to that has not arrived yet; the projector retries it. */
  status?: 'quarantined' | 'waiting';
}

export interface QuarantinedEvent extends Omit<QuarantineEntry, 'status'> {
  id: number;
  status: 'quarantined' | 'redriven' | 'waiting';
  quarantinedAt: Date;
}

/** Written in the same transaction as the batch the event belonged to. */
export async function addToQuarantine(client: ClientBase, entry: QuarantineEntry): Promise<void> {
  await client.query(
    `INSERT INTO tandem.quarantine (projection, topic, partition, "offset", source_key, commit_lsn, event, reason, status)
     VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8, $9)
     ON CONFLICT (projection, topic, partition, "offset") DO UPDATE SET reason = EXCLUDED.reason, status = EXCLUDED.status`,
    [
      entry.projection,
      entry.topic,
      entry.partition,
      entry.offset.toString(),
      entry.sourceKey,
      entry.commitLsn === null ? null : entry.commitLsn.toString(),
      JSON.stringify(entry.event ?? null),
      entry.reason,
      entry.status ?? 'quarantined',
    ],
  );
}

/** The (topic, source key) pairs that have an event waiting: their later events wait behind it. */
export async function waitingKeys(client: ClientBase, projection: string): Promise<Set<string>> {
  const { rows } = await client.query<{ topic: string; source_key: string | null }>(
    `SELECT DISTINCT topic, source_key FROM tandem.quarantine WHERE projection = $1 AND status = 'waiting'`,
    [projection],
  );
  return new Set(rows.map((row) => waitingKey(row.topic, row.source_key)));
}

export const waitingKey = (topic: string, key: string | null) => `${topic}\u0000${key ?? ''}`;

/** A waiting event that waited too long becomes an ordinary quarantined one, with the reason. */
/** A waiting event becomes an ordinary quarantined one, with its reason and the event as quarantine may keep it. */
export async function stopWaiting(client: ClientBase | Pool, id: number, reason: string, event: unknown): Promise<void> {
  await client.query(`UPDATE tandem.quarantine SET status = 'quarantined', reason = $2, event = $3::jsonb WHERE id = $1`, [
    id,
    reason,
    JSON.stringify(event ?? null),
  ]);
}

export async function listQuarantine(pool: Pool, projection: string | null, status: 'quarantined' | 'redriven' | 'waiting' | null = 'quarantined'): Promise<QuarantinedEvent[]> {
  const { rows } = await pool.query(
    `SELECT id, projection, topic, partition, "offset"::text AS "offset", source_key, commit_lsn::text AS commit_lsn, event, reason, status, quarantined_at
       FROM tandem.quarantine
      WHERE ($1::text IS NULL OR projection = $1) AND ($2::text IS NULL OR status = $2)
      ORDER BY id`,
    [projection, status],
  );
  return rows.map((row) => ({ ...summaryOf(row), event: row.event }));
}

/** A quarantined event without its payload: what a listing shows. */
export type QuarantineSummary = Omit<QuarantinedEvent, 'event'>;

/** A projection's waiting events, oldest first, without their payloads (eventsOf reads those it needs). */
export async function listWaiting(pool: Pool, projection: string): Promise<QuarantineSummary[]> {
  const { rows } = await pool.query(
    `SELECT id, projection, topic, partition, "offset"::text AS "offset", source_key, commit_lsn::text AS commit_lsn, reason, status, quarantined_at
       FROM tandem.quarantine
      WHERE projection = $1 AND status = 'waiting'
      ORDER BY id`,
    [projection],
  );
  return rows.map(summaryOf);
}

/** The stored events (jsonb) of these quarantine entries, by id. */
export async function eventsOf(pool: Pool, ids: number[]): Promise<Map<number, unknown>> {
  if (ids.length === 0) return new Map();
  const { rows } = await pool.query(`SELECT id, event FROM tandem.quarantine WHERE id = ANY($1::bigint[])`, [ids]);
  return new Map(rows.map((row) => [Number(row.id), row.event]));
}

/** One page of the quarantine, in id order after `afterId`; the event payload (jsonb) is not read. */
export async function pageQuarantine(
  pool: Pool,
  query: { projection: string | null; status: 'quarantined' | null; afterId: number; limit: number },
): Promise<QuarantineSummary[]> {
  const { rows } = await pool.query(
    `SELECT id, projection, topic, partition, "offset"::text AS "offset", source_key, commit_lsn::text AS commit_lsn, reason, status, quarantined_at
       FROM tandem.quarantine
      WHERE ($1::text IS NULL OR projection = $1) AND ($2::text IS NULL OR status = $2) AND id > $3
      ORDER BY id
      LIMIT $4`,
    [query.projection, query.status, query.afterId, query.limit],
  );
  return rows.map(summaryOf);
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- a pg result row
function summaryOf(row: any): QuarantineSummary {
  return {
    id: Number(row.id),
    projection: row.projection,
    topic: row.topic,
    partition: row.partition,
    offset: BigInt(row.offset),
    sourceKey: row.source_key,
    commitLsn: row.commit_lsn === null ? null : BigInt(row.commit_lsn),
    reason: row.reason,
    status: row.status,
    quarantinedAt: row.quarantined_at,
  };
}

export async function markRedriven(client: ClientBase, id: number | number[]): Promise<void> {
  await client.query(`UPDATE tandem.quarantine SET status = 'redriven', redriven_at = now() WHERE id = ANY($1::bigint[])`, [[id].flat()]);
}

/** Every quarantined event of the projection, whatever its status, is gone (a projection reset). */
export async function forgetQuarantine(db: Pool | ClientBase, projection: string): Promise<void> {
  await db.query('DELETE FROM tandem.quarantine WHERE projection = $1', [projection]);
}
