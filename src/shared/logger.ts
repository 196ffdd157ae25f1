import pino, { type Logger } from 'pino';
import { redactSecrets } from './redact';

export type { Logger };

/**
 * Structured JSON logs on stderr (stdout stays for command output). Every message and string field
 * passes through redactSecrets, so a connection string never carries its password into a log.
 */
export function createLogger(name: string, level = process.env.TANDEM_LOG_LEVEL ?? 'info'): Logger {
  return pino(
    {
      name,
      level,
      redact: { paths: ['*.password', '*.url', 'password', 'url', '*.connectionString'], censor: '***' },
      hooks: {
        logMethod(args, method) {
          method.apply(
            this,
            args.map((arg) => (typeof arg === 'string' ? redactSecrets(arg) : arg)) as Parameters<typeof method>,
          );
        },
      },
      formatters: { level: (label) => ({ level: label }) },
      serializers: { err: (error: Error) => ({ type: error.name, message: redactSecrets(error.message) }) },
    },
    pino.destination(2),
  );
}
