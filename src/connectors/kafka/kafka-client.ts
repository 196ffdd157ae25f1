import { Kafka, logLevel, type LogEntry } from 'kafkajs';

/** Where kafkajs's warnings and errors go: the logger, or the producer thread's channel to it. */
export interface KafkaLogSink {
  error(fields: { kafka: Record<string, unknown> }, message: string): void;
  warn(fields: { kafka: Record<string, unknown> }, message: string): void;
}

/**
 * kafkajs 2.2.4 is the chosen client but unmaintained since 2023; it stays behind this folder so
 * that it can be replaced without touching capture or the projector.
 */
export function createKafka(brokers: string[], clientId: string, logger: KafkaLogSink): Kafka {
  return new Kafka({
    clientId,
    brokers,
    logLevel: logLevel.WARN,
    retry: { initialRetryTime: 200 },
    logCreator:
      () =>
      ({ level, log }: LogEntry) => {
        const { message, ...rest } = log;
        if (level <= logLevel.ERROR) logger.error({ kafka: rest }, message);
        else logger.warn({ kafka: rest }, message);
      },
  });
}
