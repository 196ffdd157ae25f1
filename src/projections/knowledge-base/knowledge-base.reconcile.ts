import type { TableComparison } from '../framework/define-reconciliation';
import { isoUtc, jsTrim, jsonOr, jsonText, sqlLiteral } from '../reconcile-sql';
import { ROOT_TENANT } from './knowledge-base.ids';

/** A compared column: [legacy expression, target expression]. */
type Columns = Record<string, [string, string]>;

const isRoot = `(tenant_id IS NULL OR lower(tenant_id::text) = ${sqlLiteral(ROOT_TENANT)})`;
const scopeColumns: Columns = {
  scope: [`CASE WHEN ${isRoot} THEN 'root' ELSE 'tenant' END`, 'scope'],
  tenant_id: [`CASE WHEN ${isRoot} THEN NULL ELSE lower(tenant_id::text) END`, 'tenant_id::text'],
};

const split = (columns: Columns, side: 0 | 1) => Object.fromEntries(Object.entries(columns).map(([name, pair]) => [name, pair[side]]));

/**
 * Reconciliation of the knowledge-base recipe: the legacy `kb_documents` and `system_prompts` rows
 * against the target rows they wrote (`docs` and `prompt_versions` with origin "<schema>.<table>";
 * imported documents and prompts are not legacy rows and are left out), one to one by the legacy key
 * (kept as `source_id`). Compared: scope and tenant (NULL and the all-zero tenant are the root), the
 * values as the projection maps them (title trimmed, lang defaulting to "en", NULL tags dropped,
 * metadata in canonical jsonb text), timestamps in UTC; for prompts the version, text and the
 * legacy is_active flag (which version holds a scope's active pointer is decided by arrival order,
 * "the latest activation wins", and is not compared).
 *
 * The target tables have row-level security: the role reconciliation reads the target with must own
 * them (as the projector's does) or bypass RLS, or tenant rows look missing.
 */
export function knowledgeBaseReconciliation(sourceSchema: string): TableComparison[] {
  const docs = `${sourceSchema}.kb_documents`;
  const prompts = `${sourceSchema}.system_prompts`;
  const quarantineKey = (key: Record<string, unknown>) => (key.id === undefined || key.id === null ? null : String(key.id));
  const docColumns: Columns = {
    ...scopeColumns,
    title: [jsTrim('title'), 'title'],
    content: ['content', 'content_text'],
    source_uri: ['source_uri', 'source_uri'],
    lang: [`coalesce(nullif(${jsTrim('lang')}, ''), 'en')`, 'lang'],
    tags: [`coalesce(array_remove(tags, NULL), ARRAY[]::text[])::text`, 'tags::text'],
    metadata: [jsonText(jsonOr('metadata', '{}')), jsonText('metadata')],
    is_active: ['coalesce(is_active, true)', 'is_active'],
    created_at: [isoUtc('created_at'), isoUtc('created_at')],
    updated_at: [isoUtc('updated_at'), isoUtc('updated_at')],
  };
  const promptColumns: Columns = {
    ...scopeColumns,
    version: ['version', 'version'],
    prompt_text: ['content', 'prompt_text'],
    source_active: ['is_active', 'source_active'],
    created_at: [isoUtc('created_at'), isoUtc('created_at')],
    updated_at: [isoUtc('updated_at'), isoUtc('updated_at')],
  };
  return [
    {
      name: 'docs',
      sourceTable: docs,
      source: { from: '{source}.kb_documents', key: 'id::text', columns: split(docColumns, 0) },
      target: { from: '{target}.docs', key: 'source_id', columns: split(docColumns, 1), where: `origin = ${sqlLiteral(docs)}` },
      quarantineKey,
    },
    {
      name: 'prompt_versions',
      sourceTable: prompts,
      source: { from: '{source}.system_prompts', key: 'id::text', columns: split(promptColumns, 0) },
      target: { from: '{target}.prompt_versions', key: 'source_id', columns: split(promptColumns, 1), where: `origin = ${sqlLiteral(prompts)}` },
      quarantineKey,
    },
  ];
}
