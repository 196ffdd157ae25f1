import type { Recipe } from '../recipe';
import type { ProjectionDefinition } from '../framework/define-projection';
import { memoryProjection } from './memory.projection';
import { memoryImporter } from './memory.import';

export { memoryProjection } from './memory.projection';
export { createMemoryImporter, memoryImporter, TENANT_SCOPE_VARIABLE, USER_SCOPE_VARIABLE } from './memory.import';
export { EMBEDDING_DIMENSIONS } from './memory.schemas';

/**
 * Seed 004 (file-based memory store into PostgreSQL + pgvector): legacy `memory_nodes` and the
 * nodes.json + nodes.npy export into `memory.nodes` (vector(1024), exactly one of user/tenant scope,
 * HNSW cosine index) with `memory.similar_nodes(query, p_user, p_tenant, k)`, a search that never
 * leaves the given scope. `tandem import --recipe memory --from nodes.json nodes.npy` stamps nodes
 * without a scope with TANDEM_MEMORY_USER_ID or TANDEM_MEMORY_TENANT_ID.
 */
export const memoryRecipe: Recipe = {
  name: 'memory',
  projection: ({ sourceSchema }) => memoryProjection(sourceSchema) as ProjectionDefinition<unknown>,
  importer: memoryImporter,
};
