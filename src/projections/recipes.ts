import type { Recipe } from './recipe';
import { usersRecipe } from './users';
import { appStateRecipe } from './app-state';
import { knowledgeBaseRecipe } from './knowledge-base';
import { memoryRecipe } from './memory';
import { chatRecipe } from './chat';

export type { Recipe, RecipeOptions } from './recipe';

/** The built-in recipes, by name. */
export const RECIPES: Record<string, Recipe> = Object.fromEntries(
  [usersRecipe, appStateRecipe, knowledgeBaseRecipe, memoryRecipe, chatRecipe].map((recipe) => [recipe.name, recipe]),
);
