import { isExcludedSchema, readCatalog, type Catalog } from '../../connectors/postgres-catalog/catalog-reader';
import { ConfigError } from '../../shared/errors';
import { displayUrl } from '../../shared/redact';
import { diffCatalogs, parseSchemaMap } from './schema-diff';
import { schemaDiffReport, type DatabaseInfo, type SchemaDiffReport } from './schema-diff.render';

export interface SchemaDiffOptions {
  sourceUrl: string;
  targetUrl: string;
  /** `legacy=target` pairs (or `name`: the same on both sides); default: every schema, paired by name. */
  schemaMap?: string[];
}

/**
 * `tandem schema-diff`: reads both catalogs (read-only), diffs them, and returns the report. A bad
 * --schema-map is a ConfigError (exit 2); the URLs in the report never carry a password.
 */
export async function runSchemaDiff(options: SchemaDiffOptions): Promise<SchemaDiffReport> {
  let map;
  try {
    map = parseSchemaMap(options.schemaMap, isExcludedSchema);
  } catch (error) {
    throw new ConfigError((error as Error).message);
  }
  const [source, target] = await Promise.all([
    readCatalog(options.sourceUrl, { schemas: map?.map((pair) => pair.source) }),
    readCatalog(options.targetUrl, { schemas: map?.map((pair) => pair.target) }),
  ]);
  const info = (url: string, catalog: Catalog): DatabaseInfo => ({ url: displayUrl(url), database: catalog.database, serverVersion: catalog.serverVersion });
  return schemaDiffReport(diffCatalogs(source, target, map), info(options.sourceUrl, source), info(options.targetUrl, target));
}
