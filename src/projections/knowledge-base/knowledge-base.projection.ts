import { z } from 'zod';
import { defineProjection, type ProjectionEvent, type RowOperation } from '../framework/define-projection';
import { UNAVAILABLE_VALUE } from '../../contracts/envelope';
import { isUnavailable, toastable } from '../toastable';
import { KNOWLEDGE_BASE_MIGRATIONS } from './knowledge-base.migrations';
import { knowledgeBaseReconciliation } from './knowledge-base.reconcile';
import {
  corpusId,
  importedDocId,
  importedPromptId,
  scopeOf,
  targetIdOf,
  UUID_PATTERN,
} from './knowledge-base.ids';

/**
 * Seed 000 (Aigent Nakamoto into the QubeBase Core Hub): the legacy knowledge base and system
 * prompts, captured, plus the nakamoto_kb.json / nakamoto_system_prompt.txt exports, imported
 * through the same log. See knowledge-base.migrations.ts for what SQL decides (reindex queue,
 * storage limits, prompt versions, row-level security) and README.md for the whole design.
 */

/** The import tables (topics `<prefix>.import.<table>`) the importer writes and the projection reads. */
export const IMPORT_DOCS_TABLE = 'nakamoto_kb';
export const IMPORT_PROMPT_TABLE = 'nakamoto_system_prompt';

const uuidLike = (what: string) => z.string().regex(UUID_PATTERN, `${what} is not a valid uuid`);
const legacyId = z.union([z.string().min(1, 'id is empty'), z.number().int()]).transform(String);

/**
 * A jsonb column arrives as a string holding the JSON document; stored as jsonb it must be the
 * document itself. The unchanged-TOAST placeholder passes through as it is.
 */
const jsonObjectColumn = z
  .string()
  .nullable()
  .transform((text, context): Record<string, unknown> | typeof UNAVAILABLE_VALUE | null => {
    if (text === null || isUnavailable(text)) return text;
    try {
      const value: unknown = JSON.parse(text);
      if (typeof value === 'object' && value !== null && !Array.isArray(value))
        return value as Record<string, unknown>;
    } catch {
      // reported below
    }
    context.addIssue({ code: 'custom', message: 'expected a JSON object' });
    return z.NEVER;
  });

const tagList = z
  .array(z.string().nullable())
  .transform((tags) => tags.filter((tag): tag is string => tag !== null));

/** A row of the legacy `kb_documents` table (see demo/knowledge-base.ts). */
const legacyDoc = z.object({
  id: legacyId,
  tenant_id: uuidLike('tenant_id').nullable().optional(),
  title: z.string().trim().min(1, 'title is empty'),
  content: toastable(z.string().nullable()).optional(),
  source_uri: z.string().nullable().optional(),
  lang: z.string().nullable().optional(),
  tags: toastable(tagList.nullable()).optional(),
  metadata: jsonObjectColumn.optional(),
  is_active: z.boolean().nullable().optional(),
  created_at: z.string().nullable().optional(),
  updated_at: z.string().nullable().optional(),
});

/** A row of the legacy `system_prompts` table. */
const legacyPrompt = z.object({
  id: legacyId,
  tenant_id: uuidLike('tenant_id').nullable().optional(),
  content: toastable(z.string()),
  version: z.number().int('version is not an integer'),
  is_active: z.boolean(),
  created_at: z.string().nullable().optional(),
  updated_at: z.string().nullable().optional(),
});

/** A record of nakamoto_kb.json as the importer wrote it (validated there, checked again here). */
const importedDoc = z.object({
  doc_key: z.string().min(1),
  title: z.string().min(1),
  content_text: z.string().nullable(),
  source_uri: z.string().nullable(),
  lang: z.string().min(1),
  tags: z.array(z.string()),
  metadata: z.record(z.string(), z.unknown()),
});

/** nakamoto_system_prompt.txt: the root prompt. */
const importedPrompt = z.object({
  scope: z.literal('root'),
  text_sha256: z.string().regex(/^[0-9a-f]{64}$/),
  prompt_text: z.string().min(1),
});

export type LegacyDoc = z.infer<typeof legacyDoc>;
export type LegacyPrompt = z.infer<typeof legacyPrompt>;
export type ImportedDoc = z.infer<typeof importedDoc>;
export type ImportedPrompt = z.infer<typeof importedPrompt>;
export type KnowledgeBaseRow = LegacyDoc | LegacyPrompt | ImportedDoc | ImportedPrompt;

type SourceKind = 'doc' | 'prompt' | 'import-doc' | 'import-prompt';

/** Keeps the unchanged-TOAST placeholder as it is (the row writer then leaves the column out). */
const keep = <T, R>(
  value: T | typeof UNAVAILABLE_VALUE,
  map: (value: T) => R,
): R | typeof UNAVAILABLE_VALUE => (isUnavailable(value) ? UNAVAILABLE_VALUE : map(value as T));

