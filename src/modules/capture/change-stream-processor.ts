import type { Lsn } from '../../shared/lsn';
import type { ColumnPolicy } from '../../connectors/postgres-source/column-policy';
import { fillUnchangedToast, sameKey, StreamEventSerializer } from '../../connectors/postgres-source/change-event';
import { transactionMarker, type Operation, type Row } from '../../contracts/envelope';
import type { ProducedRecord, RecordSink } from '../../contracts/positions';
import type { PgoutputMessage, RawTuple, Relation } from '../../connectors/postgres-source/pgoutput-decoder';
import type { TypeRegistry } from '../../connectors/postgres-source/pg-types';
import { seenBySnapshot, type SnapshotProgress, type StreamPosition } from './capture-state';
import { DecodeError } from '../../shared/errors';
import type { BackfillTracker } from './backfill/backfill-tracker';
import { TablePlans, type TablePlan } from './table-plan';

export interface ProcessorOptions {
  topicPrefix: string;
  database: string;
  partitions: number;
  types: TypeRegistry;
  /** Primary-key columns per "schema.table", read from the catalog. */
  keyColumns: Map<string, string[]>;
  /** Columns left out or masked (source.columns); none when absent. */
  columns?: ColumnPolicy;
  now: () => number;
  /** Transactions written under a replication origin named so are not captured (failback's writes: no loops). */
  skipOriginPrefix?: string;
}

interface OpenTransaction {
  xid: number;
  finalLsn: Lsn;
  commitTimeMicros: number;
  /** Index of the next record of this transaction; records below `skipBelow` are already in Kafka. */
  nextIndex: number;
  skipBelow: number;
  alreadyProduced: boolean;
  /** Written by a skipped replication origin: consumed, nothing emitted. */
  skipped: boolean;
  begun: boolean;
  totalOrder: number;
  perTable: Map<string, number>;
  /** Per table: the event serializer with this transaction's source fields pre-serialized. */
  serializers: Map<string, StreamEventSerializer>;
  previousCommitLsn: Lsn | null;
}

/**
 * Turns decoded pgoutput messages into Debezium-envelope records, deterministically, and tracks the
 * position those records represent. Deterministic order and count are what make the position
 * (last commit LSN + records of a partly produced transaction) enough to resume exactly once.
 */
export class ChangeStreamProcessor {
  private tx: OpenTransaction | null = null;
  private position: StreamPosition;
  private readonly plans: TablePlans;

  constructor(
    private readonly options: ProcessorOptions,
    start: StreamPosition,
    private readonly snapshotFilter: SnapshotProgress | null = null,
    /** Signals and watermark windows of backfills (see backfill/). */
    private readonly backfill: BackfillTracker | null = null,
  ) {
    this.position = { ...start, partial: start.partial && { ...start.partial } }; // push() updates partial in place
    this.plans = new TablePlans(options, (schema, table) => backfill?.isSignalTable(schema, table) ?? false);
  }

  currentPosition(): StreamPosition {
    return { ...this.position, partial: this.position.partial && { ...this.position.partial } };
  }

  inTransaction = (): boolean => this.tx !== null;

  /** A heartbeat with nothing in flight: everything before `lsn` is durable, acknowledge it. */
  advanceIdle(lsn: Lsn): void {
    if (this.tx) return;
    if (this.position.ackLsn === null || lsn > this.position.ackLsn) this.position.ackLsn = lsn;
  }

