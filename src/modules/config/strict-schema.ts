import { z } from 'zod';
import { closestName } from '../../shared/closest-name';

type AnySchema = z.core.$ZodType;
type Def = Record<string, unknown> & { type: string };

/** Child schemas by the def field that holds them (wrappers, arrays, unions, pipes, records). */
const SINGLE_CHILDREN = ['innerType', 'element', 'in', 'out', 'valueType'] as const;

/**
 * The schema with every object in it, at any depth, refusing unknown keys: a typo such as
 * `chunksize:` is an error naming the key and the closest known one, never a silent default.
 * Applied once to the whole configuration schema, so sections added later are strict too.
 */
export function strictDeep<T extends AnySchema>(schema: T): T {
  const def = (schema as unknown as { _zod: { def: Def } })._zod.def;
  const changes: Record<string, unknown> = {};
  if (def.type === 'object') {
    const shape = def.shape as Record<string, AnySchema>;
    changes.shape = Object.fromEntries(Object.entries(shape).map(([key, child]) => [key, strictDeep(child)]));
    changes.catchall = z.never();
    const known = Object.keys(shape);
    const previous = def.error as ((issue: unknown) => unknown) | undefined;
    changes.error = (issue: z.core.$ZodRawIssue) =>
      issue.code === 'unrecognized_keys' ? unknownKeysMessage(issue.keys, known) : previous?.(issue);
  }
  for (const field of SINGLE_CHILDREN)
    if (def[field] && typeof def[field] === 'object') changes[field] = strictDeep(def[field] as AnySchema);
  if (Array.isArray(def.options)) changes.options = (def.options as AnySchema[]).map((option) => strictDeep(option));
  if (Object.keys(changes).length === 0) return schema;
  return (schema as unknown as { clone(def: Def): T }).clone({ ...def, ...changes });
}

export function unknownKeysMessage(keys: readonly string[], known: readonly string[]): string {
  return keys
    .map((key) => {
      const suggestion = closestName(key, known);
      return `unknown key "${key}"${suggestion ? ` (did you mean "${suggestion}"?)` : ''}`;
    })
    .join('; ');
}
