import { basename } from 'path';

/**
 * Every error Tandem throws on purpose, in one place. Each carries what it means to the outside:
 * the process exit code when it ends a command (README, "Exit codes") and the HTTP status when it
 * ends an admin API request. Anything that is not a TandemError is a failure: exit 1, HTTP 500.
 */

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

export class TandemError extends Error {
  readonly exitCode: number = ExitCode.failure;
  /** 422: the request was understood, but the work it asks for failed (the message says why). */
  readonly httpStatus: number = 422;

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** Invalid configuration, found at start-up; names the field. Over HTTP: a request naming what the configuration does not have. */
export class ConfigError extends TandemError {
  override readonly exitCode: number = ExitCode.invalidConfig;
  override readonly httpStatus: number = 400;
}

/** A bad command-line argument or request parameter: exit 2 and HTTP 400, like invalid configuration. */
export class ArgumentError extends ConfigError {}

/** A backfill request while no capture leads the slot, so nobody would act on it (exit 2). */
export class NoCaptureRunningError extends ConfigError {}

/** The source database is not set up the way capture needs (wal_level, privileges, keys). */
export class SourcePreconditionError extends TandemError {
  override readonly exitCode: number = ExitCode.sourceNotReady;
}

/** Capture lost its footing: the slot vanished, state in Kafka disagrees with the slot, and so on. */
export class CaptureStateError extends TandemError {
  override readonly exitCode: number = ExitCode.captureStateLost;
}

/** A value that the decoder cannot represent. Names the table, column and reason. */
export class DecodeError extends TandemError {}

/** A file that cannot be imported: names the file, the record and the reason. Nothing is written. */
export class ImportValidationError extends TandemError {
  override readonly exitCode: number = ExitCode.invalidImport;

  constructor(
    readonly file: string,
    readonly record: string | null,
    readonly reason: string,
  ) {
    super(`${basename(file)}${record === null ? '' : `, ${record}`}: ${reason}`);
  }
}

/** A gate refused the cutover (or the command does not apply to the cutover's state); the reason says why. */
export class CutoverGateError extends TandemError {
  override readonly exitCode: number = ExitCode.cutoverRefused;
  override readonly httpStatus: number = 409;
}

/** Replay, backup restore or rollback refused (projector running, unknown position, a failed check). */
export class ReplayRefusedError extends TandemError {
  override readonly exitCode: number = ExitCode.replayRefused;
  override readonly httpStatus: number = 409;
}

/** Failback cannot start (or a rollback through it cannot): the reason names the projection or gate. */
export class FailbackRefusedError extends TandemError {
  override readonly exitCode: number = ExitCode.replayRefused;
}

/** An applied migration of a projection changed: migrations are append-only. */
export class MigrationError extends TandemError {}

/** A value that does not decrypt. Never carries the value or the key. */
export class TokenDecryptError extends TandemError {}

/** The three services Tandem talks to; every connection failure says which one it concerns. */
export type Endpoint = 'source' | 'target' | 'kafka';

/** Could not reach or log in to an endpoint: the message starts with its name and address (no password). */
export class EndpointError extends TandemError {
  constructor(
    readonly endpoint: Endpoint,
    address: string | null,
    cause: unknown,
  ) {
    super(`${endpoint}${address ? ` (${address})` : ''}: ${(cause as Error)?.message ?? String(cause)}`, { cause });
  }
}
