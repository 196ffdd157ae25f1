import type { Recipe } from '../recipe';
import { ConfigError } from '../../shared/errors';

/** Placeholder until the recipe lands. */
export const appStateRecipe: Recipe = {
  name: 'app-state',
  projection: () => {
    throw new ConfigError('projections: the "app-state" recipe is not available yet');
  },
};
