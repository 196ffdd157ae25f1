import { Client, type Pool } from 'pg';
import type { TandemConfig } from '../config/config.schema';
import { FailbackRefusedError } from '../../shared/errors';
import { failbackNames } from '../../contracts/failback-names';
import { ensureFailbackSchema } from '../../connectors/postgres-legacy/failback-schema';
import { resolveProjectionDefinitions } from '../projection/projection.service';
import { failbackStore, type FailbackRecord } from '../../connectors/postgres-target/failback-repository';
import { prepareTargetCapture, type TargetTable } from '../../connectors/postgres-target/failback-target-capture';
import type { ProjectionDefinition } from '../../projections/framework/define-projection';

/** "schema.table" of every target table the projections carry back. */
export function failbackTables(definitions: ProjectionDefinition<unknown>[]): string[] {
  return targetTables(definitions).map(({ schema, table }) => `${schema}.${table}`);
}

function targetTables(definitions: ProjectionDefinition<unknown>[]): TargetTable[] {
  return definitions.flatMap((definition) => definition.invert!.tables.map((table) => ({ schema: definition.schema, table })));
}

/**
 * Makes a committed (or committing) cutover's projections fail back: target capture prepared,
 * failback's tables and replication origins in the legacy database, the failback recorded. With
 * `requireAll`, a projection without an inverse refuses it by name; without, such projections are
 * left out (the cutover commit carries back what it can). Null when none has an inverse.
 */
export async function prepareFailback(
  config: TandemConfig,
  pool: Pool,
  cutover: { id: number; projections: string[] },
  operator: string,
  options: { requireAll: boolean },
): Promise<FailbackRecord | null> {
  const definitions = (await resolveProjectionDefinitions(config, undefined, pool)).filter((definition) => cutover.projections.includes(definition.name));
  const without = definitions.filter((definition) => !definition.invert);
  if (options.requireAll && without.length > 0) {
    throw new FailbackRefusedError(
      `failback: projection(s) ${without.map((d) => d.name).join(', ')} declare no inverse (invert), so their target writes cannot flow back to the legacy tables`,
    );
  }
  const carried = definitions.filter((definition) => definition.invert);
  if (carried.length === 0) return null;
  const names = failbackNames(config.kafka.topicPrefix, config.source.slot, config.source.publication);
  const startLsn = await withClient(config.target!.url, (client) => prepareTargetCapture(client, names.slot, names.publication, targetTables(carried)));
  await withClient(config.source.url, async (client) => {
    for (const definition of carried) await ensureFailbackSchema(client, names.origin(definition.name));
  });
  return failbackStore.record(pool, {
    cutoverId: cutover.id,
    projections: carried.map((definition) => definition.name),
    slot: names.slot,
    publication: names.publication,
    startLsn,
    operator,
  });
}

export async function withClient<T>(url: string, work: (client: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: url, application_name: 'tandem-failback' });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}
