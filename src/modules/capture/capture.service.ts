import type { Client } from 'pg';
import type { Kafka } from 'kafkajs';
import type { TandemConfig } from '../config/config.schema';
import type { Logger } from '../../shared/logger';
import { CaptureStateError } from '../../shared/errors';
import { formatLsn } from '../../shared/lsn';
import { connectSource } from '../../connectors/postgres-source/session';
import { checkSourcePreconditions, describeTables, ensurePublication, tableName, type SourceTable } from '../../connectors/postgres-source/source-catalog';
import { readSlot } from '../../connectors/postgres-source/replication-slot';
import { createSlotWithSnapshot } from '../../connectors/postgres-source/replication-slot';
import { LeaderLock } from '../../connectors/postgres-source/leader-lock';
import { TypeRegistry } from '../../connectors/postgres-source/pg-types';
import { tableTopic, transactionTopic } from '../../contracts/names';
import { createKafka } from '../../connectors/kafka/kafka-client';
import { CHANGE_TOPIC_CONFIG, COMPACTED_TOPIC_CONFIG, ensureTopics, probeKafka } from '../../connectors/kafka/topic-admin';
import type { RecordCommitter } from '../../connectors/kafka/transactional-producer';
import { ThreadedTransactionalProducer } from '../../connectors/kafka/producer-thread';
import { readPositionRecord } from '../../connectors/kafka/position-reader';
import { deserializeState, type CaptureState } from './capture-state';
import { columnPolicyOf } from '../config/column-policy';
import { CaptureContext, captureNamesOf } from './capture-context';
import { resumePointCipherOf, type ResumePointCipher } from './resume-point-cipher';
import { SnapshotRunner } from './snapshot-runner';
import { StreamRunner } from './stream-runner';
import { BackfillTracker } from './backfill/backfill-tracker';
import { BackfillWorker } from './backfill/backfill-worker';
import { prepareSignalTable, requestNewTables, tablesToBackfill, withCapturedTables } from './backfill/backfill-setup';

export interface CaptureOptions {
  /** Ignore the stored state and the slot, and start again with a new snapshot. */
  resnapshot?: boolean;
  /**
   * A slot that exists without a stored position was created for this capture ahead of time
   * (failback's, inside the cutover commit): stream from where the slot starts.
   */
  adoptSlot?: boolean;
}

export interface CaptureStatus {
  role: 'starting' | 'standby' | 'snapshot' | 'streaming' | 'stopped';
  slot: string;
  durableLsn: string | null;
  eventsProduced: number;
  retainedWalBytes: number | null;
}

/**
 * Capture: one leader per slot (advisory lock), an initial snapshot that resumes by chunk, then the
 * slot's stream, every event produced exactly once into Kafka (see README, "Delivery").
 */
export interface CapturePlan {
  slot: { name: string; exists: boolean; confirmedFlushLsn: string | null };
  publication: { name: string; exists: boolean };
  kafka: { brokers: number };
  tables: Array<{ table: string; topic: string; keyColumns: string[]; replicaIdentity: string; columns: number }>;
  snapshot: string;
}

export class CaptureService {
  private readonly signal = { stopped: false };
  private stream: StreamRunner | null = null;
  private readonly statusValue: CaptureStatus;

  constructor(
    private readonly config: TandemConfig,
    private readonly logger: Logger,
  ) {
    this.statusValue = { role: 'starting', slot: config.source.slot, durableLsn: null, eventsProduced: 0, retainedWalBytes: null };
  }

  status(): CaptureStatus {
    if (this.stream) {
      const durable = this.stream.status.durableLsn;
      this.statusValue.durableLsn = durable === null ? null : formatLsn(durable);
      this.statusValue.eventsProduced = this.stream.status.eventsProduced;
    }
    return { ...this.statusValue };
  }

  /**
   * What `capture --dry-run` reports: the source checks capture runs at start-up (a failure throws the
   * same SourcePreconditionError, exit 3) and what it would create, without creating anything.
   */
  async check(): Promise<CapturePlan> {
    const { config } = this;
    const client = await connectSource(config.source.url, { application_name: 'tandem-capture-check' });
    try {
      await checkSourcePreconditions(client);
      const tables = await describeTables(client, config.source.tables, new TypeRegistry());
      columnPolicyOf(config, process.env, keyColumnsByTable(tables)); // source.columns and its key, checked as capture would
      const slot = await readSlot(client, config.source.slot);
      const publication = await client.query('SELECT 1 FROM pg_publication WHERE pubname = $1', [config.source.publication]);
      const kafka = await probeKafka(createKafka(config.kafka, config.kafka.clientId, this.logger, 2), config.kafka.brokers);
      return {
        kafka,
        slot: { name: config.source.slot, exists: slot.exists, confirmedFlushLsn: slot.confirmedFlushLsn === null ? null : formatLsn(slot.confirmedFlushLsn) },
        publication: { name: config.source.publication, exists: (publication.rowCount ?? 0) > 0 },
        tables: tables.map((t) => ({
          table: tableName(t),
          topic: tableTopic(config.kafka.topicPrefix, t.schema, t.table),
          keyColumns: t.keyColumns,
          replicaIdentity: t.replicaIdentity,
          columns: t.columns.length,
        })),
        snapshot: slot.exists ? 'resume from the stored position' : config.source.snapshot.mode === 'initial' ? 'initial snapshot of every table' : 'none (mode never)',
      };
    } finally {
      await client.end().catch(() => undefined);
    }
  }