  handle(message: PgoutputMessage, walStart: Lsn, out: RecordSink): void {
    if ('relation' in message && this.plans.of(message.relation).isSignalTable) {
      if (message.tag === 'insert') this.signal(message.relation, message.after, walStart);
      return; // the signal table's own changes are never produced
    }
    switch (message.tag) {
      case 'begin':
        this.begin(message.xid, message.finalLsn, Number(message.commitTimeMicros));
        return;
      case 'commit':
        this.commit(message.endLsn, out);
        return;
      case 'insert': {
        const plan = this.plans.of(message.relation);
        if (this.capturing()) this.emit(message.relation, plan, walStart, out, message.after, 'c', null, this.row(message.relation, plan, message.after));
        return;
      }
      case 'update': {
        const plan = this.plans.of(message.relation);
        if (!this.capturing()) return;
        const before = message.before ? this.row(message.relation, plan, message.before) : null;
        const after = fillUnchangedToast(this.row(message.relation, plan, message.after), message.beforeIsKeyOnly ? null : before);
        if (before && plan.keyColumns.length > 0 && !sameKey(plan.keyColumns, before, after)) {
          this.emit(message.relation, plan, walStart, out, message.before!, 'd', before, null);
          this.emit(message.relation, plan, walStart, out, message.after, 'c', null, after);
        } else {
          this.emit(message.relation, plan, walStart, out, message.after, 'u', message.beforeIsKeyOnly ? null : before, after);
        }
        return;
      }
      case 'delete': {
        const plan = this.plans.of(message.relation);
        if (this.capturing()) this.emit(message.relation, plan, walStart, out, message.before, 'd', this.row(message.relation, plan, message.before), null);
        return;
      }
      case 'truncate':
        for (const relation of message.relations) {
          if (!this.backfill?.isSignalTable(relation.schema, relation.table)) this.emitTruncate(relation, walStart, out);
        }
        return;
      case 'origin':
        // pgoutput sends it right after BEGIN for a transaction written under a replication origin
        if (this.tx && this.skipsOrigin(message.name)) this.tx.skipped = true;
        return;
      default:
        return; // relation and type messages only update the decoder; logical messages are not captured
    }
  }

  private skipsOrigin(name: string): boolean {
    const prefix = this.options.skipOriginPrefix;
    return prefix !== undefined && name.startsWith(prefix);
  }

  private begin(xid: number, finalLsn: Lsn, commitTimeMicros: number): void {
    this.backfill?.noteTransaction(xid, finalLsn, commitTimeMicros);
    const { lastCommitLsn, partial } = this.position;
    const alreadyProduced = lastCommitLsn !== null && finalLsn <= lastCommitLsn;
    this.tx = {
      xid,
      finalLsn,
      commitTimeMicros,
      nextIndex: 0,
      skipBelow: partial && partial.finalLsn === finalLsn ? partial.emitted : 0,
      alreadyProduced,
      skipped: false,
      begun: false,
      totalOrder: 0,
      perTable: new Map(),
      serializers: new Map(),
      previousCommitLsn: lastCommitLsn,
    };
  }

  private commit(endLsn: Lsn, out: RecordSink): void {
    const tx = this.requireTransaction();
    if (!tx.alreadyProduced && tx.begun) {
      this.push(out, transactionMarker(this.options.topicPrefix, this.transactionId(tx), tx.commitTimeMicros, tx.perTable));
    }
    if (!tx.alreadyProduced) {
      this.position.lastCommitLsn = tx.finalLsn;
      this.position.partial = null;
    }
    if (this.position.ackLsn === null || endLsn > this.position.ackLsn) this.position.ackLsn = endLsn;
    this.tx = null;
  }

  private transactionId(tx: OpenTransaction): string {
    return `${tx.xid}:${Number(tx.finalLsn)}`;
  }

  /** Appends a record unless an earlier run already produced it. */
  private push(out: RecordSink, record: ProducedRecord): void {
    const tx = this.requireTransaction();
    const index = tx.nextIndex++;
    if (index >= tx.skipBelow) out.push(record);
    const partial = this.position.partial;
    if (partial && partial.finalLsn === tx.finalLsn) partial.emitted = tx.nextIndex;
    else this.position.partial = { finalLsn: tx.finalLsn, emitted: tx.nextIndex };
  }

  private requireTransaction(): OpenTransaction {
    if (!this.tx) throw new DecodeError('pgoutput: change outside a transaction');
    return this.tx;
  }

