/**
 * Tandem's public API: what a user's own projection module imports from 'tandem'.
 * Keep it small, typed and stable; everything else under src/ is internal.
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
export type { ComparisonSide, TableComparison } from './projections/framework/define-reconciliation';
export type { LogPosition } from './projections/framework/change-envelope';
/** zod, as Tandem validates with it: a module's `input` schemas need no zod of their own installed. */
export { z } from 'zod';
/** A column PostgreSQL may store out of line (TOAST): an update that leaves it unchanged carries a placeholder. */
export { isUnavailable, toastable } from './projections/toastable';