  /** Runs until stop() or a failure. */
  async run(options: CaptureOptions = {}): Promise<void> {
    const { config, logger } = this;
    const lockClient = await connectSource(config.source.url, { application_name: 'tandem-capture-lock' });
    let producer: RecordCommitter | null = null;
    let statusTimer: NodeJS.Timeout | null = null;
    try {
      await checkSourcePreconditions(lockClient);
      const types = new TypeRegistry();
      const tables = await describeTables(lockClient, config.source.tables, types);
      const columns = columnPolicyOf(config, process.env, keyColumnsByTable(tables));

      const lock = new LeaderLock(lockClient, `${config.source.slot}`);
      this.statusValue.role = 'standby';
      const leader = await lock.acquire(500, () => logger.info({ slot: config.source.slot }, 'another capture leads this slot; waiting as standby'), this.signal);
      if (!leader) return;
      logger.info({ slot: config.source.slot }, 'leading capture for this slot');

      const signalTable = await prepareSignalTable(lockClient, config, types, logger);
      await ensurePublication(lockClient, config.source.publication, signalTable ? [...tables, signalTable] : tables);
      const kafka = createKafka(config.kafka, config.kafka.clientId, logger);
      await this.ensureCaptureTopics(kafka, tables);
      const names = captureNamesOf(config);
      producer = new ThreadedTransactionalProducer(
        { connection: config.kafka, clientId: config.kafka.clientId, transactionalId: names.transactionalId },
        logger,
      );
      await producer.connect();

      const resumePoints = resumePointCipherOf(columns, tables, config.source.maskKeyEnv);
      const state = await this.prepareState(lockClient, kafka, options, resumePoints);
      const context = new CaptureContext(
        config,
        kafka,
        producer,
        logger,
        withCapturedTables(state ?? emptyState(config.source.slot), tables),
        columns,
        resumePoints,
      );
      const added = state ? tablesToBackfill(config, context.state) : [];

      statusTimer = setInterval(() => void this.reportSlot(lockClient), config.capture.statusIntervalMs);
      if (!state) {
        if (config.source.snapshot.mode === 'initial') {
          this.statusValue.role = 'snapshot';
          await new SnapshotRunner(context, tables, types, this.signal).runFresh();
        } else {
          const exported = await createSlotWithSnapshot(config.source.url, config.source.slot, false);
          await exported.close();
          await context.commit([], { ...context.state, stream: { ...context.state.stream, ackLsn: exported.consistentLsn } });
        }
      } else if (state.snapshot?.status === 'running') {
        this.statusValue.role = 'snapshot';
        await new SnapshotRunner(context, tables, types, this.signal).resume();
      }
      if (this.signal.stopped) return;

      await this.waitForSlotRelease(lockClient);
      if (signalTable) await requestNewTables(lockClient, config, added, logger);
      else if (added.length > 0) logger.warn({ tables: added }, 'tables added to source.tables stream their changes but are not backfilled (no signal table)');
      if (this.signal.stopped) return; // stop() came before there was a stream to stop
      this.statusValue.role = 'streaming';
      const tracker = new BackfillTracker(
        {
          slot: config.source.slot,
          signalTable: config.source.signalTable,
          topicPrefix: config.kafka.topicPrefix,
          database: new URL(config.source.url).pathname.slice(1),
          keyColumns: keyColumnsByTable(tables),
          now: Date.now,
        },
        { backfills: context.state.backfills, capturedTables: context.state.capturedTables ?? [] },
      );
      this.stream = new StreamRunner(context, types, keyColumnsByTable(tables), tracker);
      const workerStop = { stopped: false };
      const worker = !signalTable ? Promise.resolve() : new BackfillWorker(
        { url: config.source.url, slot: config.source.slot, signalTable: config.source.signalTable, tables: new Map(tables.map((t) => [tableName(t), t])), types, columns: context.columns, logger },
        tracker,
        workerStop,
      ).run();
      logger.info({ from: context.state.stream.ackLsn?.toString() ?? 'slot start' }, 'streaming changes');
      try {
        await this.stream.run();
      } finally {
        workerStop.stopped = true;
        await worker.catch((error: Error) => logger.warn({ err: error }, 'backfill worker stopped with an error'));
      }
    } finally {
      this.statusValue.role = 'stopped';
      if (statusTimer) clearInterval(statusTimer);
      await producer?.disconnect().catch(() => undefined);
      await lockClient.end().catch(() => undefined);
    }
  }

