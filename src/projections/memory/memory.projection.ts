import { z } from 'zod';
import { defineProjection, type ProjectionEvent, type RowOperation } from '../framework/define-projection';
import { isUnavailable } from '../toastable';
import { MEMORY_DEFERRED_INDEXES, MEMORY_MIGRATIONS } from './memory.migrations';
import { memoryReconciliation } from './memory.reconcile';
import { memoryInverse } from './memory.inverse';
import {
  DEFAULT_KIND,
  IMPORT_SOURCE,
  LEGACY_TABLE,
  embeddingSchema,
  memoryNodeRow,
  type MemoryNodeRow,
} from './memory.schemas';

/** What every written `nodes` row must look like (checked before it is written; a failure quarantines the event). */
const nodeOutput = z.object({
  id: z.string().min(1).max(255),
  user_id: z.string().nullable(),
  tenant_id: z.string().nullable(),
  kind: z.string().min(1),
  content: z.string().optional(),
  embedding: embeddingSchema.optional(),
  origin: z.string().min(1),
});

/**
 * The jsonb column as capture sends it (a string holding the document) becomes a JSON value, so that
 * it is stored as the document and not as a JSON string; a scalar or array is kept under "value".
 */
export function metadataValue(metadata: string | null | undefined): Record<string, unknown> {
  if (metadata === null || metadata === undefined) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(metadata);
  } catch {
    throw new Error('metadata: not a JSON document');
  }
  if (parsed === null) return {};
  return typeof parsed === 'object' && !Array.isArray(parsed)
    ? (parsed as Record<string, unknown>)
    : { value: parsed };
}

/**
 * An unchanged TOASTed value (content, metadata, embedding) is left out of the row, so the stored
 * value stays. Left out, not passed on as the placeholder: jsonb_populate_recordset converts every
 * key of the row to its column's type, even a column the statement does not write, and the
 * placeholder is no valid vector ("invalid input syntax for type vector").
 */
export function withoutUnavailable(row: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(row).filter(([, value]) => !isUnavailable(value)));
}

/**
 * Seed 004: memory nodes, captured from the legacy `memory_nodes` table and imported from the
 * file-based store (nodes.json + nodes.npy, see memory.import.ts), into `memory.nodes`. The node
 * id is kept as it is (the seed's "mem_<hash>" ids, or the legacy uuid as text): the application
 * looks nodes up by the same id, so there is no remap. Captured changes carry a real LSN and so
 * always win over an imported copy of the same node (LSN 0).
 */
export function memoryProjection(sourceSchema = 'public') {
  const legacySource = `${sourceSchema}.${LEGACY_TABLE}`;

  return defineProjection<MemoryNodeRow>({
    name: 'memory',
    migrations: MEMORY_MIGRATIONS,
    deferredIndexes: MEMORY_DEFERRED_INDEXES,
    input: { [legacySource]: memoryNodeRow, [IMPORT_SOURCE]: memoryNodeRow },
    output: { nodes: nodeOutput },
    reconcile: memoryReconciliation(sourceSchema),
    invert: memoryInverse(sourceSchema),
    apply(event: ProjectionEvent<MemoryNodeRow>): RowOperation[] {
      // a TRUNCATE of one source empties what that source wrote, not the nodes of the other one
      if (event.op === 't') return [{ op: 'delete', table: 'nodes', match: { origin: event.source } }];
      if (event.op === 'd') {
        const id = event.before?.id;
        if (id === null || id === undefined) throw new Error('a delete without the node id (before.id)');
        return [{ op: 'delete', table: 'nodes', match: { id: String(id) } }];
      }
      const node = event.after!;
      const row: Record<string, unknown> = {
        id: node.id,
        user_id: node.user_id ?? null,
        tenant_id: node.tenant_id ?? null,
        kind: node.kind ?? DEFAULT_KIND,
        content: node.content,
        metadata: isUnavailable(node.metadata) ? node.metadata : metadataValue(node.metadata),
        embedding: node.embedding,
        created_at: node.created_at ?? null,
        updated_at: node.updated_at ?? null,
        origin: event.source,
      };
      return [{ op: 'upsert', table: 'nodes', key: ['id'], row: withoutUnavailable(row) }];
    },
  });
}
