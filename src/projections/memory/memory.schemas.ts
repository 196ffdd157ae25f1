import { z } from 'zod';
import { toastable } from '../toastable';

/** BGE-M3 embeddings, as the seed's vector(1024) column. */
export const EMBEDDING_DIMENSIONS = 1024;

/** The largest finite float32: pgvector stores float4, a larger value is out of range. */
export const FLOAT32_MAX = 3.4028234663852886e38;

/** The import table: imported nodes travel on `<prefix>.import.nodes` (source "import.nodes"). */
export const IMPORT_TABLE = 'nodes';
export const IMPORT_SOURCE = `import.${IMPORT_TABLE}`;

/** The legacy table the recipe captures, in the configured source schema. */
export const LEGACY_TABLE = 'memory_nodes';

export const DEFAULT_KIND = 'memory';

/** Why an embedding cannot be stored in vector(1024), or null when it can. */
export function embeddingProblem(values: ArrayLike<number>): string | null {
  if (values.length !== EMBEDDING_DIMENSIONS) return `expected ${EMBEDDING_DIMENSIONS} dimensions, found ${values.length}`;
  for (let i = 0; i < values.length; i++) {
    const value = values[i];
    if (!Number.isFinite(value)) return `value ${i} is ${String(value)} (embeddings must be finite)`;
    if (Math.abs(value) > FLOAT32_MAX) return `value ${i} (${value}) is out of the float32 range`;
  }
  return null;
}

export const embeddingSchema = z.array(z.number()).superRefine((values, context) => {
  const problem = embeddingProblem(values);
  if (problem) context.addIssue({ code: 'custom', message: problem });
});

/**
 * A memory node as capture sends it (legacy `memory_nodes`) and as `tandem import` writes it (the
 * same shape): jsonb arrives as a string holding the document, vector as an array of numbers, and
 * an unchanged TOASTed column (content, metadata, embedding) as the placeholder. The scope is not
 * checked here: the target's nodes_scope_check constraint rejects a node with neither or both.
 */
export const memoryNodeRow = z.object({
  id: z.union([z.string(), z.number()]).transform(String).pipe(z.string().min(1, 'id is empty').max(255, 'id is longer than 255 characters')),
  user_id: z.guid('user_id is not a valid uuid').nullable().optional(),
  tenant_id: z.guid('tenant_id is not a valid uuid').nullable().optional(),
  kind: z.string().min(1).nullable().optional(),
  content: toastable(z.string()),
  metadata: toastable(z.string().nullable()).optional(),
  embedding: toastable(embeddingSchema),
  created_at: z.string().nullable().optional(),
  updated_at: z.string().nullable().optional(),
});

export type MemoryNodeRow = z.infer<typeof memoryNodeRow>;
