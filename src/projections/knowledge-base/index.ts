import type { Recipe } from '../recipe';
import { ConfigError } from '../../shared/errors';

/** Placeholder until the recipe lands. */
export const knowledgeBaseRecipe: Recipe = {
  name: 'knowledge-base',
  projection: () => {
    throw new ConfigError('projections: the "knowledge-base" recipe is not available yet');
  },
};
