import { mkdtempSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { createKafka } from '../../src/connectors/kafka/kafka-client';
import { kafkaConnectionOptions } from '../../src/connectors/kafka/kafka-connection';
import { validateConfig } from '../../src/modules/config/load-config';
import { ConfigError } from '../../src/shared/errors';

const brokers = ['kafka-1.example:9093', 'kafka-2.example:9093'];
const SECRET = 'scram-pa55-Zq81';

function pemFiles() {
  const dir = mkdtempSync(join(tmpdir(), 'tandem-kafka-tls-'));
  const write = (name: string, text: string) => {
    writeFileSync(join(dir, name), text);
    return join(dir, name);
  };
  return {
    ca: write('ca.pem', '-----BEGIN CERTIFICATE-----\nCA\n-----END CERTIFICATE-----\n'),
    cert: write('client.pem', '-----BEGIN CERTIFICATE-----\nCLIENT\n-----END CERTIFICATE-----\n'),
    key: write('client.key', '-----BEGIN PRIVATE KEY-----\nKEY\n-----END PRIVATE KEY-----\n'),
  };
}

describe('the kafkajs connection options built from kafka.ssl and kafka.sasl', () => {
  it('is brokers alone by default', () => {
    expect(kafkaConnectionOptions({ brokers })).toEqual({ brokers });
  });

  it('turns ssl: true into TLS with the system CAs', () => {
    expect(kafkaConnectionOptions({ brokers, ssl: true })).toEqual({ brokers, ssl: true });
  });

  it('reads the CA, client certificate and key files, verifying brokers unless told not to', () => {
    const files = pemFiles();
    expect(kafkaConnectionOptions({ brokers, ssl: { ...files } })).toEqual({
      brokers,
      ssl: {
        ca: expect.stringContaining('CA'),
        cert: expect.stringContaining('CLIENT'),
        key: expect.stringContaining('PRIVATE KEY'),
        rejectUnauthorized: true,
      },
    });
    expect(kafkaConnectionOptions({ brokers, ssl: { ca: files.ca, rejectUnauthorized: false, servername: 'kafka' } }).ssl).toEqual({
      ca: expect.stringContaining('CA'),
      rejectUnauthorized: false,
      servername: 'kafka',
    });
  });

  it('refuses an unreadable file or a certificate without its key, naming the field', () => {
    expect(() => kafkaConnectionOptions({ brokers, ssl: { ca: '/nonexistent/ca.pem' } })).toThrow(
      new ConfigError('kafka.ssl.ca: cannot read /nonexistent/ca.pem (ENOENT)'),
    );
    expect(() => kafkaConnectionOptions({ brokers, ssl: { cert: pemFiles().cert } })).toThrow(/kafka\.ssl: cert and key go together/);
  });

  it.each(['plain', 'scram-sha-256', 'scram-sha-512'] as const)('takes the %s password from the environment variable named', (mechanism) => {
    const options = kafkaConnectionOptions(
      { brokers, ssl: true, sasl: { mechanism, username: 'tandem', passwordEnv: 'TANDEM_KAFKA_PASSWORD' } },
      { TANDEM_KAFKA_PASSWORD: SECRET },
    );
    expect(options).toEqual({ brokers, ssl: true, sasl: { mechanism, username: 'tandem', password: SECRET } });
  });

  it('refuses a SASL config whose variable is not set, naming the variable', () => {
    expect(() =>
      kafkaConnectionOptions({ brokers, sasl: { mechanism: 'plain', username: 'u', passwordEnv: 'NOPE_PW' } }, {}),
    ).toThrow(/kafka\.sasl\.passwordEnv: the environment variable NOPE_PW is not set/);
  });

  it('builds a kafkajs client with them (no connection is made)', () => {
    const logger = { error: jest.fn(), warn: jest.fn() };
    process.env.TANDEM_TEST_KAFKA_PW = SECRET;
    try {
      const kafka = createKafka(
        { brokers, ssl: true, sasl: { mechanism: 'scram-sha-512', username: 'tandem', passwordEnv: 'TANDEM_TEST_KAFKA_PW' } },
        'tandem-test',
        logger,
      );
      expect(typeof kafka.producer).toBe('function');
    } finally {
      delete process.env.TANDEM_TEST_KAFKA_PW;
    }
  });
});

describe('kafka.ssl and kafka.sasl in tandem.yaml', () => {
  const base = (kafka: Record<string, unknown>) => ({
    source: { url: 'postgres://app@db/legacy', tables: ['public.users'] },
    kafka: { brokers, topicPrefix: 'tandem', ...kafka },
  });

  it('accepts TLS files and a SASL mechanism with the name of the password variable', () => {
    const config = validateConfig(
      base({
        ssl: { ca: '/etc/kafka/ca.pem' },
        sasl: { mechanism: 'scram-sha-256', username: 'tandem', passwordEnv: 'KAFKA_PASSWORD' },
      }),
      'test',
    );
    expect(config.kafka.ssl).toEqual({ ca: '/etc/kafka/ca.pem', rejectUnauthorized: true });
    expect(config.kafka.sasl).toEqual({ mechanism: 'scram-sha-256', username: 'tandem', passwordEnv: 'KAFKA_PASSWORD' });
  });

  it('refuses a password written in the file, and an unsupported mechanism, without echoing values', () => {
    const withPassword = () =>
      validateConfig(base({ sasl: { mechanism: 'plain', username: 'u', password: SECRET, passwordEnv: 'P' } }), 'test');
    expect(withPassword).toThrow(/kafka\.sasl: unknown key "password"/);
    try {
      withPassword();
    } catch (error) {
      expect((error as Error).message).not.toContain(SECRET);
    }
    expect(() => validateConfig(base({ sasl: { mechanism: 'gssapi', username: 'u', passwordEnv: 'P' } }), 'test')).toThrow(
      /kafka\.sasl\.mechanism/,
    );
    expect(() => validateConfig(base({ sasl: { mechanism: 'plain', username: 'u', passwordEnv: 'my password' } }), 'test')).toThrow(
      /kafka\.sasl\.passwordEnv: must be the name of an environment variable/,
    );
  });
});
