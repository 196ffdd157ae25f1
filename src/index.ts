/**
 * Tandem's public API: what a user's own projection module imports from 'tandem'.
 * Keep it small, typed and stable; everything else under src/ is internal.
 * The projection test kit is its own entry point: 'tandem/testing' (src/testing/index.ts).
 */
export {
  defineProjection,
  deterministicUuid,
  type Migration,
  type ProjectionDefinition,
  type ProjectionEvent,
  type RowOperation,
  type VersionBound,
  type WriteCondition,
} from './projections/framework/define-projection';
export {
  defineReconciliation,
  type ComparisonSide,
  type TableComparison,
} from './projections/framework/define-reconciliation';
export { toastable, isUnavailable } from './projections/toastable';
export type { LogPosition } from './contracts/positions';
export type {
  LegacyRowOperation,
  ProjectionInverse,
  RenderedInverse,
  TargetChange,
} from './projections/framework/define-inverse';
/** zod, as Tandem validates with it: a module's `input` schemas need no zod of their own installed. */
export { z } from 'zod';
