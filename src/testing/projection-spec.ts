import { deepStrictEqual, fail } from 'assert';
import type { ProjectionDefinition, ProjectionEvent, RowOperation } from '../projections/framework/define-projection';
import { decodeRecord } from '../projections/framework/event-decoder';
import type { TestChangeEvent } from './change-events';
import { DEFAULT_PREFIX, LogRecordSequence } from './log-records';

/** What the runner makes of one event: its row operations, or the reason it goes to quarantine. */
export type EventOutcome<Row = unknown> =
  | { kind: 'apply'; event: ProjectionEvent<Row>; operations: RowOperation[] }
  | { kind: 'reject'; reason: string }
  | { kind: 'skip' };

export interface SpecOptions {
  /** The capture's topic prefix (default "legacy"); only the topic names depend on it. */
  topicPrefix?: string;
}

/** The events of one `when`, with the assertions a test ends with. */
export interface WhenEvents<Row> {
  /** Asserts the row operations of all the events, in order (deep, strict equality). */
  then(expected: RowOperation[]): void;
  /** Asserts that (the first rejected) event goes to quarantine, with a reason equal to or matching `reason`. */
  thenRejects(reason: string | RegExp): void;
  /** The row operations of all the events, in order, for assertions of your own (throws if one is rejected). */
  operations(): RowOperation[];
  /** Each event's outcome, in order. */
  outcomes(): EventOutcome<Row>[];
}

export interface ProjectionSpec<Row> {
  when(...events: TestChangeEvent[]): WhenEvents<Row>;
}

/**
 * A spec of a projection's pure part, in the given/when/then shape: when these change events
 * arrive (built with insert/update/remove/read/truncate), then these row operations, or then
 * this rejection. Each event goes through what the runner does with a Kafka record (the envelope
 * capture writes, the projection's input schema, apply(), its output schemas), without I/O.
 * (`given` belongs to the database spec: apply() is pure, so earlier events change nothing here.)
 */
export function projectionSpec<Row>(definition: ProjectionDefinition<Row>, options: SpecOptions = {}): ProjectionSpec<Row> {
  const prefix = options.topicPrefix ?? DEFAULT_PREFIX;
  return {
    when(...events) {
      const log = new LogRecordSequence(prefix);
      const outcomes: EventOutcome<Row>[] = events.map((event) => {
        const decoded = decodeRecord(definition, prefix, log.next(event));
        return decoded.kind === 'reject' ? { kind: 'reject', reason: decoded.reason } : decoded;
      });
      const operations = () =>
        outcomes.flatMap((outcome, index) => {
          if (outcome.kind === 'reject') fail(`event ${index + 1} (${describe(events[index])}) was rejected: ${outcome.reason}`);
          return outcome.kind === 'apply' ? outcome.operations : [];
        });
      return {
        outcomes: () => outcomes,
        operations,
        then(expected) {
          deepStrictEqual(operations(), expected);
        },
        thenRejects(reason) {
          const rejected = outcomes.find((outcome) => outcome.kind === 'reject');
          if (!rejected || rejected.kind !== 'reject') return fail('expected an event to be rejected; none was');
          if (typeof reason === 'string') deepStrictEqual(rejected.reason, reason);
          else if (!reason.test(rejected.reason)) fail(`the rejection "${rejected.reason}" does not match ${reason}`);
        },
      };
    },
  };
}

export const describe = (event: TestChangeEvent) => `${event.op} ${event.source}`;
