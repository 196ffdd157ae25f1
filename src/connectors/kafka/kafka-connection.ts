import { readFileSync } from 'fs';
import type { KafkaConfig, SASLOptions } from 'kafkajs';
import { ConfigError } from '../../shared/errors';

/** Where and how to reach Kafka: the `kafka` section of tandem.yaml (TLS and SASL optional). */
export interface KafkaConnection {
  brokers: string[];
  ssl?:
    | boolean
    | { ca?: string; cert?: string; key?: string; rejectUnauthorized?: boolean; servername?: string };
  sasl?: { mechanism: 'plain' | 'scram-sha-256' | 'scram-sha-512'; username: string; passwordEnv: string };
}

/**
 * The connection part of a kafkajs client configuration: brokers, TLS (PEM files read now) and
 * SASL (the password read from the environment variable the config names). Every Kafka client of
 * Tandem is built from it (createKafka); an unreadable file or an unset variable is a ConfigError
 * naming the field, never a value.
 */
export function kafkaConnectionOptions(
  connection: KafkaConnection,
  env: NodeJS.ProcessEnv = process.env,
  readFile: (path: string) => string = (path) => readFileSync(path, 'utf8'),
): Pick<KafkaConfig, 'brokers' | 'ssl' | 'sasl'> {
  const options: Pick<KafkaConfig, 'brokers' | 'ssl' | 'sasl'> = { brokers: connection.brokers };
  const { ssl, sasl } = connection;
  if (ssl === true) options.ssl = true;
  else if (ssl && typeof ssl === 'object') {
    const file = (field: 'ca' | 'cert' | 'key') => {
      const path = ssl[field];
      if (path === undefined) return {};
      try {
        return { [field]: readFile(path) };
      } catch (error) {
        throw new ConfigError(
          `kafka.ssl.${field}: cannot read ${path} (${(error as NodeJS.ErrnoException).code ?? 'error'})`,
        );
      }
    };
    if ((ssl.cert === undefined) !== (ssl.key === undefined))
      throw new ConfigError('kafka.ssl: cert and key go together (mutual TLS needs both)');
    options.ssl = {
      ...file('ca'),
      ...file('cert'),
      ...file('key'),
      rejectUnauthorized: ssl.rejectUnauthorized ?? true,
      ...(ssl.servername ? { servername: ssl.servername } : {}),
    };
  }
  if (sasl) {
    const password = env[sasl.passwordEnv];
    if (!password)
      throw new ConfigError(
        `kafka.sasl.passwordEnv: the environment variable ${sasl.passwordEnv} is not set (it holds the SASL password)`,
      );
    options.sasl = { mechanism: sasl.mechanism, username: sasl.username, password } as SASLOptions;
  }
  return options;
}
