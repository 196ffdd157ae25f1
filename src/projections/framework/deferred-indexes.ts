import type { Pool } from 'pg';
import { ident } from '../../connectors/postgres-target/sql';
import type { ProjectionDefinition } from './define-projection';
import { withTransaction } from '../../shared/transaction';

/**
 * Builds a projection's deferred indexes (ProjectionDefinition.deferredIndexes) that are missing
 * from `schema`. One builder at a time per schema (an advisory lock); the index's table is locked
 * against writes while it builds, so the projector's next batch waits for it.
 * Returns the names of the indexes it built.
 */
export async function buildDeferredIndexes(
  pool: Pool,
  definition: ProjectionDefinition<unknown>,
  schema = definition.schema,
): Promise<string[]> {
  const wanted = definition.deferredIndexes ?? [];
  if (wanted.length === 0) return [];
  return withTransaction(pool, async (client) => {
    const built: string[] = [];
    await client.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [
      `tandem.deferred-index:${schema}`,
    ]);
    const { rows } = await client.query<{ indexname: string }>(
      'SELECT indexname FROM pg_indexes WHERE schemaname = $1',
      [schema],
    );
    const present = new Set(rows.map((row) => row.indexname));
    await client.query(`SET LOCAL search_path = ${ident(schema)}, public`);
    // An HNSW graph built in memory is many times faster than one spilled to disk.
    await client.query(`SET LOCAL maintenance_work_mem = '512MB'`);
    for (const index of wanted) {
      if (present.has(index.name)) continue;
      await client.query(index.sql);
      built.push(index.name);
    }
    return built;
  });
}
