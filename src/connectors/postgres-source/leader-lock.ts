import type { ClientBase } from 'pg';

/**
 * One capture per slot: a session-level advisory lock on the source elects the leader. The lock is
 * released by PostgreSQL when the leader's connection ends, including after kill -9.
 */
export class LeaderLock {
  constructor(
    private readonly client: ClientBase,
    private readonly name: string,
  ) {}

  async tryAcquire(): Promise<boolean> {
    const { rows } = await this.client.query<{ locked: boolean }>(
      'SELECT pg_try_advisory_lock(hashtextextended($1, 0)) AS locked',
      [`tandem.capture:${this.name}`],
    );
    return rows[0].locked;
  }

  /** Waits as a standby until the lock is free; polls every `intervalMs`. */
  async acquire(intervalMs: number, onWaiting: () => void, signal: { stopped: boolean }): Promise<boolean> {
    let announced = false;
    while (!signal.stopped) {
      if (await this.tryAcquire()) return true;
      if (!announced) {
        onWaiting();
        announced = true;
      }
      await new Promise((resolve) => setTimeout(resolve, intervalMs));
    }
    return false;
  }
}

/**
 * Whether a capture leads `name`'s slot right now: the lock is taken for an instant and given back
 * when it was free (a capture starting in that instant waits one poll as standby).
 */
export async function captureIsRunning(client: ClientBase, name: string): Promise<boolean> {
  const lock = new LeaderLock(client, name);
  if (!(await lock.tryAcquire())) return true;
  await client.query('SELECT pg_advisory_unlock(hashtextextended($1, 0))', [`tandem.capture:${name}`]);
  return false;
}
