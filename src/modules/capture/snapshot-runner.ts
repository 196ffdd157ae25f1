import type { Client } from 'pg';
import { connectSource } from '../../connectors/postgres-source/session';
import {
  createSlotWithSnapshot,
  type ExportedSnapshot,
} from '../../connectors/postgres-source/replication-slot';
import { inSnapshot, planChunks, readRange } from '../../connectors/postgres-source/snapshot-reader';
import { tableName, type SourceTable } from '../../connectors/postgres-source/source-catalog';
import { keyOf, tupleToRow } from '../../connectors/postgres-source/change-event';
import { changeEvent, sourceInfo } from '../../contracts/envelope';
import { tableTopic } from '../../contracts/names';
import type { ProducedRecord } from '../../contracts/positions';
import type { TypeRegistry } from '../../connectors/postgres-source/pg-types';
import type { Lsn } from '../../shared/lsn';
import { createProgress } from '../../shared/progress';
import { pruneSnapshot, type CaptureState, type SnapshotChunk } from './capture-state';
import type { CaptureContext } from './capture-context';

interface PendingChunk {
  table: SourceTable;
  index: number;
}

/**
 * The initial snapshot, read in parallel key-range chunks inside an exported snapshot. Each chunk's
 * events and its "done" mark are committed in one Kafka transaction, so a crash resumes from the
 * last finished chunk. A resumed run reads the remaining chunks in a new exported snapshot (of a
 * temporary slot) and records its consistent point on each chunk; streaming then skips the changes
 * those chunks already contain (see ChangeStreamProcessor.seenBySnapshot).
 */
export class SnapshotRunner {
  constructor(
    private readonly context: CaptureContext,
    private readonly tables: SourceTable[],
    private readonly types: TypeRegistry,
    private readonly signal: { stopped: boolean },
  ) {}

  /** Creates the slot, plans the chunks and reads them all. */
  async runFresh(): Promise<void> {
    const { config } = this.context;
    const exported = await createSlotWithSnapshot(config.source.url, config.source.slot, false);
    try {
      const planner = await connectSource(config.source.url);
      let state: CaptureState;
      try {
        const tables: NonNullable<CaptureState['snapshot']>['tables'] = {};
        await inSnapshot(planner, exported.snapshotName, async () => {
          for (const table of this.tables) {
            const { ranges } = await planChunks(planner, table, config.source.snapshot.chunkSize);
            tables[tableName(table)] = {
              keyColumns: table.keyColumns,
              keyKinds: table.keyKinds ?? [],
              chunks: ranges.map((range) => ({ ...range, doneAtLsn: null })),
            };
          }
        });
        state = {
          slot: config.source.slot,
          stream: { lastCommitLsn: null, partial: null, ackLsn: null },
          snapshot: { status: 'running', consistentLsn: exported.consistentLsn, tables },
          backfills: [],
          capturedTables: this.tables.map(tableName),
        };
      } finally {
        await planner.end();
      }
      await this.context.commit([], state);
      this.context.logger.info(
        { consistentLsn: exported.consistentLsn.toString(), tables: this.tables.map(tableName) },
        'snapshot planned; reading chunks',
      );
      await this.readPending(exported);
    } finally {
      await exported.close();
    }
  }

  /** Reads the chunks a previous run did not finish, in a new exported snapshot. */
  async resume(): Promise<void> {
    const { config } = this.context;
    const exported = await createSlotWithSnapshot(
      config.source.url,
      `${config.source.slot}_resume_${process.pid}`,
      true,
    );
    try {
      this.context.logger.info(
        { snapshotLsn: exported.consistentLsn.toString() },
        'resuming the snapshot from its last finished chunk',
      );
      await this.readPending(exported);
    } finally {
      await exported.close();
    }
  }

  private pendingChunks(): PendingChunk[] {
    const snapshot = this.context.state.snapshot!;
    const pending: PendingChunk[] = [];
    for (const table of this.tables) {
      const chunks = snapshot.tables[tableName(table)]?.chunks ?? [];
      chunks.forEach((chunk, index) => {
        if (chunk.doneAtLsn === null) pending.push({ table, index });
      });
    }
    return pending;
  }

  private async readPending(exported: ExportedSnapshot): Promise<void> {
    const { config, logger } = this.context;
    const pending = this.pendingChunks();
    const estimate = pending.length * config.source.snapshot.chunkSize;
    const progress = createProgress('snapshot', estimate, logger);
    let committing = Promise.resolve();
    const workers = Array.from(
      { length: Math.min(config.source.snapshot.parallelism, pending.length) },
      async () => {
        const client = await connectSource(config.source.url);
        try {
          await inSnapshot(client, exported.snapshotName, async () => {
            for (let next = pending.shift(); next && !this.signal.stopped; next = pending.shift()) {
              const records = await this.readChunk(client, next, exported.consistentLsn);
              // Chunks are read in parallel but committed one at a time: each commit writes the whole state.
              const commit = committing.then(() => this.commitChunk(next!, records, exported.consistentLsn));
              committing = commit.catch(() => undefined);
              await commit;
              progress.increment(records.length);
            }
          });
        } finally {
          await client.end();
        }
      },
    );
    await Promise.all(workers);
    progress.stop();
    if (this.signal.stopped) return;
    const state = this.context.state;
    await this.context.commit(
      [],
      pruneSnapshot({ ...state, snapshot: { ...state.snapshot!, status: 'done' } }),
    );
    logger.info('snapshot complete; streaming from the slot');
  }

  private async readChunk(
    client: Client,
    { table, index }: PendingChunk,
    snapshotLsn: Lsn,
  ): Promise<ProducedRecord[]> {
    const { config } = this.context;
    const range = this.context.state.snapshot!.tables[tableName(table)].chunks[index];
    const columns = table.columns.map((column) => ({
      name: column.name,
      typeOid: column.typeOid,
      typeMod: -1,
      isKey: false,
    }));
    const topic = tableTopic(config.kafka.topicPrefix, table.schema, table.table);
    const database = new URL(config.source.url).pathname.slice(1);
    const records: ProducedRecord[] = [];
    const now = Date.now();
    const source = sourceInfo({
      serverName: config.kafka.topicPrefix,
      database,
      schema: table.schema,
      table: table.table,
      snapshot: true,
      commitTimeMicros: now * 1000,
      txId: null,
      lsn: snapshotLsn,
      commitLsn: snapshotLsn,
      previousCommitLsn: null,
    });
    const rules = this.context.columns.of(table.schema, table.table);
    for await (const rows of readRange(client, table, range, 1000)) {
      for (const tuple of rows) {
        const row = tupleToRow(columns, tuple, this.types, rules);
        records.push({
          topic,
          key: keyOf(table.keyColumns, row),
          value: JSON.stringify(changeEvent('r', null, row, source, null, now)),
        });
      }
    }
    return records;
  }

  private async commitChunk(
    { table, index }: PendingChunk,
    records: ProducedRecord[],
    snapshotLsn: Lsn,
  ): Promise<void> {
    const state = this.context.state;
    const name = tableName(table);
    const tableState = state.snapshot!.tables[name];
    const chunks: SnapshotChunk[] = tableState.chunks.map((chunk, i) =>
      i === index ? { ...chunk, doneAtLsn: snapshotLsn } : chunk,
    );
    await this.context.commit(records, {
      ...state,
      snapshot: {
        ...state.snapshot!,
        tables: { ...state.snapshot!.tables, [name]: { ...tableState, chunks } },
      },
    });
  }
}
