import { isExcludedSchema, readCatalog, type Catalog } from '../../connectors/postgres-catalog/catalog-reader';
import { ConfigError } from '../../shared/errors';
import type { TandemConfig } from '../config/config.schema';
import { isMirrorEntry } from '../config/projection-entry.schema';
import { resolveProjectionDefinitions } from '../projection/projection.service';
import type { TandemResources } from '../core/tandem-resources';
import { loadMirrorSteps } from '../../connectors/postgres-target/mirror-steps';
import { normalizeTable } from '../../projections/mirror/mirror-config';
import { mirrorSpecs } from '../../projections/mirror/mirror-projection';
import { diffMirror } from './mirror-schema-diff';
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

/**
 * `tandem schema-diff --config … --projection <mirror>`: the mirror's source tables now against its
 * target tables, through its mapping (mirror-schema-diff.ts): the source DDL the mirror does not follow.
 */
export async function runMirrorSchemaDiff(config: TandemConfig, projection: string, resources: TandemResources): Promise<SchemaDiffReport> {
  const entry = config.projections.find((candidate) => isMirrorEntry(candidate) && candidate.name === projection);
  if (!entry || !isMirrorEntry(entry)) throw new ConfigError(`--projection ${projection}: not a mirror projection of the configuration`);
  const target = resources.target;
  const [definition] = await resolveProjectionDefinitions(config, projection, target);
  const steps = await loadMirrorSteps(target, projection);
  const specs = mirrorSpecs(steps, entry.mirror.tables.map((table) => normalizeTable(table).from));
  const schemas = [...new Set(specs.map((spec) => spec.source.slice(0, spec.source.indexOf('.'))))];
  const [source, targetCatalog] = await Promise.all([
    readCatalog(config.source.url, { schemas }),
    readCatalog(config.target!.url, { schemas: [definition.schema] }),
  ]);
  const info = (url: string, catalog: Catalog): DatabaseInfo => ({ url: displayUrl(url), database: catalog.database, serverVersion: catalog.serverVersion });
  return schemaDiffReport(diffMirror(specs, source, targetCatalog, definition.schema), info(config.source.url, source), info(config.target!.url, targetCatalog));
}
