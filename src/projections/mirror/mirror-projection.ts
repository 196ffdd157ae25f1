import { Client, type Pool } from 'pg';
import { z } from 'zod';
import { ConfigError } from '../../shared/errors';
import { qualified } from '../../connectors/postgres-target/sql';
import { ensureTandemSchema } from '../../connectors/postgres-target/tandem-schema';
import { appendMirrorStep, loadMirrorSteps, lockMirrorSteps, type MirrorStep } from '../../connectors/postgres-target/mirror-steps';
import { defineProjection, type Migration, type ProjectionDefinition } from '../framework/define-projection';
import { mirrorTargetSchema, normalizeTable, type MirrorConfig, type MirrorTableMapping } from './mirror-config';
import { addColumnSql, createTableSql } from './mirror-ddl';
import { mirrorComparison } from './mirror-reconcile';
import { mirrorOperations } from './mirror-rows';
import { mirrorInverse } from './mirror-inverse';
import { readMirrorSource, specFromSource, type MirrorSource } from './mirror-source';
import { MirrorSpecError, type MirrorTableSpec } from './mirror-spec';
import { hasStatementSeparator } from './sql-tokens';
import { columnStepName, mappingOf, mirrorBeforeWrite, type ColumnStep } from './mirror-write-step';
import { withTransaction } from '../../shared/transaction';
import { isPlainRecord } from '../../contracts/envelope';

/** A mirrored row as the envelope carries it, checked without a copy (the envelope check already required an object). */
const mirrorRow = z.custom<Record<string, unknown>>(isPlainRecord, 'expected an object');

export interface MirrorEntry {
  name: string;
  mirror: MirrorConfig;
}

export interface MirrorConnections {
  sourceUrl: string;
  targetUrl: string;
  target: Pool;
  /** false: a dry run, which records nothing (a table not resolved yet is resolved in memory). */
  record?: boolean;
}

/**
 * A mirror projection's definition: its tables' specs are read from tandem.mirror_steps, and a table
 * not there yet is resolved from the source catalog and recorded (so every later run, replay and
 * backup builds the same tables). `at` names the config entry in errors.
 */
export async function resolveMirrorProjection(entry: MirrorEntry, at: string, connections: MirrorConnections): Promise<ProjectionDefinition<unknown>> {
  const schema = mirrorTargetSchema(entry.mirror);
  if (schema === null) throw new ConfigError(`${at}.mirror.schema: the tables come from several schemas; name the target schema`);
  const mappings = entry.mirror.tables.map(normalizeTable);
  checkMappings(mappings, at, schema, connections);
  if (connections.record !== false) await ensureTandemSchema(connections.target);
  let steps = await storedSteps(connections.target, entry.name);
  if (mappings.some((mapping) => !tableStep(steps, mapping.from))) steps = await addTables(entry.name, mappings, at, connections);
  for (const mapping of mappings) {
    const changed = mappingChange(tableStep(steps, mapping.from)!.spec as MirrorTableSpec, mapping);
    if (changed) {
      throw new ConfigError(
        `${at}.mirror.tables (${mapping.from}): ${changed} changed since its target table was created; put it back, or mirror the table under another projection name`,
      );
    }
  }
  const specs = mirrorSpecs(steps, mappings.map((mapping) => mapping.from));
  const tables = new Map(specs.map((spec) => [spec.source, spec]));
  return defineProjection<Record<string, unknown>>({
    name: entry.name,
    schema,
    migrations: steps.map(migrationOf),
    input: Object.fromEntries(specs.map((spec) => [spec.source, mirrorRow])),
    apply: (event) => mirrorOperations(tables.get(event.source)!, event),
    reconcile: specs.map(mirrorComparison),
    invert: mirrorInverse(specs),
    deferredIndexes: [...specs.flatMap((spec) => spec.indexes), ...specs.flatMap((spec) => spec.foreignKeys)],
    beforeWrite: mirrorBeforeWrite({ projection: entry.name, schema, sourceUrl: connections.sourceUrl, tables }),
    retryOrderingConflicts: true,
    advanceSequencesAtCutover: true,
  }) as ProjectionDefinition<unknown>;
}

/**
 * What the configuration alone tells of a mirror (name, schema, source tables): enough to list it and
 * its topics. Its tables are resolved by resolveMirrorProjection before anything is written.
 */
export function mirrorOutline(entry: MirrorEntry, at: string): ProjectionDefinition<unknown> {
  const schema = mirrorTargetSchema(entry.mirror);
  if (schema === null) throw new ConfigError(`${at}.mirror.schema: the tables come from several schemas; name the target schema`);
  const sources = entry.mirror.tables.map((table) => normalizeTable(table).from);
  return defineProjection<unknown>({
    name: entry.name,
    schema,
    migrations: [],
    input: Object.fromEntries(sources.map((source) => [source, z.unknown()])),
    apply: () => {
      throw new Error(`mirror ${entry.name} was used before its tables were resolved`);
    },
  });
}

/** The specs of these source tables as recorded, each with the columns its source gained since. */
export function mirrorSpecs(steps: MirrorStep[], sources: string[]): MirrorTableSpec[] {
  return sources.flatMap((source) => {
    const step = tableStep(steps, source);
    if (!step) return [];
    const spec = structuredClone(step.spec as MirrorTableSpec);
    for (const column of steps) if (column.kind === 'column' && column.sourceTable === source) spec.columns.push((column.spec as ColumnStep).column);
    return [spec];
  });
}