  private row(relation: Relation, plan: TablePlan, tuple: RawTuple): Row {
    try {
      return plan.row(tuple);
    } catch (error) {
      throw new DecodeError(`${relation.schema}.${relation.table}: ${(error as Error).message}`, {
        cause: error,
      });
    }
  }

  private beginMarker(out: RecordSink, tx: OpenTransaction): void {
    if (tx.begun) return;
    tx.begun = true;
    this.push(out, transactionMarker(this.options.topicPrefix, this.transactionId(tx), tx.commitTimeMicros, null));
  }

  /** Whether the changes of the open transaction are to be emitted (not already in Kafka). */
  private capturing(): boolean {
    return !this.requireTransaction().alreadyProduced;
  }

  /** `keyTuple`: the tuple the event's key comes from, as decoded. */
  private emit(relation: Relation, plan: TablePlan, walStart: Lsn, out: RecordSink, keyTuple: RawTuple, op: 'c' | 'u' | 'd', before: Row | null, after: Row | null): void {
    const tx = this.tx!;
    const keyRow = (after ?? before) as Row;
    const key = plan.key(keyRow);
    // A failback write is not captured, and a backfill window must not re-read its row either (its value came from the target).
    if (tx.skipped) return this.backfill?.recordChange(plan.dataCollection, key, 'd', null);
    if (seenBySnapshot(this.snapshotFilter, plan.dataCollection, plan.keyText, keyTuple, tx.finalLsn)) return;
    this.beginMarker(out, tx);
    this.backfill?.recordChange(plan.dataCollection, key, op, after);
    this.push(out, { topic: plan.topic, key, value: this.nextEvent(tx, relation, plan, walStart, op, before, after) });
    if (op === 'd' && key !== null) this.push(out, { topic: plan.topic, key, value: null });
  }

  private emitTruncate(relation: Relation, walStart: Lsn, out: RecordSink): void {
    const tx = this.requireTransaction();
    if (tx.alreadyProduced || tx.skipped) return;
    this.backfill?.recordTruncate(`${relation.schema}.${relation.table}`);
    this.beginMarker(out, tx);
    const plan = this.plans.of(relation);
    const value = this.nextEvent(tx, relation, plan, walStart, 't', null, null);
    const topic = plan.topic;
    for (let partition = 0; partition < this.options.partitions; partition++) {
      this.push(out, { topic, key: null, value, partition });
    }
  }

  /** A row inserted into the signal table, applied once: an already produced transaction was applied before. */
  private signal(relation: Relation, tuple: RawTuple, walStart: Lsn): void {
    const tx = this.requireTransaction();
    if (!tx.alreadyProduced) this.backfill!.onSignalRow(this.row(relation, this.plans.of(relation), tuple), { walStart, finalLsn: tx.finalLsn, commitTimeMicros: tx.commitTimeMicros });
  }

  /** The next change event (JSON) of the open transaction, numbered in its total and per-table order. */
  private nextEvent(
    tx: OpenTransaction,
    relation: Relation,
    plan: TablePlan,
    walStart: Lsn,
    op: Operation,
    before: Row | null,
    after: Row | null,
  ): string {
    const { dataCollection } = plan;
    const collectionOrder = (tx.perTable.get(dataCollection) ?? 0) + 1;
    tx.perTable.set(dataCollection, collectionOrder);
    tx.totalOrder += 1;
    let serializer = tx.serializers.get(dataCollection);
    if (!serializer) {
      serializer = new StreamEventSerializer(
        {
          serverName: this.options.topicPrefix,
          database: this.options.database,
          schema: relation.schema,
          table: relation.table,
          commitTimeMicros: tx.commitTimeMicros,
          txId: tx.xid,
          commitLsn: tx.finalLsn,
          previousCommitLsn: tx.previousCommitLsn,
        },
        this.transactionId(tx),
      );
      tx.serializers.set(dataCollection, serializer);
    }
    return serializer.eventJson(
      op,
      before,
      after,
      walStart,
      tx.totalOrder,
      collectionOrder,
      this.options.now(),
    );
  }
}
