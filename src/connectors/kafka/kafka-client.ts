import { Kafka, logLevel, type LogEntry } from 'kafkajs';
import type { Logger } from '../../shared/logger';

/**
 * kafkajs 2.2.4 is the chosen client but unmaintained since 2023; it stays behind this folder so
 * that it can be replaced without touching capture or the projector.
 */
export function createKafka(brokers: string[], clientId: string, logger: Logger): Kafka {
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
