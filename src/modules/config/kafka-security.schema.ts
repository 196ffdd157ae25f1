import { z } from 'zod';

const filePath = z.string().min(1, 'must be a file path');

/**
 * `kafka.ssl`: true (TLS with the system's CAs) or the PEM files to use; kafkajs's `ssl` option.
 * Paths are read when a client is built; the key file's content never reaches a log.
 */
export const kafkaSslSchema = z.union([
  z.boolean(),
  z.object({
    /** CA certificate(s) that signed the brokers' certificates (default: the system's CAs). */
    ca: filePath.optional(),
    /** Client certificate and key, for brokers that require mutual TLS. */
    cert: filePath.optional(),
    key: filePath.optional(),
    /** Default true: false accepts any broker certificate (tests only). */
    rejectUnauthorized: z.boolean().default(true),
    /** The name expected in the brokers' certificates, when it differs from the broker host. */
    servername: z.string().min(1).optional(),
  }),
]);

/** `kafka.sasl`: the mechanism, the user, and the NAME of the environment variable holding the password. */
export const kafkaSaslSchema = z.object({
  mechanism: z.enum(['plain', 'scram-sha-256', 'scram-sha-512']),
  username: z.string().min(1),
  passwordEnv: z
    .string()
    .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be the name of an environment variable (the password itself is never in the file)'),
});
