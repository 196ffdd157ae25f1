import Module from 'module';
import { existsSync } from 'fs';
import { dirname } from 'path';
import { ConfigError } from '../../shared/errors';
import type { ProjectionDefinition } from '../framework/define-projection';
import { installTandemResolution, isTandemFile } from './tandem-resolution';
import { compileInto, installTranspilingExtensions } from './transpile';

/**
 * A projection of the user's own: a module whose default export is a projection made with
 * `defineProjection` from 'tandem', or a function of the config entry's options returning one.
 */

export interface ModuleProjectionEntry {
  /** The projection's name (consumer group, checkpoints, reconcile, cutover, replay use it). */
  name: string;
  /** Absolute path of the module (.ts, .mts, .js, .mjs, .cjs). */
  module: string;
  options?: Record<string, unknown>;
}

type ModuleInternals = typeof Module & { _nodeModulePaths(folder: string): string[] };
const loaded = new Map<string, unknown>();

/** Loads (once per process) and evaluates the module; any failure is a ConfigError naming its path. */
export function loadModuleProjection(entry: ModuleProjectionEntry): ProjectionDefinition<unknown> {
  const exported = loadDefaultExport(entry.module);
  let candidate: unknown = exported;
  if (typeof exported === 'function') {
    try {
      candidate = (exported as (options: Record<string, unknown>) => unknown)(entry.options ?? {});
    } catch (error) {
      throw new ConfigError(`projection module ${entry.module}: its default export failed with options ${optionKeys(entry)}: ${reason(error)}`, { cause: error });
    }
  }
  const problem = definitionProblem(candidate);
  if (problem) {
    throw new ConfigError(
      `projection module ${entry.module}: the default export must be a projection made with defineProjection from 'tandem' (or a function of the options returning one): ${problem}`,
    );
  }
  // The config entry names the projection; the module keeps its target schema.
  return { ...(candidate as ProjectionDefinition<unknown>), name: entry.name };
}

function loadDefaultExport(file: string): unknown {
  if (loaded.has(file)) return loaded.get(file);
  if (!existsSync(file)) throw new ConfigError(`projection module ${file}: no such file`);
  installTandemResolution();
  installTranspilingExtensions(isTandemFile);
  const module = new Module(file, undefined) as Module & { _compile(code: string, filename: string, format?: 'commonjs'): void };
  module.filename = file;
  module.paths = (Module as ModuleInternals)._nodeModulePaths(dirname(file));
  try {
    compileInto(module, file);
  } catch (error) {
    throw new ConfigError(`projection module ${file} failed to load: ${reason(error)}`, { cause: error });
  }
  module.loaded = true;
  const exports = module.exports as { default?: unknown; __esModule?: boolean };
  const value = exports && (exports.__esModule || 'default' in exports) ? exports.default : exports;
  loaded.set(file, value);
  return value;
}

/** Why `value` is not a projection definition, or null when it is one. */
export function definitionProblem(value: unknown): string | null {
  if (value === undefined) return 'it has no default export';
  if (value === null || typeof value !== 'object') return `got ${value === null ? 'null' : typeof value}`;
  if (typeof (value as { then?: unknown }).then === 'function') return 'got a Promise (return the projection itself, not a Promise of it)';
  const definition = value as Partial<ProjectionDefinition<unknown>>;
  if (typeof definition.apply !== 'function') return 'apply: expected a function';
  if (!Array.isArray(definition.migrations)) return 'migrations: expected an array';
  if (!definition.input || typeof definition.input !== 'object' || Object.keys(definition.input).length === 0)
    return 'input: expected at least one source table ("schema.table": zod schema)';
  for (const [table, schema] of Object.entries(definition.input)) {
    if (typeof (schema as { safeParse?: unknown })?.safeParse !== 'function') return `input.${table}: expected a zod schema`;
  }
  if (typeof definition.schema !== 'string' || definition.schema === '') return 'schema: expected the target schema name';
  return null;
}

function reason(error: unknown): string {
  // not instanceof: the module's errors may come from another realm (a test runner's sandbox)
  if (typeof (error as Error)?.message !== 'string') return String(error);
  const where = (error as Error).stack?.split('\n').find((line) => line.trim().startsWith('at '))?.trim();
  return where ? `${(error as Error).message} (${where})` : (error as Error).message;
}

function optionKeys(entry: ModuleProjectionEntry): string {
  return `{ ${Object.keys(entry.options ?? {}).join(', ')} }`;
}
