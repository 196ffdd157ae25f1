import type { Recipe } from '../recipe';
import type { ProjectionDefinition } from '../framework/define-projection';
import { appStateProjection } from './app-state.projection';

/**
 * Seed 002: `user_app_state.state` (one JSONB document per user) into seven normalized tables.
 * The demo legacy table and its data generator are in demo/app-state.ts (outside src/: not shipped).
 */
export const appStateRecipe: Recipe = {
  name: 'app-state',
  projection: ({ sourceSchema }) => appStateProjection(sourceSchema) as ProjectionDefinition<unknown>,
};
