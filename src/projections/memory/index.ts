import type { Recipe } from '../recipe';
import { ConfigError } from '../../shared/errors';

/** Placeholder until the recipe lands. */
export const memoryRecipe: Recipe = {
  name: 'memory',
  projection: () => {
    throw new ConfigError('projections: the "memory" recipe is not available yet');
  },
};
