import type { Catalog, CatalogColumn, CatalogConstraint, CatalogIndex, CatalogTable } from '../../connectors/postgres-catalog/catalog-reader';

/**
 * The difference between two catalogs (legacy = source, new = target), pure: what the target lacks
 * (missing), what only the target has (new), and what both have in another shape (changed).
 *
 * Tables are paired by (schema, name) through the schema map (legacy schema → target schema; without
 * one, schemas pair by name). Columns pair by name (their order is not compared). Indexes and
 * constraints pair by definition, not by name: a definition is compared with the table's own name
 * and the index's name taken out and the mapped schemas renamed, so an index that is the same
 * under another name is the same; an unpaired one of the same name on both sides is "changed", any
 * other one missing or new. An index that enforces a constraint (primary key, unique, exclusion) is
 * compared as that constraint only, so one missing primary key is one difference.
 */
export const DIFFERENCE_KINDS = [
  'missing_table',
  'new_table',
  'missing_column',
  'new_column',
  'type_changed',
  'nullability_changed',
  'default_changed',
  'missing_index',
  'new_index',
  'index_changed',
  'missing_constraint',
  'new_constraint',
  'constraint_changed',
] as const;

export type DifferenceKind = (typeof DIFFERENCE_KINDS)[number];

export interface SchemaDifference {
  kind: DifferenceKind;
  /** "schema.table" in the source (legacy); null for a new table. */
  sourceTable: string | null;
  /** "schema.table" in the target; for a missing table, where it was expected. */
  targetTable: string;
  /** The column, index or constraint; null for a table. */
  name: string | null;
  /** What the source has: a column's type, "NULL" / "NOT NULL", a default, a definition; null when absent. */
  source: string | null;
  /** What the target has; null when absent. */
  target: string | null;
}

export interface SchemaPair {
  source: string;
  target: string;
}

export interface SchemaDiffResult {
  schemas: SchemaPair[];
  tablesCompared: number;
  differences: SchemaDifference[];
  /** Per kind, how many (every kind present, 0 when none). */
  counts: Record<DifferenceKind, number>;
}

/**
 * Parses `legacy=target` (or `name`, the same on both sides) pairs. Throws on a malformed pair, a
 * schema given twice, or an excluded schema.
 */
export function parseSchemaMap(values: string[] | undefined, isExcluded: (name: string) => boolean = () => false): SchemaPair[] | null {
  if (!values || values.length === 0) return null;
  const pairs: SchemaPair[] = [];
  for (const value of values.flatMap((v) => v.split(',')).map((v) => v.trim()).filter(Boolean)) {
    const parts = value.split('=');
    if (parts.length > 2 || parts.some((part) => part.trim() === '')) throw new Error(`--schema-map: "${value}" is not legacy=target`);
    const source = parts[0].trim();
    const target = (parts[1] ?? parts[0]).trim();
    for (const name of [source, target]) {
      if (isExcluded(name)) throw new Error(`--schema-map: "${name}" is a system schema or Tandem's own, never compared`);
    }
    if (pairs.some((pair) => pair.source === source)) throw new Error(`--schema-map: source schema "${source}" is mapped twice`);
    if (pairs.some((pair) => pair.target === target)) throw new Error(`--schema-map: target schema "${target}" is mapped twice`);
    pairs.push({ source, target });
  }
  return pairs;
}

const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * Renames schema qualifiers in a definition or type (`legacy.users` → `app.users`): only where the
 * quoted schema name stands as a qualifier (followed by a dot, not preceded by a name character).
 */
export function renameSchemas(text: string, renames: Array<{ from: string; to: string }>): string {
  let result = text;
  for (const { from, to } of renames) {
    if (from === to) continue;
    result = result.replace(new RegExp(`(^|[^A-Za-z0-9_$".])${escapeRegExp(from)}\\.`, 'g'), (_, before: string) => `${before}${to}.`);
  }
  return result;
}

/** The part of an index definition that says what it indexes: "[UNIQUE ]USING btree (email) WHERE …". */
export function indexShape(index: CatalogIndex, table: CatalogTable): string {
  const marker = ` ON ${table.qualified} USING `;
  const markerOnly = ` ON ONLY ${table.qualified} USING `;
  const at = index.definition.indexOf(marker);
  const atOnly = index.definition.indexOf(markerOnly);
  const body =
    at >= 0 ? index.definition.slice(at + marker.length) : atOnly >= 0 ? index.definition.slice(atOnly + markerOnly.length) : index.definition;
  return `${index.unique ? 'UNIQUE ' : ''}USING ${body}`;
}

const tableName = (table: CatalogTable) => `${table.schema}.${table.name}`;
const nullability = (column: CatalogColumn) => (column.nullable ? 'NULL' : 'NOT NULL');
const columnText = (column: CatalogColumn) =>
  `${column.type} ${nullability(column)}${column.default === null ? '' : ` DEFAULT ${column.default}`}`;
const constraintText = (constraint: CatalogConstraint) => `${constraint.type.toUpperCase()}: ${constraint.definition}`;

/** Pairs of schemas to compare: the map, or every schema of either side by its own name. */
export function schemaPairs(source: Catalog, target: Catalog, map: SchemaPair[] | null): SchemaPair[] {
  if (map) return map;
  const names = new Set([...source.schemas.map((s) => s.name), ...target.schemas.map((s) => s.name)]);
  return [...names].sort().map((name) => ({ source: name, target: name }));
}

