import type { TableComparison } from '../framework/define-reconciliation';
import { isoUtc, jsonText, sqlLiteral } from '../reconcile-sql';
import { DEFAULT_KIND, LEGACY_TABLE } from './memory.schemas';

/**
 * Reconciliation of the memory recipe: `memory.nodes` written from the legacy table (origin
 * "<schema>.memory_nodes"; imported nodes are not legacy rows and are left out) against the legacy
 * `memory_nodes`, one to one by node id. Compared: the scope (user, tenant), kind, content, metadata
 * as the projection stores it (an object as it is, JSON null or NULL as {}, any other value as
 * {"value": …}) in canonical jsonb text, the embedding in pgvector's text form, and the timestamps in
 * UTC. Nodes with a bad scope are quarantined by the target's constraint and show as quarantined.
 */
export function memoryReconciliation(sourceSchema: string): TableComparison[] {
  const legacySource = `${sourceSchema}.${LEGACY_TABLE}`;
  const metadata = (column: string) =>
    jsonText(
      `CASE WHEN ${column} IS NULL OR jsonb_typeof(${column}::jsonb) = 'null' THEN '{}'::jsonb` +
        ` WHEN jsonb_typeof(${column}::jsonb) = 'object' THEN ${column}::jsonb ELSE jsonb_build_object('value', ${column}::jsonb) END`,
    );
  const columns = (side: 'source' | 'target') => ({
    user_id: 'lower(user_id::text)',
    tenant_id: 'lower(tenant_id::text)',
    kind: side === 'source' ? `coalesce(kind, ${sqlLiteral(DEFAULT_KIND)})` : 'kind',
    content: 'content',
    metadata: side === 'source' ? metadata('metadata') : jsonText('metadata'),
    embedding: 'embedding::text',
    created_at: isoUtc('created_at'),
    updated_at: isoUtc('updated_at'),
  });
  return [
    {
      name: 'nodes',
      sourceTable: legacySource,
      source: { from: `{source}.${LEGACY_TABLE}`, key: 'id::text', columns: columns('source') },
      target: { from: '{target}.nodes', key: 'id', columns: columns('target'), where: `origin = ${sqlLiteral(legacySource)}` },
      quarantineKey: (key) => (key.id === undefined || key.id === null ? null : String(key.id)),
    },
  ];
}
