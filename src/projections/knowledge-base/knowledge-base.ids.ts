import { createHash } from 'crypto';
import { deterministicUuid } from '../framework/define-projection';

/** The tenant id the seeds use for "no tenant": treated as the root scope, like NULL. */
export const ROOT_TENANT = '00000000-0000-0000-0000-000000000000';

/** The root tenant as an SQL literal (the key of root rows in the migrations). */
export const ROOT_TENANT_SQL = `'${ROOT_TENANT}'::uuid`;

/** Any 8-4-4-4-12 hex id, as PostgreSQL's uuid type takes it (no RFC version/variant check). */
export const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export type Scope = 'root' | 'tenant';

/** NULL and the all-zero tenant are the root scope; anything else is a tenant. */
export function scopeOf(tenantId: string | null | undefined): {
  scope: Scope;
  tenantId: string | null;
  tenantKey: string;
} {
  const tenant = tenantId ? tenantId.toLowerCase() : null;
  if (tenant === null || tenant === ROOT_TENANT)
    return { scope: 'root', tenantId: null, tenantKey: ROOT_TENANT };
  return { scope: 'tenant', tenantId: tenant, tenantKey: tenant };
}

/** The corpus of a scope: one root corpus (created by the migration), one per tenant (created on its first document). */
export function corpusId(tenantId: string | null): string {
  return deterministicUuid('knowledge-base', 'corpus', tenantId ?? 'root');
}

export const ROOT_CORPUS_ID = corpusId(null);

/**
 * The target id of a legacy row: a uuid key is kept as it is (nothing to remap); any other key
 * (e.g. a bigserial) becomes a deterministic uuid, and the remap is recorded in tandem.id_map.
 */
export function targetIdOf(
  entity: 'kb_doc' | 'prompt',
  source: string,
  sourceId: string,
): { id: string; remapped: boolean } {
  if (UUID_PATTERN.test(sourceId)) return { id: sourceId.toLowerCase(), remapped: false };
  return { id: deterministicUuid('knowledge-base', entity, source, sourceId), remapped: true };
}

export const sha256Hex = (text: string) => createHash('sha256').update(text, 'utf8').digest('hex');

/**
 * The natural key of an imported document: a hash of its title and source_uri, so that the same
 * export imported twice gives the same keys (and the same target ids).
 */
export function importedDocKey(title: string, sourceUri: string | null | undefined): string {
  return sha256Hex(`${title}\u0000${sourceUri ?? ''}`).slice(0, 32);
}

export const importedDocId = (docKey: string) =>
  deterministicUuid('knowledge-base', 'import', 'kb_doc', docKey);

/** An imported root prompt: one version per distinct text, so the same file imported twice is one version. */
export const importedPromptId = (textSha256: string) =>
  deterministicUuid('knowledge-base', 'import', 'prompt', 'root', textSha256);
