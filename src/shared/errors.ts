/** The small, typed error hierarchy every Tandem module throws. */
export class TandemError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** Invalid configuration, found at start-up; names the field. */
export class ConfigError extends TandemError {}

/** The source database is not set up the way capture needs (wal_level, privileges, keys). */
export class SourcePreconditionError extends TandemError {}

/** Capture lost its footing: the slot vanished, state in Kafka disagrees with the slot, and so on. */
export class CaptureStateError extends TandemError {}

/** A value that the decoder cannot represent. Names the table, column and reason. */
export class DecodeError extends TandemError {}

/** A bad command-line argument or request parameter: exit 2 and HTTP 400, like invalid configuration. */
export class ArgumentError extends ConfigError {}
