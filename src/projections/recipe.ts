import type { ProjectionDefinition } from './framework/define-projection';
import type { RecipeImporter } from './framework/define-import';

export interface RecipeOptions {
  /** The schema of the legacy tables. */
  sourceSchema: string;
  /** For settings a recipe takes from the environment (e.g. an encryption key); validated at start-up. */
  env: NodeJS.ProcessEnv;
}

/** A built-in recipe: a projection, and optionally a reader of the seeds' export files. */
export interface Recipe {
  name: string;
  projection(options: RecipeOptions): ProjectionDefinition<unknown>;
  importer?: RecipeImporter;
}
