import { ExitCode, TandemError } from '../shared/errors';

export { ExitCode };

/** The exit code of a command that ended with `error`: each TandemError carries its own (shared/errors.ts). */
export function exitCodeFor(error: unknown): number {
  return error instanceof TandemError ? error.exitCode : ExitCode.failure;
}
