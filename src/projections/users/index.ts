import type { Recipe } from '../recipe';
import type { ProjectionDefinition } from '../framework/define-projection';
import { usersProjection } from './users.projection';

export const usersRecipe: Recipe = {
  name: 'users',
  projection: ({ sourceSchema }) => usersProjection(sourceSchema) as ProjectionDefinition<unknown>,
};