export function knowledgeBaseProjection(sourceSchema = 'public') {
  const sources: Record<string, SourceKind> = {
    [`${sourceSchema}.kb_documents`]: 'doc',
    [`${sourceSchema}.system_prompts`]: 'prompt',
    [`import.${IMPORT_DOCS_TABLE}`]: 'import-doc',
    [`import.${IMPORT_PROMPT_TABLE}`]: 'import-prompt',
  };
  const inputs: Record<SourceKind, z.ZodType<KnowledgeBaseRow>> = {
    doc: legacyDoc as z.ZodType<KnowledgeBaseRow>,
    prompt: legacyPrompt as z.ZodType<KnowledgeBaseRow>,
    'import-doc': importedDoc as z.ZodType<KnowledgeBaseRow>,
    'import-prompt': importedPrompt as z.ZodType<KnowledgeBaseRow>,
  };

  return defineProjection<KnowledgeBaseRow>({
    name: 'knowledge-base',
    migrations: KNOWLEDGE_BASE_MIGRATIONS,
    reconcile: knowledgeBaseReconciliation(sourceSchema),
    input: Object.fromEntries(Object.entries(sources).map(([source, kind]) => [source, inputs[kind]])),
    apply(event: ProjectionEvent<KnowledgeBaseRow>): RowOperation[] {
      const kind = sources[event.source];
      const isDoc = kind === 'doc' || kind === 'import-doc';
      // A truncate empties what came from that source table only (imported rows stay).
      if (event.op === 't')
        return [{ op: 'delete', table: isDoc ? 'docs' : 'prompt_versions', match: { origin: event.source } }];
      if (event.op === 'd') {
        const sourceId = String(event.before?.id ?? '');
        if (!sourceId) throw new Error(`a delete of ${event.source} without the key column id`);
        const { id } = targetIdOf(isDoc ? 'kb_doc' : 'prompt', event.source, sourceId);
        // active_prompts rows go with their version (ON DELETE CASCADE)
        return [{ op: 'delete', table: isDoc ? 'docs' : 'prompt_versions', match: { id } }];
      }
      switch (kind) {
        case 'doc':
          return legacyDocOperations(event.source, event.after as LegacyDoc);
        case 'import-doc':
          return importedDocOperations(event.source, event.after as ImportedDoc);
        case 'prompt':
          return legacyPromptOperations(event.source, event.after as LegacyPrompt);
        case 'import-prompt':
          return importedPromptOperations(event.source, event.after as ImportedPrompt);
      }
    },
  });
}

function legacyDocOperations(source: string, doc: LegacyDoc): RowOperation[] {
  const { id, remapped } = targetIdOf('kb_doc', source, doc.id);
  const { scope, tenantId } = scopeOf(doc.tenant_id);
  const row: Record<string, unknown> = {
    id,
    origin: source,
    source_id: doc.id,
    corpus_id: corpusId(tenantId),
    scope,
    tenant_id: tenantId,
    title: doc.title,
    content_text: keep(doc.content ?? null, (content) => content),
    source_uri: doc.source_uri ?? null,
    lang: doc.lang?.trim() || 'en',
    tags: keep(doc.tags ?? null, (tags) => tags ?? []),
    metadata: keep(doc.metadata ?? null, (metadata) => metadata ?? {}),
    is_active: doc.is_active ?? true,
    created_at: doc.created_at ?? null,
    updated_at: doc.updated_at ?? null,
  };
  return [
    { op: 'upsert', table: 'docs', key: ['id'], row },
    ...(remapped ? [{ op: 'mapId' as const, entity: 'kb_doc', sourceId: doc.id, targetId: id }] : []),
  ];
}

function importedDocOperations(source: string, doc: ImportedDoc): RowOperation[] {
  return [
    {
      op: 'upsert',
      table: 'docs',
      key: ['id'],
      row: {
        id: importedDocId(doc.doc_key),
        origin: source,
        source_id: doc.doc_key,
        corpus_id: corpusId(null),
        scope: 'root',
        tenant_id: null,
        title: doc.title,
        content_text: doc.content_text,
        source_uri: doc.source_uri,
        lang: doc.lang,
        tags: doc.tags,
        metadata: doc.metadata,
        is_active: true,
      },
    },
  ];
}

/**
 * A prompt version, and the scope's active pointer: an active version takes the pointer of its
 * scope (unless a later activation holds it: the LSN guard) and leaves any other scope's; an
 * inactive version leaves every pointer it holds.
 */
function promptOperations(
  version: Record<string, unknown> & { id: string; origin: string },
  tenantId: string | null,
  active: boolean,
): RowOperation[] {
  const { scope, tenantKey } = scopeOf(tenantId);
  return [
    { op: 'upsert', table: 'prompt_versions', key: ['id'], row: version },
    {
      op: 'deleteExcept',
      table: 'active_prompts',
      match: { prompt_id: version.id },
      column: 'tenant_key',
      keep: active ? [tenantKey] : [],
    },
    ...(active
      ? [
          {
            op: 'upsert' as const,
            table: 'active_prompts',
            key: ['tenant_key'],
            row: {
              tenant_key: tenantKey,
              scope,
              tenant_id: tenantId,
              prompt_id: version.id,
              origin: version.origin,
            },
          },
        ]
      : []),
  ];
}

function legacyPromptOperations(source: string, prompt: LegacyPrompt): RowOperation[] {
  const { id, remapped } = targetIdOf('prompt', source, prompt.id);
  const { scope, tenantId } = scopeOf(prompt.tenant_id);
  const operations = promptOperations(
    {
      id,
      origin: source,
      source_id: prompt.id,
      scope,
      tenant_id: tenantId,
      version: prompt.version,
      prompt_text: prompt.content,
      source_active: prompt.is_active,
      created_at: prompt.created_at ?? null,
      updated_at: prompt.updated_at ?? null,
    },
    tenantId,
    prompt.is_active,
  );
  return remapped
    ? [...operations, { op: 'mapId', entity: 'prompt', sourceId: prompt.id, targetId: id }]
    : operations;
}

function importedPromptOperations(source: string, prompt: ImportedPrompt): RowOperation[] {
  const id = importedPromptId(prompt.text_sha256);
  // no version: the target gives the next one of the scope on first insert (assign_prompt_version)
  return promptOperations(
    {
      id,
      origin: source,
      source_id: prompt.text_sha256,
      scope: 'root',
      tenant_id: null,
      prompt_text: prompt.prompt_text,
      source_active: true,
    },
    null,
    true,
  );
}
