import type { Recipe } from './recipe';
import { usersRecipe } from './users';
import { appStateRecipe } from './app-state';
import { knowledgeBaseRecipe } from './knowledge-base';
import { memoryRecipe } from './memory';
import { chatRecipe } from './chat';

export type { Recipe, RecipeOptions } from './recipe';

/** The one list of built-in recipes: the config schema, `tandem import` and the projector read it. */
const BUILT_IN_RECIPES: readonly Recipe[] = [usersRecipe, appStateRecipe, knowledgeBaseRecipe, memoryRecipe, chatRecipe];

/** The built-in recipes, by name. */
export const RECIPES: Record<string, Recipe> = Object.fromEntries(BUILT_IN_RECIPES.map((recipe) => [recipe.name, recipe]));

/** Their names, in the registry's order (what `projections[].recipe` accepts). */
export const RECIPE_NAMES = BUILT_IN_RECIPES.map((recipe) => recipe.name) as [string, ...string[]];
