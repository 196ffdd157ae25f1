import type { Recipe } from '../recipe';
import type { ProjectionDefinition } from '../framework/define-projection';
import { knowledgeBaseProjection } from './knowledge-base.projection';
import { knowledgeBaseImporter } from './knowledge-base.import';

export { knowledgeBaseProjection, IMPORT_DOCS_TABLE, IMPORT_PROMPT_TABLE } from './knowledge-base.projection';
export {
  knowledgeBaseImporter,
  readKnowledgeBaseExport,
  readSystemPromptExport,
} from './knowledge-base.import';
export {
  KNOWLEDGE_BASE_MIGRATIONS,
  STORAGE_HARD_LIMIT_BYTES,
  STORAGE_SOFT_LIMIT_BYTES,
} from './knowledge-base.migrations';

/**
 * Seed 000 (knowledge base and system prompts into a multi-tenant hub): legacy `kb_documents` and
 * `system_prompts` (plus the nakamoto_kb.json / nakamoto_system_prompt.txt exports through
 * `tandem import --recipe knowledge-base`) into schema `knowledge_base`: corpora, root/tenant docs
 * with `v_effective_docs`, a reindex queue, per-tenant storage limits, versioned prompts with one
 * active per scope and `v_effective_prompt`, and row-level security by `app.tenant_id`.
 */
export const knowledgeBaseRecipe: Recipe = {
  name: 'knowledge-base',
  projection: ({ sourceSchema }) => knowledgeBaseProjection(sourceSchema) as ProjectionDefinition<unknown>,
  importer: knowledgeBaseImporter,
};
