import type { Recipe } from '../recipe';
import type { ProjectionDefinition } from '../framework/define-projection';
import { usersProjection } from './users.projection';
import { usersImporter } from './users.import';

export const usersRecipe: Recipe = {
  name: 'users',
  projection: ({ sourceSchema }) => usersProjection(sourceSchema) as ProjectionDefinition<unknown>,
  importer: usersImporter,
};
