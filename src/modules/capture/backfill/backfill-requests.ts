import { randomUUID } from 'crypto';
import type { ClientBase, Pool } from 'pg';
import type { TandemConfig } from '../../config/config.schema';
import { ConfigError, NoCaptureRunningError } from '../../../shared/errors';
import { connectSource } from '../../../connectors/postgres-source/session';
import { captureIsRunning } from '../../../connectors/postgres-source/leader-lock';
import { describeTables } from '../../../connectors/postgres-source/source-catalog';
import { TypeRegistry } from '../../../connectors/postgres-source/pg-types';
import { checkCondition } from '../../../connectors/postgres-source/chunk-reader';
import { readBackfillRequests, signalTableExists, writeSignal } from '../../../connectors/postgres-source/signal-table';


export interface BackfillListing {
  id: string;
  table: string;
  where: string | null;
  origin: string;
  status: string;
  rowsRead: number;
  rowsEmitted: number;
  chunksDone: number;
  /** null until the first chunk counted the rows. */
  chunksLeft: number | null;
  rowsPerSecond: number | null;
  requestedAt: string;
  error: string | null;
}

/** What `tandem backfill` does: checks a request and hands it to the running capture through the signal table. */
export class BackfillRequests {
  private constructor(
    private readonly config: TandemConfig,
    /** One session: whether a capture runs is asked by taking and giving back its lock. */
    private readonly client: ClientBase,
    private readonly done: () => Promise<void>,
  ) {}

  /** On a session of the process's source pool (`source`), else on a session of its own. */
  static async open(config: TandemConfig, source?: Pool): Promise<BackfillRequests> {
    if (source) {
      const client = await source.connect();
      return new BackfillRequests(config, client, async () => client.release());
    }
    const client = await connectSource(config.source.url, { application_name: 'tandem-backfill-command' });
    return new BackfillRequests(config, client, () => client.end().catch(() => undefined));
  }

  async close(): Promise<void> {
    await this.done();
  }

  async request(table: string, where: string | null, chunkSize: number | null): Promise<string> {
    const { source } = this.config;
    if (!source.tables.includes(table)) {
      throw new ConfigError(`--table ${table}: not in source.tables of the configuration; add it there and restart capture (a table added there is backfilled on start)`);
    }
    if (chunkSize !== null && (!Number.isInteger(chunkSize) || chunkSize < 1)) throw new ConfigError('--chunk-size: must be a whole number ≥ 1');
    const [described] = await describeTables(this.client, [table], new TypeRegistry());
    if (described.keyColumns.length === 0) {
      throw new ConfigError(`--table ${table}: has no primary key; a backfill reads and windows rows by primary key`);
    }
    if (where !== null) await checkCondition(this.client, described, where);
    await this.requireCapture();
    const id = randomUUID();
    await writeSignal(this.client, source.signalTable, {
      id,
      type: 'backfill',
      data: { slot: source.slot, table, where, chunkSize: chunkSize ?? source.snapshot.chunkSize, origin: 'command' },
    });
    return id;
  }

  async cancel(id: string): Promise<void> {
    const known = await this.list();
    if (!known.some((b) => b.id === id)) throw new ConfigError(`--cancel ${id}: no backfill with this id (tandem backfill --list shows them)`);
    await this.requireCapture();
    await writeSignal(this.client, this.config.source.signalTable, {
      id: `${id}:cancel:${randomUUID()}`,
      type: 'backfill-cancel',
      data: { slot: this.config.source.slot, backfill: id },
    });
  }

  async list(): Promise<BackfillListing[]> {
    const { source } = this.config;
    if (!(await signalTableExists(this.client, source.signalTable))) return [];
    return (await readBackfillRequests(this.client, source.signalTable, source.slot)).map((row) => listing(row.id, row.data, row.progress, row.createdAt));
  }

  private async requireCapture(): Promise<void> {
    if (!(await captureIsRunning(this.client, this.config.source.slot))) {
      throw new NoCaptureRunningError(
        `no capture is running for slot "${this.config.source.slot}": a backfill is read by the running capture. Start \`tandem capture --config …\` first.`,
      );
    }
  }
}

/** One request and the progress capture reported for it (informative; capture's own record is in Kafka). */
export function listing(id: string, data: Record<string, unknown>, progress: Record<string, unknown> | null, createdAt: Date): BackfillListing {
  const p = progress ?? {};
  const num = (value: unknown) => (typeof value === 'number' ? value : 0);
  const rowsRead = num(p.rowsRead);
  const chunkSize = num(p.chunkSize) || num(data.chunkSize) || 1;
  const estimated = typeof p.estimatedRows === 'number' ? p.estimatedRows : null;
  const status = typeof p.status === 'string' ? p.status : 'requested';
  const active = status === 'queued' || status === 'running' || status === 'requested';
  const elapsedMs = typeof p.startedAtMs === 'number' && typeof p.updatedAtMs === 'number' ? p.updatedAtMs - p.startedAtMs : 0;
  return {
    id,
    table: String(data.table),
    where: typeof data.where === 'string' ? data.where : null,
    origin: String(data.origin ?? 'command'),
    status,
    rowsRead,
    rowsEmitted: num(p.rowsEmitted),
    chunksDone: num(p.chunksDone),
    chunksLeft: !active ? 0 : estimated === null ? null : Math.max(0, Math.ceil((estimated - rowsRead) / chunkSize)),
    rowsPerSecond: elapsedMs > 0 ? Math.round((rowsRead * 1000) / elapsedMs) : null,
    requestedAt: createdAt.toISOString(),
    error: typeof p.error === 'string' ? p.error : null,
  };
}
