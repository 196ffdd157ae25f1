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
export type {
  LegacyRowOperation,
  ProjectionInverse,
  RenderedInverse,
  TargetChange,
} from './projections/framework/define-inverse';
