import { existsSync } from 'fs';
import { join } from 'path';

const ROOT = join(__dirname, '..', '..');

/**
 * How tests start the `tandem` CLI: `npm test` compiles the sources once (into .tandem/test-dist) and names the
 * result in TANDEM_TEST_CLI_JS (each child then starts in about a second instead of compiling the
 * TypeScript itself for several seconds); a test run on its own uses the sources through ts-node.
 */
export function cliCommand(): string[] {
  const compiled = process.env.TANDEM_TEST_CLI_JS;
  if (compiled && existsSync(compiled)) return [compiled];
  return ['-r', 'ts-node/register/transpile-only', join(ROOT, 'src/cli/main.ts')];
}

/** Whether npm test has compiled the CLI for this run. */
export const useCompiledCli = (): boolean =>
  Boolean(process.env.TANDEM_TEST_CLI_JS && existsSync(process.env.TANDEM_TEST_CLI_JS));
