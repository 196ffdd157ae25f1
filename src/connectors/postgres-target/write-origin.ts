import type { Pool, PoolClient } from 'pg';

/**
 * The replication origin that marks the projector's writes to the target: those rows came from the
 * legacy database, so failback capture must not carry them back there (README, "Failback": no
 * loops). A pool whose writes are marked is registered once (targetPool, when the configuration has
 * a `failback:` section); applyBatch then marks each of its transactions, whoever applies: the live
 * projector, a redrive, a replay.
 */
const origins = new WeakMap<Pool, (projection: string) => string>();
const created = new Set<string>();

export function markWritesOf(pool: Pool, originOf: (projection: string) => string): void {
  origins.set(pool, originOf);
}

export function writeOriginOf(pool: Pool, projection: string): string | null {
  return origins.get(pool)?.(projection) ?? null;
}

const OBJECT_IN_USE = '55006';
const UNIQUE_VIOLATION = '23505';

/**
 * Marks the session's next transactions with `origin` (created if missing). PostgreSQL 15 lets one
 * session at a time use an origin: another process applying the same projection (a redrive beside
 * the projector) holds it only for its transaction, so this waits for it, before any lock is taken.
 */
export async function setupWriteOrigin(client: PoolClient, origin: string): Promise<void> {
  if (!created.has(origin)) {
    try {
      await client.query('SELECT pg_replication_origin_create($1) WHERE NOT EXISTS (SELECT 1 FROM pg_replication_origin WHERE roname = $1)', [origin]);
    } catch (error) {
      if ((error as { code?: string }).code !== UNIQUE_VIOLATION) throw error; // created by another process meanwhile
    }
    created.add(origin);
  }
  for (let attempt = 1; ; attempt++) {
    try {
      await client.query('SELECT pg_replication_origin_session_setup($1)', [origin]);
      return;
    } catch (error) {
      if ((error as { code?: string }).code !== OBJECT_IN_USE || attempt >= 600) throw error;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}

/** Unmarks the session; false when that failed (the connection must then not be reused). */
export async function resetWriteOrigin(client: PoolClient): Promise<boolean> {
  try {
    await client.query('SELECT pg_replication_origin_session_reset()');
    return true;
  } catch {
    return false;
  }
}
