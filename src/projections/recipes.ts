import type { ProjectionDefinition } from './framework/define-projection';
import { usersProjection } from './users/users.projection';

export interface RecipeOptions {
  /** The schema of the legacy tables. */
  sourceSchema: string;
  env: NodeJS.ProcessEnv;
}

/** The built-in recipes, by name. */
export const RECIPES: Record<string, (options: RecipeOptions) => ProjectionDefinition<unknown>> = {
  users: ({ sourceSchema }) => usersProjection(sourceSchema) as ProjectionDefinition<unknown>,
};
