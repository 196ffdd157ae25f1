import pino, { type DestinationStream, type Logger } from 'pino';
import { redactSecrets } from './redact';

export type { Logger };

/** Every string inside a log record's fields, at any depth, through redactSecrets (a URL can hide anywhere, e.g. in a driver's error). */
function redactDeep(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return redactSecrets(value);
  if (depth > 8 || value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((item) => redactDeep(item, depth + 1));
  if (value instanceof Error) return { type: value.name, message: redactSecrets(value.message) };
  if (value instanceof Date) return value;
  return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, redactDeep(item, depth + 1)]));
}

/**
 * Structured JSON logs on stderr (stdout stays for command output). The message and every string
 * field, however deeply nested, pass through redactSecrets, and fields named password, url or
 * connectionString are replaced whole, so a connection string never carries its password into a log.
 */
export function createLogger(
  name: string,
  level = process.env.TANDEM_LOG_LEVEL ?? 'info',
  destination: DestinationStream = pino.destination(2),
): Logger {
  const logger = pino(
    {
      name,
      level,
      redact: {
        paths: ['*.password', '*.url', 'password', 'url', '*.connectionString', 'connectionString'],
        censor: '***',
      },
      hooks: {
        logMethod(args, method) {
          method.apply(
            this,
            args.map((arg) => (typeof arg === 'string' ? redactSecrets(arg) : arg)) as Parameters<
              typeof method
            >,
          );
        },
      },
      formatters: {
        level: (label) => ({ level: label }),
        log: (object) => redactDeep(object) as Record<string, unknown>,
      },
      serializers: { err: (error: Error) => ({ type: error.name, message: redactSecrets(error.message) }) },
    },
    destination,
  );
  // Child bindings are serialized once, not through the formatters: redact them on the way in.
  // Children inherit this property (pino builds a child with Object.create(parent)).
  const child = logger.child;
  logger.child = function (this: Logger, bindings, options) {
    return child.call(this, redactDeep(bindings) as typeof bindings, options);
  } as typeof logger.child;
  return logger;
}
