import { deepStrictEqual, fail } from 'assert';
import { Pool } from 'pg';
import type { ProjectionDefinition } from '../projections/framework/define-projection';
import { decodeRecord } from '../projections/framework/event-decoder';
import { applyBatch, type BatchItem, type Quarantined } from '../projections/framework/batch-applier';
import { ensureTandemSchema } from '../connectors/postgres-target/tandem-schema';
import { applyMigrations, forgetMigrations } from '../connectors/postgres-target/migrations';
import { forgetIdMap } from '../connectors/postgres-target/row-writer';
import { forgetQuarantine } from '../connectors/postgres-target/quarantine-store';
import { forgetCheckpoints } from '../connectors/postgres-target/checkpoint-store';
import { ident, qualified } from '../connectors/postgres-target/sql';
import type { TestChangeEvent } from './change-events';
import { DEFAULT_PREFIX, LogRecordSequence } from './log-records';
import { describe, type SpecOptions } from './projection-spec';

export interface DatabaseSpecOptions extends SpecOptions {
  /** A disposable target database (with the extensions the migrations need, e.g. vector). */
  connectionString: string;
}

/** A target row as PostgreSQL's to_jsonb gives it (timestamps as ISO text, numerics as numbers, jsonb as is). */
export type TargetRow = Record<string, unknown>;

export interface DatabaseThen {
  /**
   * Asserts the rows of one of the projection's tables, in any order. Only the columns named in the
   * expected rows are compared (all rows name the same ones); `[]` asserts the table is empty.
   */
  thenRows(table: string, expected: TargetRow[]): Promise<void>;
  /** Asserts which `when` events went to quarantine, by reason (equal or matching), in order. */
  thenQuarantined(reasons: Array<string | RegExp>): Promise<void>;
  /** Runs the spec and returns a table's rows (the named columns, or all but _source_key/_source_lsn). */
  rows(table: string, columns?: string[]): Promise<TargetRow[]>;
}

export interface DatabaseGiven {
  when(...events: TestChangeEvent[]): DatabaseThen;
}

export interface ProjectionDatabaseSpec extends DatabaseGiven {
  given(...events: TestChangeEvent[]): DatabaseGiven;
  /** Ends the spec's connections (call it in afterAll). */
  close(): Promise<void>;
}

/**
 * A spec of a projection against a real target PostgreSQL: given these events (already applied),
 * when these arrive, then these rows are in the target table (or these events are quarantined).
 * Every assertion starts from scratch: it drops the projection's schema and its rows in tandem.*,
 * applies the migrations, then writes `given` and `when` as two batches through the runner's own
 * writer (the same SQL as `tandem project`, quarantine included). Point it at a database of its own.
 */
export function projectionDatabaseSpec(
  definition: ProjectionDefinition<unknown>,
  options: DatabaseSpecOptions,
): ProjectionDatabaseSpec {
  const pool = new Pool({ connectionString: options.connectionString, max: 2 });
  const prefix = options.topicPrefix ?? DEFAULT_PREFIX;

  const run = async (given: TestChangeEvent[], when: TestChangeEvent[]): Promise<Quarantined[]> => {
    await reset(pool, definition);
    const log = new LogRecordSequence(prefix);
    const batch = (events: TestChangeEvent[]): BatchItem[] =>
      events.map((event) => {
        const record = log.next(event);
        return { record, decoded: decodeRecord(definition, prefix, record) };
      });
    const before = await applyBatch(pool, definition, batch(given), []);
    if (before.quarantined.length > 0) {
      const index = Number(before.quarantined[0].record.offset); // given events take offsets 0, 1, …
      fail(`given event ${index + 1} (${describe(given[index])}) was quarantined: ${before.quarantined[0].reason}`);
    }
    return (await applyBatch(pool, definition, batch(when), [])).quarantined;
  };

  const rowsOf = async (table: string, columns?: string[]) => {
    const result = await pool.query<{ row: TargetRow }>(
      `SELECT to_jsonb(t) - '_source_key' - '_source_lsn' AS row FROM ${qualified(definition.schema, table)} t`,
    );
    const rows = result.rows.map(({ row }) => (columns ? pick(row, columns) : row));
    return rows.sort(byJson);
  };

  const then = (given: TestChangeEvent[], when: TestChangeEvent[]): DatabaseThen => ({
    async thenRows(table, expected) {
      await run(given, when);
      const columns = Object.keys(expected[0] ?? {});
      deepStrictEqual(await rowsOf(table, columns), expected.map((row) => pick(row, columns)).sort(byJson));
    },
    async thenQuarantined(reasons) {
      const quarantined = (await run(given, when)).map((entry) => entry.reason);
      if (quarantined.length !== reasons.length) {
        fail(`expected ${reasons.length} quarantined event(s), got ${quarantined.length}: ${JSON.stringify(quarantined)}`);
      }
      reasons.forEach((reason, index) => {
        if (typeof reason === 'string') deepStrictEqual(quarantined[index], reason);
        else if (!reason.test(quarantined[index])) fail(`quarantine reason "${quarantined[index]}" does not match ${reason}`);
      });
    },
    async rows(table, columns) {
      await run(given, when);
      return rowsOf(table, columns);
    },
  });

  return {
    given: (...given) => ({ when: (...when) => then(given, when) }),
    when: (...when) => then([], when),
    close: () => pool.end(),
  };
}

async function reset(pool: Pool, definition: ProjectionDefinition<unknown>): Promise<void> {
  await ensureTandemSchema(pool);
  await pool.query(`DROP SCHEMA IF EXISTS ${ident(definition.schema)} CASCADE`);
  for (const forget of [forgetMigrations, forgetIdMap, forgetQuarantine, forgetCheckpoints]) await forget(pool, definition.name);
  await applyMigrations(pool, definition.name, definition.schema, definition.migrations);
}

function pick(row: TargetRow, columns: string[]): TargetRow {
  return Object.fromEntries(columns.map((column) => [column, row[column] === undefined ? null : row[column]]));
}

const byJson = (a: TargetRow, b: TargetRow) => {
  const [x, y] = [JSON.stringify(a), JSON.stringify(b)];
  return x < y ? -1 : x > y ? 1 : 0;
};
