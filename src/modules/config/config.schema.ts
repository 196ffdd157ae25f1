import { z } from 'zod';
import { identifier, positiveInt, postgresUrl } from './config-fields';
import { maskKeyEnvSchema, sourceColumnsSchema } from './column-policy.schema';
import { adminTlsSchema } from './admin-tls.schema';
import { kafkaSaslSchema, kafkaSslSchema } from './kafka-security.schema';
import { projectionEntriesSchema } from './projection-entry.schema';
import { strictDeep } from './strict-schema';

const configObject = z.object({
  source: z.object({
    url: postgresUrl,
    publication: identifier.default('tandem_pub'),
    slot: identifier.default('tandem_slot'),
    tables: z
      .array(z.string().regex(/^[^.\s]+\.[^.\s]+$/, 'must be schema.table'))
      .min(1, 'list at least one table'),
    snapshot: z
      .object({
        mode: z.enum(['initial', 'never']).default('initial'),
        chunkSize: positiveInt.default(5000),
        parallelism: positiveInt.max(16).default(2),
      })
      .prefault({}),
    heartbeatIntervalMs: positiveInt.default(10_000),
    /** Where `tandem backfill` signals the running capture (created by capture; see README, Backfill). */
    signalTable: z.string().regex(/^[^.\s]+\.[^.\s]+$/, 'must be schema.table').default('public.tandem_signal'),
    /** Columns left out of Kafka or masked there (column-policy.schema.ts). */
    columns: sourceColumnsSchema,
    maskKeyEnv: maskKeyEnvSchema,
  }),
  kafka: z.object({
    brokers: z.array(z.string().regex(/^[^:\s]+:\d+$/, 'must be host:port')).min(1, 'list at least one broker'),
    topicPrefix: z.string().regex(/^[A-Za-z0-9_-]+$/, 'must be letters, digits, _ or -'),
    partitions: positiveInt.default(3),
    replicationFactor: positiveInt.default(1),
    clientId: z.string().default('tandem'),
    /** TLS and SASL (kafka-security.schema.ts); both off by default. */
    ssl: kafkaSslSchema.optional(),
    sasl: kafkaSaslSchema.optional(),
  }),
  target: z
    .object({
      url: postgresUrl,
      /**
       * The projector's statements prepared once per session (prepared-statements.ts); false behind
       * a pooler in transaction mode that does not keep them (PgBouncer before 1.21).
       */
      preparedStatements: z.boolean().default(true),
    })
    .optional(),
  /** What to project: built-in recipes and modules of the user's own (projection-entry.schema.ts). */
  projections: projectionEntriesSchema,
  projector: z
    .object({
      /** Events per target transaction at most (Kafka fetch batches are split). */
      maxBatchEvents: positiveInt.default(2000),
      /**
       * How long an event refused for a row it refers to (a mirror's foreign key) waits for that row
       * before it is quarantined.
       */
      orderingWaitMs: positiveInt.default(600_000),
    })
    .prefault({}),
  /** tandem cutover: the legacy roles whose writes a freeze refuses (ALTER ROLE … SET default_transaction_read_only). */
  cutover: z.object({ applicationRoles: z.array(identifier).default([]) }).optional(),
  /**
   * tandem failback / rollback (README, "Failback"): with this section, cutover commit prepares
   * failback; the new application's roles in the target database, whose writes a rollback
   * freezes; and how far behind failback may be for a rollback to start.
   */
  failback: z
    .object({
      /** Prepare failback inside `tandem cutover commit` (needs wal_level=logical on the target). */
      atCommit: z.boolean().default(true),
      applicationRoles: z.array(identifier).default([]),
      /** Failback records not yet applied to legacy above which `tandem rollback` refuses to start. */
      maxLagRecords: z.number().int().min(0).default(1000),
    })
    .optional(),
  /** tandem serve: the admin API, status page and /metrics (tokens: TANDEM_ADMIN_TOKENS or tokensFile). */
  admin: z
    .object({
      port: z.number().int().min(0).max(65_535).default(8080),
      host: z.string().min(1).default('127.0.0.1'),
      /** A YAML file `tokens: [{ name, role: viewer|operator, token }]`, read at start-up. */
      tokensFile: z.string().min(1).optional(),
      /** How often the status page's charts get a sample (kept for 10 minutes). */
      sampleIntervalMs: positiveInt.default(2000),
      /** HTTPS instead of HTTP (admin-tls.schema.ts). */
      tls: adminTlsSchema.optional(),
    })
    .prefault({}),
  capture: z
    .object({
      maxBatchEvents: positiveInt.default(5000),
      /** Bytes of event keys and values per Kafka transaction at most (wide rows reach it before maxBatchEvents). */
      maxBatchBytes: positiveInt.default(8 * 1024 * 1024),
      maxBatchDelayMs: positiveInt.default(50),
      statusIntervalMs: positiveInt.default(30_000),
    })
    .prefault({}),
});

export type TandemConfig = z.infer<typeof tandemConfigSchema>;

/** Unknown keys are errors at every level, in sections added later too (strictDeep). */
export const tandemConfigSchema = strictDeep(configObject);
