import type { Catalog, CatalogTable } from '../../connectors/postgres-catalog/catalog-reader';
import type { MirrorTableSpec } from '../../projections/mirror/mirror-spec';
import { DIFFERENCE_KINDS, type DifferenceKind, type SchemaDifference, type SchemaDiffResult } from './schema-diff';

const BOOKKEEPING = new Set(['_source_key', '_source_lsn']);
const nullability = (nullable: boolean) => (nullable ? 'NULL' : 'NOT NULL');

/**
 * What a mirror's target tables lack or hold differently from their source tables now, through the
 * mirror's mapping (renamed columns paired, excluded ones ignored, Tandem's bookkeeping columns
 * ignored): the source DDL the mirror does not follow by itself (a dropped or retyped column, a
 * changed nullability), and a column added at the source that no event has brought yet. Pure.
 */
export function diffMirror(specs: MirrorTableSpec[], source: Catalog, target: Catalog, targetSchema: string): SchemaDiffResult {
  const differences: SchemaDifference[] = [];
  const find = (catalog: Catalog, schema: string, name: string) => catalog.tables.find((table) => table.schema === schema && table.name === name);
  let tablesCompared = 0;
  for (const spec of specs) {
    const [sourceSchema, sourceName] = [spec.source.slice(0, spec.source.indexOf('.')), spec.source.slice(spec.source.indexOf('.') + 1)];
    const from = find(source, sourceSchema, sourceName);
    const to = find(target, targetSchema, spec.target);
    const targetTable = `${targetSchema}.${spec.target}`;
    if (!to) {
      differences.push({ kind: 'missing_table', sourceTable: spec.source, targetTable, name: null, source: spec.source, target: null });
      continue;
    }
    if (!from) {
      differences.push({ kind: 'new_table', sourceTable: null, targetTable, name: null, source: null, target: targetTable });
      continue;
    }
    tablesCompared++;
    const quoted = (catalog: Catalog, name: string) => catalog.schemas.find((schema) => schema.name === name)?.quoted ?? name;
    differences.push(
      ...diffColumns(spec, from, to, { sourceTable: spec.source, targetTable, schemas: [quoted(source, sourceSchema), quoted(target, targetSchema)] }),
    );
  }
  const counts = Object.fromEntries(DIFFERENCE_KINDS.map((kind) => [kind, differences.filter((d) => d.kind === kind).length])) as Record<DifferenceKind, number>;
  const schemas = [...new Set(specs.map((spec) => spec.source.slice(0, spec.source.indexOf('.'))))].map((name) => ({ source: name, target: targetSchema }));
  return { schemas, tablesCompared, differences, counts };
}

function diffColumns(
  spec: MirrorTableSpec,
  from: CatalogTable,
  to: CatalogTable,
  where: { sourceTable: string; targetTable: string; schemas: [string, string] },
): SchemaDifference[] {
  const differences: SchemaDifference[] = [];
  const excluded = new Set(spec.exclude);
  // the source schema's enums live in the target schema: compare types without those qualifiers
  const type = (text: string, quoted: string) => text.split(`${quoted}.`).join('');
  const paired = new Set<string>();
  for (const column of from.columns) {
    if (excluded.has(column.name)) continue;
    const name = spec.renames[column.name] ?? column.name;
    const counterpart = to.columns.find((candidate) => candidate.name === name);
    paired.add(name);
    if (!counterpart) {
      differences.push({ kind: 'missing_column', ...pair(where), name, source: `${column.type} ${nullability(column.nullable)} (added on its first event)`, target: null });
      continue;
    }
    const [a, b] = [type(column.type, where.schemas[0]), type(counterpart.type, where.schemas[1])];
    if (a !== b) differences.push({ kind: 'type_changed', ...pair(where), name, source: column.type, target: counterpart.type });
    if (column.nullable !== counterpart.nullable)
      differences.push({ kind: 'nullability_changed', ...pair(where), name, source: nullability(column.nullable), target: nullability(counterpart.nullable) });
  }
  for (const column of to.columns) {
    if (paired.has(column.name) || BOOKKEEPING.has(column.name)) continue;
    differences.push({ kind: 'new_column', ...pair(where), name: column.name, source: null, target: column.type });
  }
  return differences;
}

const pair = (where: { sourceTable: string; targetTable: string }) => ({ sourceTable: where.sourceTable, targetTable: where.targetTable });
