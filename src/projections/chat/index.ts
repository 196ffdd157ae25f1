import type { Recipe } from '../recipe';
import { ConfigError } from '../../shared/errors';

/** Placeholder until the recipe lands. */
export const chatRecipe: Recipe = {
  name: 'chat',
  projection: () => {
    throw new ConfigError('projections: the "chat" recipe is not available yet');
  },
};