const tableStep = (steps: MirrorStep[], source: string) => steps.find((step) => step.kind === 'table' && step.sourceTable === source);

function migrationOf(step: MirrorStep): Migration {
  if (step.kind === 'table') {
    const spec = step.spec as MirrorTableSpec;
    return { version: step.version, name: `mirror ${spec.source} as ${spec.target}`, sql: createTableSql(spec) };
  }
  const column = step.spec as ColumnStep;
  return { version: step.version, name: columnStepName(step.sourceTable, column), sql: addColumnSql(column.table, column.column, column.enums) };
}

function checkMappings(mappings: MirrorTableMapping[], at: string, schema: string, connections: MirrorConnections): void {
  const seen = new Map<string, string>();
  for (const mapping of mappings) {
    for (const [kind, name] of [['source', mapping.from], ['target', mapping.to]] as const) {
      if (seen.has(`${kind}:${name}`)) throw new ConfigError(`${at}.mirror.tables: ${kind} table ${name} is listed twice`);
      seen.set(`${kind}:${name}`, mapping.from);
    }
    if (mapping.where !== null && hasStatementSeparator(mapping.where)) {
      throw new ConfigError(`${at}.mirror.tables (${mapping.from}).where: must be one SQL boolean expression (no ";")`);
    }
    if (sameDatabase(connections.sourceUrl, connections.targetUrl) && mapping.from.split('.')[0] === schema) {
      throw new ConfigError(`${at}.mirror.schema: the target database is the source database, so the mirror of ${mapping.from} needs another schema`);
    }
  }
}

function sameDatabase(a: string, b: string): boolean {
  const parse = (url: string) => {
    const parsed = new URL(url);
    return `${parsed.hostname}:${parsed.port || '5432'}${parsed.pathname}`;
  };
  try {
    return parse(a) === parse(b);
  } catch {
    return false;
  }
}

/** What of a table's mapping differs from the stored spec (null: nothing). */
export function mappingChange(spec: MirrorTableSpec, mapping: MirrorTableMapping): string | null {
  const stored = mappingOf(spec);
  const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);
  if (stored.to !== mapping.to) return `its target name (was ${stored.to})`;
  if (!same(stored.columns, mapping.columns)) return 'its column renames';
  if (!same([...stored.exclude].sort(), [...mapping.exclude].sort())) return 'its excluded columns';
  if (stored.where !== mapping.where) return 'its row filter';
  return null;
}

/** Resolves the tables without a step from the source catalog and records them, under the projection's lock. */
async function addTables(projection: string, mappings: MirrorTableMapping[], at: string, connections: MirrorConnections): Promise<MirrorStep[]> {
  const source = await readMirrorSource(connections.sourceUrl, mappings);
  if (connections.record === false) {
    // a dry run: the specs it would record, recorded nowhere
    const steps = await storedSteps(connections.target, projection);
    let version = steps.reduce((max, step) => Math.max(max, step.version), 0);
    for (const mapping of mappings.filter((candidate) => !tableStep(steps, candidate.from)))
      steps.push({ version: ++version, kind: 'table', sourceTable: mapping.from, spec: await newSpec(source, mapping, at, connections) });
    return steps;
  }
  await withTransaction(connections.target, async (client) => {
    await lockMirrorSteps(client, projection);
    const steps = await loadMirrorSteps(client, projection);
    for (const mapping of mappings) {
      if (tableStep(steps, mapping.from)) continue;
      await appendMirrorStep(client, projection, { kind: 'table', sourceTable: mapping.from, spec: await newSpec(source, mapping, at, connections) });
    }
  });
  return loadMirrorSteps(connections.target, projection);
}

async function newSpec(source: MirrorSource, mapping: MirrorTableMapping, at: string, connections: MirrorConnections): Promise<MirrorTableSpec> {
  try {
    const spec = specFromSource(source, mapping);
    if (spec.where !== null) await checkFilterAtSource(connections.sourceUrl, spec);
    return spec;
  } catch (error) {
    if (error instanceof MirrorSpecError) throw new ConfigError(`${at}: ${error.message}`);
    throw error;
  }
}

/** The recorded steps; none when Tandem's schema does not exist yet (read without creating it). */
async function storedSteps(target: Pool, projection: string): Promise<MirrorStep[]> {
  const { rows } = await target.query(`SELECT to_regclass('tandem.mirror_steps') IS NOT NULL AS present`);
  return rows[0].present ? loadMirrorSteps(target, projection) : [];
}

/** The row filter must be a boolean over the source table's columns (reconciliation applies it there). */
async function checkFilterAtSource(url: string, spec: MirrorTableSpec): Promise<void> {
  const client = new Client({ connectionString: url, application_name: 'tandem-mirror-catalog' });
  await client.connect();
  const [schema, table] = [spec.source.slice(0, spec.source.indexOf('.')), spec.source.slice(spec.source.indexOf('.') + 1)];
  try {
    await client.query(`SELECT 1 FROM ${qualified(schema, table)} WHERE (${spec.where}) LIMIT 0`);
  } catch (error) {
    throw new MirrorSpecError(`mirror table ${spec.source}: the row filter is not a valid condition on the source table: ${(error as Error).message}`);
  } finally {
    await client.end();
  }
}
