import { join } from 'path';

/** The command line of a benchmark: `--name value` options and bare `--flag`s. */
export const argv = process.argv.slice(2);

export function arg(name: string, fallback: string): string {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 && argv[i + 1] !== undefined ? argv[i + 1] : fallback;
}

export const flag = (name: string): boolean => argv.includes(`--${name}`);

/** A number as the benchmark tables print it: thousands separated, `digits` decimals. */
export const fmt = (value: number, digits = 0) =>
  value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });

/** Where `--cpu-prof` runs write their profiles. */
export const profileDir = (root: string) => join(root, '.tandem', 'prof');