  /** Flushes, acknowledges and ends the stream; run() then returns. */
  async stop(): Promise<void> {
    this.signal.stopped = true;
    await this.stream?.stop();
  }

  private async ensureCaptureTopics(kafka: Kafka, tables: SourceTable[]): Promise<void> {
    const { topicPrefix, partitions, replicationFactor } = this.config.kafka;
    const names = captureNamesOf(this.config);
    await ensureTopics(
      kafka,
      [
        ...tables.map((t) => ({ topic: tableTopic(topicPrefix, t.schema, t.table), partitions, config: CHANGE_TOPIC_CONFIG })),
        { topic: transactionTopic(topicPrefix), partitions: 1, config: CHANGE_TOPIC_CONFIG },
        { topic: names.stateTopic, partitions: 1, config: COMPACTED_TOPIC_CONFIG },
        { topic: names.heartbeatTopic, partitions: 1, config: COMPACTED_TOPIC_CONFIG },
      ],
      replicationFactor,
    );
  }

  /** The stored state, checked against the slot; null when capture starts from nothing. */
  private async prepareState(client: Client, kafka: Kafka, options: CaptureOptions, resumePoints: ResumePointCipher): Promise<CaptureState | null> {
    const { slot } = this.config.source;
    const names = captureNamesOf(this.config);
    const slotInfo = await readSlot(client, slot);
    if (options.resnapshot) {
      if (slotInfo.exists) await client.query('SELECT pg_drop_replication_slot($1)', [slot]);
      this.logger.warn({ slot }, 're-snapshot requested: the slot was dropped and every table is read again');
      return null;
    }
    const stored = await readPositionRecord(kafka, names.stateTopic, names.stateGroup);
    const state = stored === null ? null : deserializeState(stored, resumePoints);
    if (state && !slotInfo.exists) {
      throw new CaptureStateError(
        `replication slot "${slot}" no longer exists, but capture had streamed from it up to ${state.stream.lastCommitLsn?.toString() ?? 'its start'}: ` +
          'changes made since then may be lost. A re-snapshot is needed: run `tandem capture --resnapshot`.',
      );
    }
    if (!state && slotInfo.exists && options.adoptSlot) {
      return { ...emptyState(slot), stream: { lastCommitLsn: null, partial: null, ackLsn: slotInfo.confirmedFlushLsn } };
    }
    if (!state && slotInfo.exists) {
      throw new CaptureStateError(
        `replication slot "${slot}" exists but Kafka holds no capture state for it (topic prefix "${this.config.kafka.topicPrefix}"). ` +
          'Use another slot name, or run `tandem capture --resnapshot` to drop the slot and snapshot again.',
      );
    }
    return state;
  }

  /** After a failover the old walsender may hold the slot for a moment. */
  private async waitForSlotRelease(client: Client): Promise<void> {
    const deadline = Date.now() + 30_000;
    while (!this.signal.stopped) {
      const slot = await readSlot(client, this.config.source.slot);
      if (!slot.exists) throw new CaptureStateError(`replication slot "${this.config.source.slot}" disappeared; a re-snapshot is needed (tandem capture --resnapshot)`);
      if (slot.activePid === null) return;
      if (Date.now() > deadline) throw new CaptureStateError(`replication slot "${this.config.source.slot}" is still in use by PostgreSQL process ${slot.activePid}`);
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }

  private async reportSlot(client: Client): Promise<void> {
    try {
      const slot = await readSlot(client, this.config.source.slot);
      this.statusValue.retainedWalBytes = slot.retainedWalBytes;
      this.logger.info(this.status(), 'capture status');
    } catch (error) {
      this.logger.warn({ err: error }, 'could not read the slot status');
    }
  }
}

function emptyState(slot: string): CaptureState {
  return { slot, stream: { lastCommitLsn: null, partial: null, ackLsn: null }, snapshot: null, backfills: [], capturedTables: null };
}

function keyColumnsByTable(tables: SourceTable[]): Map<string, string[]> {
  return new Map(tables.map((table) => [tableName(table), table.keyColumns]));
}
