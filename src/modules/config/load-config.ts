import { readFileSync } from 'fs';
import { dirname, resolve } from 'path';
import { parse } from 'yaml';
import { ConfigError } from '../../shared/errors';
import { tandemConfigSchema, type TandemConfig } from './config.schema';
import { isModuleEntry } from './projection-entry.schema';

/** The environment variables that point Tandem at a user's own services. */
export interface ConfigEnvironment {
  TANDEM_SOURCE_URL?: string;
  TANDEM_TARGET_URL?: string;
  TANDEM_KAFKA_BROKERS?: string;
}

type Raw = Record<string, unknown>;

function section(raw: Raw, name: string): Raw {
  const value = raw[name];
  if (value === undefined || value === null) return (raw[name] = {});
  return value as Raw;
}

export function applyEnvironment(raw: Raw, env: ConfigEnvironment): Raw {
  if (env.TANDEM_SOURCE_URL) section(raw, 'source').url = env.TANDEM_SOURCE_URL;
  if (env.TANDEM_TARGET_URL) section(raw, 'target').url = env.TANDEM_TARGET_URL;
  if (env.TANDEM_KAFKA_BROKERS) section(raw, 'kafka').brokers = env.TANDEM_KAFKA_BROKERS.split(',').map((b) => b.trim());
  return raw;
}

/** Validates a parsed config; an invalid one stops with every field's path and reason, never a value. */
export function validateConfig(raw: unknown, origin: string): TandemConfig {
  const result = tandemConfigSchema.safeParse(raw);
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => `  ${issue.path.join('.') || '(root)'}: ${issue.message}`);
  throw new ConfigError(`invalid configuration in ${origin}:\n${problems.join('\n')}`);
}

export function loadConfig(path: string, env: ConfigEnvironment = process.env): TandemConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new ConfigError(`cannot read configuration file ${path}: ${(error as NodeJS.ErrnoException).code ?? 'error'}`);
  }
  let raw: unknown;
  try {
    raw = parse(text) ?? {};
  } catch (error) {
    throw new ConfigError(`configuration file ${path} is not valid YAML: ${(error as Error).message.split('\n')[0]}`);
  }
  if (typeof raw !== 'object' || Array.isArray(raw)) throw new ConfigError(`configuration file ${path} must hold a mapping`);
  return resolveModulePaths(validateConfig(applyEnvironment(raw as Raw, env), path), dirname(resolve(path)));
}

/** A module projection's path is relative to the folder of the config file that names it. */
export function resolveModulePaths(config: TandemConfig, folder: string): TandemConfig {
  const projections = config.projections.map((entry) => (isModuleEntry(entry) ? { ...entry, module: resolve(folder, entry.module) } : entry));
  return { ...config, projections };
}
