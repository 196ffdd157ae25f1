import type { RawTuple, Relation } from '../../connectors/postgres-source/pgoutput-decoder';
import type { KeyTuple } from '../../connectors/postgres-source/key-range';
import { keySerializer, rowReader } from '../../connectors/postgres-source/change-event';
import type { Row } from '../../contracts/envelope';
import { tableTopic } from '../../contracts/names';
import type { ProcessorOptions } from './change-stream-processor';

/** What ChangeStreamProcessor needs of a table for each of its events, worked out once per Relation message. */
export interface TablePlan {
  /** "schema.table" */
  readonly dataCollection: string;
  readonly topic: string;
  /** Columns of the record key: the catalog's primary key, else the replica identity's (none for FULL). */
  readonly keyColumns: string[];
  /** A tuple as a row (column rules applied, values converted); throws on a value it cannot convert. */
  readonly row: (tuple: RawTuple) => Row;
  /** The key columns' text as PostgreSQL sent it (clear, even where masked): what snapshot chunk bounds hold. */
  readonly keyText: (tuple: RawTuple) => KeyTuple;
  /** The record key of a row (JSON), null for a table without key columns. */
  readonly key: (row: Row) => string | null;
  /** Backfill's signal table, whose changes are never produced. */
  readonly isSignalTable: boolean;
}

/** Plans by Relation message: a new Relation message (the table changed) gets a new plan. */
export class TablePlans {
  private readonly plans = new WeakMap<Relation, TablePlan>();

  constructor(
    private readonly options: ProcessorOptions,
    private readonly isSignalTable: (schema: string, table: string) => boolean,
  ) {}

  of(relation: Relation): TablePlan {
    let plan = this.plans.get(relation);
    if (!plan) this.plans.set(relation, (plan = this.plan(relation)));
    return plan;
  }

  private plan(relation: Relation): TablePlan {
    const { schema, table } = relation;
    const dataCollection = `${schema}.${table}`;
    const keyColumns =
      this.options.keyColumns.get(dataCollection) ??
      (relation.replicaIdentity === 'full' ? [] : relation.columns.filter((c) => c.isKey).map((c) => c.name));
    return {
      dataCollection,
      topic: tableTopic(this.options.topicPrefix, schema, table),
      keyColumns,
      row: rowReader(relation.columns, this.options.types, this.options.columns?.of(schema, table) ?? null),
      key: keySerializer(keyColumns),
      keyText: keyTextReader(relation, keyColumns),
      isSignalTable: this.isSignalTable(schema, table),
    };
  }
}

function keyTextReader(relation: Relation, keyColumns: string[]): (tuple: RawTuple) => KeyTuple {
  const indexes = keyColumns.map((name) => relation.columns.findIndex((column) => column.name === name));
  return (tuple) =>
    indexes.map((i) => {
      const value = tuple[i];
      return typeof value === 'string' ? value : '';
    });
}
