import { ColumnPolicy, type TableColumnRules } from '../../connectors/postgres-source/column-policy';
import { ConfigError } from '../../shared/errors';
import type { TandemConfig } from './config.schema';

/** At least this many characters: a short key makes the hashes of guessable values (e-mails) easy to brute-force. */
const MIN_KEY_LENGTH = 32;

/**
 * The column rules of `source.columns`, checked: each table is a captured one, a column is either
 * excluded or masked, a key column is never excluded (the Kafka key and the projections need it),
 * and the masking key is set when anything is masked. `keyColumns` (from the catalog) is given by
 * capture; reconcile, which reads no catalog, leaves it out.
 */
export function columnPolicyOf(
  config: Pick<TandemConfig, 'source'>,
  env: NodeJS.ProcessEnv = process.env,
  keyColumns?: ReadonlyMap<string, readonly string[]>,
): ColumnPolicy {
  const { columns, maskKeyEnv, tables } = config.source;
  const entries = Object.entries(columns);
  if (entries.length === 0) return ColumnPolicy.none;
  let key: Buffer | null = null;
  if (entries.some(([, rules]) => rules.mask.length > 0)) {
    const value = env[maskKeyEnv];
    if (!value) throw new ConfigError(`source.maskKeyEnv: the environment variable ${maskKeyEnv} is not set (it holds the key of masked columns)`);
    if (value.length < MIN_KEY_LENGTH)
      throw new ConfigError(`source.maskKeyEnv: the key in ${maskKeyEnv} must be at least ${MIN_KEY_LENGTH} characters`);
    key = Buffer.from(value, 'utf8');
  }
  const rules = new Map<string, TableColumnRules>();
  for (const [table, { exclude, mask }] of entries) {
    const field = `source.columns.${table}`;
    if (!tables.includes(table)) throw new ConfigError(`${field}: not one of source.tables`);
    const both = exclude.filter((column) => mask.includes(column));
    if (both.length > 0) throw new ConfigError(`${field}: ${both.join(', ')} both excluded and masked`);
    const excludedKeys = exclude.filter((column) => keyColumns?.get(table)?.includes(column));
    if (excludedKeys.length > 0)
      throw new ConfigError(`${field}.exclude: ${excludedKeys.join(', ')} is the table's key (mask it instead)`);
    rules.set(table, { exclude: new Set(exclude), mask: new Set(mask), key });
  }
  return new ColumnPolicy(rules);
}
