import type { SourceReadiness, TableReadiness } from './capture-readiness';

/**
 * The commented tandem.yaml `tandem init` writes: the source tables, a mirror projection of them,
 * Kafka's defaults. Pure: the same inputs give the same text. No password is ever written.
 */

export interface InitConfigInput {
  database: string;
  serverVersion: string;
  schemas: string[];
  sourceUrl: string;
  targetUrl?: string;
  brokers: string[];
  publication: string;
  readiness: SourceReadiness;
}

/** A connection URL without its password (the file may be shared; passwords come from the environment). */
export function withoutPassword(url: string): string {
  try {
    const parsed = new URL(url);
    if (!parsed.password) return url;
    parsed.password = '';
    return parsed.toString();
  } catch {
    return url.replace(/(:\/\/[^:/@\s]+):[^@\s]*@/, '$1@');
  }
}

/** A name fit for a projection or topic prefix, from the database's name. */
export function nameFrom(database: string): string {
  const name = database.toLowerCase().replace(/[^a-z0-9_-]+/g, '-').replace(/^[^a-z]+/, '').slice(0, 63);
  return name || 'app';
}

function keyComment(table: TableReadiness): string {
  if (table.key.length > 0) return `key (${table.key.join(', ')})`;
  if (table.replicaIdentity === 'full') return 'no key; REPLICA IDENTITY FULL';
  return 'NO KEY: see the fix printed by tandem init';
}

export function captured(readiness: SourceReadiness): TableReadiness[] {
  return readiness.tables.filter((table) => table.partitionOf === null);
}

export function renderInitConfig(input: InitConfigInput): string {
  const tables = captured(input.readiness);
  const names = tables.map((t) => `${t.schema}.${t.name}`);
  const width = Math.max(...names.map((n) => n.length)) + 2;
  const name = nameFrom(input.database);
  const partitions = input.readiness.tables.filter((t) => t.partitionOf !== null);
  const lines = [
    `# tandem.yaml, written by \`tandem init\` from the database "${input.database}" (PostgreSQL ${input.serverVersion}),`,
    `# schemas: ${input.schemas.join(', ')}. Every key is described in Tandem's README.`,
    '# No password is written here: TANDEM_SOURCE_URL and TANDEM_TARGET_URL override the URLs below,',
    '# or PostgreSQL reads it from PGPASSWORD / ~/.pgpass.',
    '',
    'source:',
    `  url: ${withoutPassword(input.sourceUrl)}`,
    `  publication: ${input.publication}   # created by \`tandem capture\` if missing; missing tables are added`,
    '  slot: tandem_slot          # the logical replication slot capture creates and reads',
    '  tables:                    # one Kafka topic each: <topicPrefix>.<schema>.<table>',
    ...names.map((n, i) => `    - ${n.padEnd(width)}# ${keyComment(tables[i])}`),
    ...partitions.map((t) => `    # ${t.schema}.${t.name} is a partition of ${t.partitionOf}: list the parent instead`),
    '  snapshot: { mode: initial }   # copy the rows there are first, then stream every change',
    '',
    'kafka:',
    `  brokers: [${input.brokers.join(', ')}]   # TANDEM_KAFKA_BROKERS (comma-separated) overrides`,
    `  topicPrefix: ${name}`,
    '  partitions: 3',
    '  replicationFactor: 1       # 3 on a production cluster',
    '',
    ...(input.targetUrl
      ? ['target:', `  url: ${withoutPassword(input.targetUrl)}   # the new database`]
      : ['# target:                  # the new database: needed by project, reconcile, cutover, replay', '#   url: postgres://user@host:5432/db   # or TANDEM_TARGET_URL']),
    '',
    "# cutover:                  # tandem cutover freezes the legacy application's roles (read-only)",
    '#   applicationRoles: [app]',
    '',
    'projections:',
    '  # A copy of every table above in the target, in the schema of the same name (one mirror per',
    '  # schema): same columns, types, keys and indexes, created from the source catalog. Rename tables',
    '  # or columns, leave columns out or filter rows per table (`schema:` sets the target schema):',
    '  #   - { from: schema.table, to: new_name, columns: { old: new }, exclude: [col], where: "SQL" }',
    ...mirrorEntries(name, names),
    '  # A projection of your own (a module whose default export is made with defineProjection from',
    "  # 'tandem'; see examples/shop/projections/orders.ts in Tandem's repository):",
    '  # - name: orders-model',
    '  #   module: ./projections/orders.ts',
    '  #   options: {}',
    '',
  ];
  return lines.join('\n');
}

/**
 * One mirror per source schema: a mirror writes into one target schema (by default its tables'
 * own), so tables of two schemas (perhaps of the same name) stay apart.
 */
function mirrorEntries(name: string, tables: string[]): string[] {
  const bySchema = new Map<string, string[]>();
  for (const table of tables) {
    const schema = table.slice(0, table.indexOf('.'));
    bySchema.set(schema, [...(bySchema.get(schema) ?? []), table]);
  }
  return [...bySchema].flatMap(([schema, list]) => [
    `  - name: ${bySchema.size === 1 ? name : nameFrom(`${name}-${schema}`)}`,
    '    mirror:',
    '      tables:',
    ...list.map((table) => `        - ${table}`),
  ]);
}

/** The readiness report printed by `tandem init`: per table what capture needs, and the fixes. */
export function renderReadiness(readiness: SourceReadiness, file = 'tandem.yaml'): string {
  const tables = readiness.tables;
  const width = Math.max(10, ...tables.map((t) => t.schema.length + t.name.length + 1)) + 2;
  const lines = [`wal_level=${readiness.walLevel}, role ${readiness.role}${readiness.canReplicate ? ' (REPLICATION)' : ''}`];
  for (const problem of readiness.problems) lines.push(`  ✗ ${problem.reason}`, `      fix: ${problem.fix}`);
  lines.push('');
  for (const table of tables) {
    const name = `${table.schema}.${table.name}`.padEnd(width);
    if (table.partitionOf) {
      lines.push(`${name}skipped: a partition of ${table.partitionOf}`);
      continue;
    }
    const state = table.problems.length === 0 ? 'ready' : 'NOT READY';
    lines.push(`${name}${state}: ${keyComment(table)}${table.canSelect ? ', SELECT' : ''}`);
    for (const problem of table.problems) lines.push(`  ✗ ${problem.reason}`, `      fix: ${problem.fix}`);
  }
  const blocking = readiness.problems.length + tables.reduce((n, t) => n + t.problems.length, 0);
  lines.push(
    '',
    blocking === 0
      ? `capture can start: review ${file} (source.slot, cutover.applicationRoles, projections), then tandem capture --config ${file}`
      : `${blocking} thing(s) to fix before capture can start (Tandem never changes the source): run the fixes, then tandem init --force`,
  );
  return lines.join('\n');
}
