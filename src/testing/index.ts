/**
 * Tandem's projection test kit ('tandem/testing'): build change events with insert/update/remove/
 * read/truncate, then assert a projection's row operations (projectionSpec, pure) or the rows it
 * writes into a real target PostgreSQL (projectionDatabaseSpec). See README, "Build your own projection".
 */
export { insert, update, remove, read, truncate, type TestChangeEvent, type TestEventOptions, type TestRow } from './change-events';
export { projectionSpec, type ProjectionSpec, type WhenEvents, type EventOutcome, type SpecOptions } from './projection-spec';
export {
  projectionDatabaseSpec,
  type ProjectionDatabaseSpec,
  type DatabaseGiven,
  type DatabaseThen,
  type DatabaseSpecOptions,
  type TargetRow,
} from './database-spec';