export function diffCatalogs(source: Catalog, target: Catalog, map: SchemaPair[] | null = null): SchemaDiffResult {
  const pairs = schemaPairs(source, target, map);
  const quoted = (catalog: Catalog, name: string) => catalog.schemas.find((s) => s.name === name)?.quoted ?? `"${name.replace(/"/g, '""')}"`;
  // source spellings → target spellings, so that equal definitions compare equal
  const renames = pairs.map((pair) => ({ from: quoted(source, pair.source), to: quoted(target, pair.target) }));
  const normalize = (text: string) => renameSchemas(text, renames);

  const differences: SchemaDifference[] = [];
  let tablesCompared = 0;
  for (const pair of pairs) {
    const sourceTables = new Map(source.tables.filter((t) => t.schema === pair.source).map((t) => [t.name, t]));
    const targetTables = new Map(target.tables.filter((t) => t.schema === pair.target).map((t) => [t.name, t]));
    for (const [name, table] of sourceTables) {
      const other = targetTables.get(name);
      if (!other) {
        differences.push({
          kind: 'missing_table',
          sourceTable: tableName(table),
          targetTable: `${pair.target}.${name}`,
          name: null,
          source: `${table.columns.length} columns`,
          target: null,
        });
        continue;
      }
      tablesCompared++;
      differences.push(...diffTables(table, other, normalize));
    }
    for (const [name, table] of targetTables) {
      if (sourceTables.has(name)) continue;
      differences.push({ kind: 'new_table', sourceTable: null, targetTable: tableName(table), name: null, source: null, target: `${table.columns.length} columns` });
    }
  }
  differences.sort(
    (a, b) =>
      compareText(a.targetTable, b.targetTable) ||
      DIFFERENCE_KINDS.indexOf(a.kind) - DIFFERENCE_KINDS.indexOf(b.kind) ||
      compareText(a.name ?? '', b.name ?? ''),
  );
  const counts = Object.fromEntries(DIFFERENCE_KINDS.map((kind) => [kind, 0])) as Record<DifferenceKind, number>;
  for (const difference of differences) counts[difference.kind]++;
  return { schemas: pairs, tablesCompared, differences, counts };
}

const compareText = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

function diffTables(source: CatalogTable, target: CatalogTable, normalize: (text: string) => string): SchemaDifference[] {
  const differences: SchemaDifference[] = [];
  const at = { sourceTable: tableName(source), targetTable: tableName(target) };

  const targetColumns = new Map(target.columns.map((c) => [c.name, c]));
  const sourceColumns = new Map(source.columns.map((c) => [c.name, c]));
  for (const column of source.columns) {
    const other = targetColumns.get(column.name);
    if (!other) {
      differences.push({ kind: 'missing_column', ...at, name: column.name, source: columnText(column), target: null });
      continue;
    }
    if (normalize(column.type) !== other.type) differences.push({ kind: 'type_changed', ...at, name: column.name, source: column.type, target: other.type });
    if (column.nullable !== other.nullable)
      differences.push({ kind: 'nullability_changed', ...at, name: column.name, source: nullability(column), target: nullability(other) });
    if ((column.default === null ? null : normalize(column.default)) !== other.default)
      differences.push({ kind: 'default_changed', ...at, name: column.name, source: column.default, target: other.default });
  }
  for (const column of target.columns) {
    if (!sourceColumns.has(column.name)) differences.push({ kind: 'new_column', ...at, name: column.name, source: null, target: columnText(column) });
  }

  // indexes that enforce a constraint are compared as the constraint
  const plainIndexes = (table: CatalogTable) => table.indexes.filter((index) => index.constraint === null);
  differences.push(
    ...pairByShape(
      plainIndexes(source).map((index) => ({ name: index.name, shape: normalize(indexShape(index, source)), text: index.definition })),
      plainIndexes(target).map((index) => ({ name: index.name, shape: indexShape(index, target), text: index.definition })),
      { missing: 'missing_index', added: 'new_index', changed: 'index_changed' },
      at,
    ),
  );
  differences.push(
    ...pairByShape(
      source.constraints.map((constraint) => ({ name: constraint.name, shape: normalize(constraintText(constraint)), text: constraintText(constraint) })),
      target.constraints.map((constraint) => ({ name: constraint.name, shape: constraintText(constraint), text: constraintText(constraint) })),
      { missing: 'missing_constraint', added: 'new_constraint', changed: 'constraint_changed' },
      at,
    ),
  );
  return differences;
}

interface Shaped {
  name: string;
  /** What is compared (normalized). */
  shape: string;
  /** What is shown. */
  text: string;
}

function pairByShape(
  source: Shaped[],
  target: Shaped[],
  kinds: { missing: DifferenceKind; added: DifferenceKind; changed: DifferenceKind },
  at: { sourceTable: string; targetTable: string },
): SchemaDifference[] {
  const unpairedTarget = [...target];
  const unpairedSource: Shaped[] = [];
  for (const item of source) {
    // same shape: the same name first, else any
    const sameNameAndShape = unpairedTarget.findIndex((other) => other.shape === item.shape && other.name === item.name);
    const index = sameNameAndShape >= 0 ? sameNameAndShape : unpairedTarget.findIndex((other) => other.shape === item.shape);
    if (index >= 0) unpairedTarget.splice(index, 1);
    else unpairedSource.push(item);
  }
  const differences: SchemaDifference[] = [];
  for (const item of unpairedSource) {
    const sameName = unpairedTarget.findIndex((other) => other.name === item.name);
    if (sameName >= 0) {
      const [other] = unpairedTarget.splice(sameName, 1);
      differences.push({ kind: kinds.changed, ...at, name: item.name, source: item.text, target: other.text });
    } else {
      differences.push({ kind: kinds.missing, ...at, name: item.name, source: item.text, target: null });
    }
  }
  for (const other of unpairedTarget) differences.push({ kind: kinds.added, ...at, name: other.name, source: null, target: other.text });
  return differences;
}
