import type { LegacyRowOperation, ProjectionInverse, TargetChange } from '../framework/define-inverse';
import { IMPORT_SOURCE, LEGACY_TABLE } from './memory.schemas';

/**
 * Failback of `memory.nodes` into the legacy `memory_nodes`, column for column (the id stays the
 * id). Nodes imported from the file-based store (origin import.nodes) never had a legacy row and
 * are not carried back. A timestamp the target left empty takes the legacy column's default.
 */
export function memoryInverse(sourceSchema: string): ProjectionInverse {
  const table = `${sourceSchema}.${LEGACY_TABLE}`;
  return {
    tables: ['nodes'],
    apply(change: TargetChange): LegacyRowOperation[] {
      const node = change.after ?? change.before!;
      if (node.origin === IMPORT_SOURCE) return [];
      if (change.op === 'd') return [{ op: 'delete', table, match: { id: String(node.id) } }];
      const row: Record<string, unknown> = {
        id: String(node.id),
        user_id: node.user_id ?? null,
        tenant_id: node.tenant_id ?? null,
        kind: node.kind,
        content: node.content,
        metadata: typeof node.metadata === 'string' ? JSON.parse(node.metadata) : node.metadata, // jsonb arrives as its text
        embedding: node.embedding,
      };
      for (const column of ['created_at', 'updated_at']) if (node[column] !== null && node[column] !== undefined) row[column] = node[column];
      return [{ op: 'upsert', table, key: ['id'], row }];
    },
  };
}
