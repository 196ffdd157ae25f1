import { Client } from 'pg';
import type { SeededRandom as Rng } from '../../src/shared/seeded-random';

/**
 * The soak's legacy table: the `users` recipe's auth_users plus two columns of its own. `n` numbers
 * the rows so the load can pick one at random; `counter` rises by exactly one with every update of
 * a row, so a reader of the Kafka topic can prove it saw every change once and in order. Every
 * update also changes display_name (the projection's name), so a lost update shows in the target.
 */
export const USERS_DDL = `
  CREATE TABLE public.auth_users (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    n bigint NOT NULL UNIQUE,
    email text NOT NULL,
    display_name text,
    instance_name text,
    raw_user_meta_data jsonb,
    encrypted_password text,
    created_at timestamptz NOT NULL DEFAULT now(),
    counter int NOT NULL DEFAULT 0
  )`;

/** One in twenty rows carries a meta document large enough to be TOASTed (kept as is by updates that do not touch it). */
const rowValues = (from: string, to: string) => `
  SELECT g, 'user' || g || '@soak.example', CASE WHEN g % 7 = 0 THEN NULL ELSE 'v0' END,
         CASE WHEN g % 3 = 0 THEN 'tenant' || (g % 11) END,
         CASE WHEN g % 20 = 0
              THEN jsonb_build_object('n', g, 'blob', (SELECT string_agg(md5(g::text || ':' || i), '') FROM generate_series(1, 80) i))
              ELSE jsonb_build_object('n', g) END,
         'x', 0
    FROM generate_series(${from}, ${to}) g`;

export async function createUsersTable(client: Client, rows: number): Promise<void> {
  await client.query(USERS_DDL);
  await client.query(
    `INSERT INTO public.auth_users (n, email, display_name, instance_name, raw_user_meta_data, encrypted_password, counter) ${rowValues('1', String(rows))}`,
  );
}

export interface LoadCounts {
  transactions: number;
  updates: number;
  inserts: number;
  deletes: number;
  bulkUpdates: number;
  errors: number;
}

/**
 * A pgbench-style load: `clients` connections each running short transactions (updates of random
 * rows, inserts, deletes, now and then a bulk update of 500 rows) at `tps` transactions per second
 * in total, until stop(). A connection that breaks (the legacy server restarting) is opened again.
 */
export class UserWriteLoad {
  private running = true;
  private nextN: number;
  private readonly loops: Promise<void>[];
  readonly counts: LoadCounts = {
    transactions: 0,
    updates: 0,
    inserts: 0,
    deletes: 0,
    bulkUpdates: 0,
    errors: 0,
  };
  lastError: string | null = null;

  constructor(
    private readonly url: string,
    private readonly initialRows: number,
    private readonly rng: Rng,
    private readonly tps: number,
    clients: number,
  ) {
    this.nextN = initialRows + 1;
    this.loops = Array.from({ length: clients }, () => this.loop(clients));
  }

  private randomN(): number {
    return this.rng.int(1, this.nextN - 1);
  }

  private async loop(clients: number): Promise<void> {
    const pause = (1000 * clients) / this.tps;
    let client: Client | null = null;
    while (this.running) {
      const started = Date.now();
      try {
        if (!client) {
          client = new Client({ connectionString: this.url, application_name: 'soak-load' });
          client.on('error', () => undefined);
          await client.connect();
        }
        await this.transaction(client);
        this.counts.transactions += 1;
      } catch (error) {
        this.counts.errors += 1;
        this.lastError = (error as Error).message;
        await client?.end().catch(() => undefined);
        client = null;
        await new Promise((r) => setTimeout(r, 500));
      }
      const wait = pause - (Date.now() - started);
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    }
    await client?.end().catch(() => undefined);
  }

  private async transaction(client: Client): Promise<void> {
    const roll = this.rng.next();
    await client.query('BEGIN');
    try {
      if (roll < 0.6) {
        const rows = this.rng.int(1, 3);
        for (let i = 0; i < rows; i++) {
          const touchMeta = this.rng.next() < 0.05;
          await client.query(
            `UPDATE public.auth_users SET counter = counter + 1, display_name = 'v' || (counter + 1)
               ${touchMeta ? ", raw_user_meta_data = raw_user_meta_data || jsonb_build_object('touched', counter + 1)" : ''}
             WHERE n = $1`,
            [this.randomN()],
          );
        }
        this.counts.updates += rows;
      } else if (roll < 0.88) {
        const rows = this.rng.int(1, 3);
        const first = this.nextN;
        this.nextN += rows;
        await client.query(
          `INSERT INTO public.auth_users (n, email, display_name, instance_name, raw_user_meta_data, encrypted_password, counter) ${rowValues('$1::int', '$2::int')}`,
          [first, first + rows - 1],
        );
        this.counts.inserts += rows;
      } else if (roll < 0.995) {
        await client.query('DELETE FROM public.auth_users WHERE n = $1', [this.randomN()]);
        this.counts.deletes += 1;
      } else {
        const from = this.rng.int(1, Math.max(1, this.initialRows - 500));
        await client.query(
          `UPDATE public.auth_users SET counter = counter + 1, display_name = 'v' || (counter + 1) WHERE n BETWEEN $1 AND $1 + 499`,
          [from],
        );
        this.counts.bulkUpdates += 1;
      }
      await client.query('COMMIT');
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    }
  }

  async stop(): Promise<void> {
    this.running = false;
    await Promise.all(this.loops);
  }
}
