import { Client } from 'pg';
import { readCatalogWith, type CatalogTable } from '../../connectors/postgres-catalog/catalog-reader';
import { readEnums } from '../../connectors/postgres-catalog/enum-reader';
import type { MirrorTableMapping } from './mirror-config';
import { buildTableSpec, MirrorSpecError, type BuildContext, type MirrorTableSpec } from './mirror-spec';

/** What the source catalog says about the mirrored tables: enough to build their specs. */
export interface MirrorSource {
  context: BuildContext;
  tableOf(name: string): CatalogTable | undefined;
}

/** Reads the source catalog of the schemas the mappings name (one read-only transaction). */
export async function readMirrorSource(url: string, mappings: MirrorTableMapping[]): Promise<MirrorSource> {
  const schemas = [...new Set(mappings.map((mapping) => mapping.from.split('.')[0]))];
  const client = new Client({ connectionString: url, application_name: 'tandem-mirror-catalog' });
  await client.connect();
  try {
    const catalog = await readCatalogWith(client, { schemas });
    const enums = await readEnums(client, schemas);
    const byName = new Map(catalog.tables.map((table) => [`${table.schema}.${table.name}`, table]));
    const tables = mappings.flatMap((mapping) => {
      const table = byName.get(mapping.from);
      return table ? [{ table, mapping }] : [];
    });
    return {
      context: { tables, enums, sourceSchemas: catalog.schemas.map((schema) => schema.quoted) },
      tableOf: (name) => byName.get(name),
    };
  } finally {
    await client.end();
  }
}

/** The spec of one mapped table from what was read. */
export function specFromSource(source: MirrorSource, mapping: MirrorTableMapping): MirrorTableSpec {
  const table = source.tableOf(mapping.from);
  if (!table) throw new MirrorSpecError(`mirror table ${mapping.from}: no such table in the source database`);
  return buildTableSpec(table, mapping, source.context);
}
