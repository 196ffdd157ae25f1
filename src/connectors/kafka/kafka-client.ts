import { Kafka, logLevel, type LogEntry } from './kafkajs';
import { kafkaConnectionOptions, type KafkaConnection } from './kafka-connection';

/** Where kafkajs's warnings and errors go: the logger, or the producer thread's channel to it. */
export interface KafkaLogSink {
  error(fields: { kafka: Record<string, unknown> }, message: string): void;
  warn(fields: { kafka: Record<string, unknown> }, message: string): void;
  debug?(fields: { kafka: Record<string, unknown> }, message: string): void;
}

/**
 * Broker answers that kafkajs logs at error level although they are part of normal operation and
 * retried by it: the transaction coordinator still finishing the previous commit
 * (CONCURRENT_TRANSACTIONS, after every commit under load), a coordinator loading or moving.
 */
const EXPECTED_AND_RETRIED =
  /another concurrent operation on the same transaction|coordinator is loading|not the correct coordinator|coordinator is not available/i;
/** Connection failures: kafkajs logs each retry; one warning per broker and problem per interval is enough. */
const CONNECTION_TROUBLE = /^(Connection error|Connection timeout|Failed to connect to seed broker)/;
const REPEAT_INTERVAL_MS = 30_000;

/** Decides the level of a kafkajs log entry: null to log it at debug level only. */
export function kafkaLogLevel(
  level: logLevel,
  message: string,
  fields: Record<string, unknown>,
): 'error' | 'warn' | null {
  if (EXPECTED_AND_RETRIED.test(`${message} ${String(fields.error ?? '')}`)) return null;
  if (CONNECTION_TROUBLE.test(message)) return 'warn';
  return level <= logLevel.ERROR ? 'error' : 'warn';
}

/**
 * Every Kafka client of Tandem is made here, with the configured brokers, TLS and SASL
 * (kafka-connection.ts). kafkajs 2.2.4 is the chosen client but unmaintained since 2023; it stays
 * behind this folder so that it can be replaced without touching capture or the projector.
 */
export function createKafka(
  connection: KafkaConnection,
  clientId: string,
  logger: KafkaLogSink,
  /** Fewer retries for callers that report an unreachable Kafka rather than wait for it (status, checks). */
  retries?: number,
): Kafka {
  const lastWarned = new Map<string, number>();
  return new Kafka({
    clientId,
    ...kafkaConnectionOptions(connection),
    logLevel: logLevel.WARN,
    retry: { initialRetryTime: 200, ...(retries === undefined ? {} : { retries }) },
    logCreator:
      () =>
      ({ level, log }: LogEntry) => {
        const { message, ...rest } = log;
        const chosen = kafkaLogLevel(level, message, rest);
        if (chosen === null) return logger.debug?.({ kafka: rest }, message);
        if (CONNECTION_TROUBLE.test(message)) {
          const key = `${message} ${String(rest.broker ?? '')}`;
          if (Date.now() - (lastWarned.get(key) ?? 0) < REPEAT_INTERVAL_MS) return;
          lastWarned.set(key, Date.now());
        }
        logger[chosen]({ kafka: rest }, message);
      },
  });
}
