import { CaptureStateError, ConfigError, SourcePreconditionError } from '../shared/errors';
import { ImportValidationError } from '../connectors/file-source/file-readers';
import { CutoverGateError } from '../modules/cutover/cutover.service';
import { ReplayRefusedError } from '../modules/replay/replay.service';
import { FailbackRefusedError } from '../modules/cutover/failback-setup';

/** Exit codes scripts can rely on (documented in the README). */
export const ExitCode = {
  ok: 0,
  failure: 1,
  invalidConfig: 2,
  sourceNotReady: 3,
  captureStateLost: 4,
  invalidImport: 5,
  reconciliationFailed: 6,
  schemaDiffFound: 7,
  cutoverRefused: 8,
  replayRefused: 9,
} as const;

export function exitCodeFor(error: unknown): number {
  if (error instanceof ConfigError) return ExitCode.invalidConfig;
  if (error instanceof SourcePreconditionError) return ExitCode.sourceNotReady;
  if (error instanceof CaptureStateError) return ExitCode.captureStateLost;
  if (error instanceof ImportValidationError) return ExitCode.invalidImport;
  if (error instanceof CutoverGateError) return ExitCode.cutoverRefused;
  if (error instanceof ReplayRefusedError || error instanceof FailbackRefusedError) return ExitCode.replayRefused;
  return ExitCode.failure;
}
