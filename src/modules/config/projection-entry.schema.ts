import { z } from 'zod';
import { RECIPE_NAMES } from '../../projections/recipes';
import { identifier } from './config-fields';
import { strictDeep } from './strict-schema';
import { mirrorSchema } from '../../projections/mirror/mirror-config';

/**
 * One entry of `projections:`, one of these kinds, told apart by which key it has:
 *   { recipe: users, sourceSchema: public }                                 a built-in recipe
 *   { name: orders-model, module: ./projections/orders.ts, options: {…} }  a module of the user's own
 *   { name: shop, mirror: { schema: shop_new, tables: [...] } }              a declarative mirror (src/projections/mirror)
 * Each kind is a strict object: an unknown key is an error naming the key.
 */

/** A projection's name is its consumer group, dead-letter topic suffix and the name reports use. */
export const projectionName = z
  .string()
  .regex(
    /^[a-z][a-z0-9_-]{0,62}$/,
    'must start with a lower-case letter, then letters, digits, _ or - (at most 63)',
  );

const recipeEntry = strictDeep(
  z.object({
    recipe: z.enum(RECIPE_NAMES),
    /** The schema of the legacy tables the recipe reads. */
    sourceSchema: identifier.default('public'),
  }),
);

const moduleEntry = strictDeep(
  z.object({
    name: projectionName,
    /** Resolved from the config file's folder (load-config.ts makes it absolute). */
    module: z.string().regex(/\.(ts|mts|cts|js|mjs|cjs)$/, 'must name a .ts, .js or .mjs file'),
    /** Passed to the module's default export when it is a function; the module validates them. */
    options: z.record(z.string(), z.unknown()).optional(),
  }),
);

const mirrorEntry = strictDeep(
  z.object({
    name: projectionName,
    mirror: mirrorSchema,
  }),
);

export type RecipeEntry = z.infer<typeof recipeEntry>;
export type ModuleEntry = z.infer<typeof moduleEntry>;
export type MirrorEntry = z.infer<typeof mirrorEntry>;
export type ProjectionEntry = RecipeEntry | ModuleEntry | MirrorEntry;

const KINDS = { recipe: recipeEntry, module: moduleEntry, mirror: mirrorEntry } as const;
type Kind = keyof typeof KINDS;
const KIND_NAMES = Object.keys(KINDS) as Kind[];

export const projectionEntrySchema = z.unknown().transform((value, ctx): ProjectionEntry => {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    ctx.addIssue({ code: 'custom', message: `expected a mapping with one of: ${KIND_NAMES.join(', ')}` });
    return z.NEVER;
  }
  const kinds = KIND_NAMES.filter((kind) => kind in value);
  if (kinds.length !== 1) {
    const message =
      kinds.length === 0
        ? `give one of: ${KIND_NAMES.join(', ')}`
        : `give only one of ${kinds.join(', ')} (one kind per projection)`;
    ctx.addIssue({ code: 'custom', message });
    return z.NEVER;
  }
  const result = KINDS[kinds[0]].safeParse(value);
  if (result.success) return result.data;
  for (const issue of result.error.issues)
    ctx.addIssue({ ...issue, path: issue.path } as Parameters<typeof ctx.addIssue>[0]);
  return z.NEVER;
});

export function isMirrorEntry(entry: ProjectionEntry): entry is MirrorEntry {
  return 'mirror' in entry;
}

export function isModuleEntry(entry: ProjectionEntry): entry is ModuleEntry {
  return 'module' in entry;
}

/** The projection's name as the configuration gives it (a recipe's is the recipe's). */
export function entryName(entry: ProjectionEntry): string {
  return 'recipe' in entry ? entry.recipe : entry.name;
}

export const projectionEntriesSchema = z
  .array(projectionEntrySchema)
  .default([])
  .superRefine((entries, ctx) => {
    const seen = new Map<string, number>();
    entries.forEach((entry, index) => {
      const name = entryName(entry);
      if (seen.has(name))
        ctx.addIssue({
          code: 'custom',
          path: [index],
          message: `the name "${name}" is already used by projections.${seen.get(name)}`,
        });
      else seen.set(name, index);
    });
  });
