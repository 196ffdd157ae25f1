import { Client } from 'pg';
import { env } from './services';

/**
 * A continuous write load on a table (id int primary key, counter int): increments of random
 * rows' counters, inserts of new rows and a few deletes, until stop(). Each increment adds
 * exactly one, so a consumer can prove it saw every change once: per key the counter values
 * it reads must rise by exactly one each time.
 */
export class CounterWriteLoad {
  private running = true;
  private readonly done: Promise<void>;
  writes = 0;

  constructor(
    private readonly table: string,
    private nextId: number,
    private readonly maxExistingId: number,
  ) {
    this.done = this.loop();
  }

  private async loop(): Promise<void> {
    const client = new Client({ connectionString: env.sourceUrl() });
    await client.connect();
    try {
      while (this.running) {
        const roll = Math.random();
        await client.query('BEGIN');
        if (roll < 0.7) {
          const id = 1 + Math.floor(Math.random() * this.maxExistingId);
          await client.query(`UPDATE ${this.table} SET counter = counter + 1 WHERE id = $1`, [id]);
          await client.query(`UPDATE ${this.table} SET counter = counter + 1 WHERE id = $1`, [this.nextId - 1]);
        } else if (roll < 0.95) {
          await client.query(`INSERT INTO ${this.table} (id, counter) VALUES ($1, 0), ($2, 0)`, [this.nextId, this.nextId + 1]);
          this.nextId += 2;
        } else {
          const id = 1 + Math.floor(Math.random() * this.maxExistingId);
          await client.query(`DELETE FROM ${this.table} WHERE id = $1`, [id]);
        }
        await client.query('COMMIT');
        this.writes += 1;
      }
    } finally {
      await client.end();
    }
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.done;
  }
}

interface CounterEvent {
  key: { id: number };
  value: { op: string; after: { id: number; counter: number } | null };
}

/**
 * Folds events per key in their partition order and checks the exactly-once invariant.
 * Returns the rebuilt table (id -> counter) and every violation found.
 */
export function foldCounterEvents(events: CounterEvent[]): { state: Map<number, number>; violations: string[] } {
  const state = new Map<number, number>();
  const violations: string[] = [];
  for (const event of events) {
    const id = event.key.id;
    const { op, after } = event.value;
    if (op === 'd') {
      if (!state.has(id)) violations.push(`delete of ${id} which was never seen`);
      state.delete(id);
    } else if (op === 'r' || op === 'c') {
      if (state.has(id)) violations.push(`${op} of ${id} which already exists (counter ${state.get(id)}, new ${after!.counter})`);
      state.set(id, after!.counter);
    } else if (op === 'u') {
      const previous = state.get(id);
      if (previous === undefined) violations.push(`update of ${id} which was never seen`);
      else if (after!.counter !== previous + 1) violations.push(`update of ${id} from ${previous} to ${after!.counter}`);
      state.set(id, after!.counter);
    }
  }
  return { state, violations };
}
