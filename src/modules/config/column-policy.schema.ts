import { z } from 'zod';

const columnList = z.array(z.string().min(1)).default([]);

/**
 * `source.columns`: per captured table, columns never sent to Kafka (`exclude`) and columns sent as
 * a keyed hash (`mask`: HMAC-SHA256 with the key in the environment variable `source.maskKeyEnv`).
 */
export const sourceColumnsSchema = z
  .record(
    z.string().regex(/^[^.\s]+\.[^.\s]+$/, 'must be schema.table'),
    z.object({ exclude: columnList, mask: columnList }),
  )
  .default({});

/** The NAME of the environment variable holding the masking key (the key itself is never in the file). */
export const maskKeyEnvSchema = z
  .string()
  .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be the name of an environment variable')
  .default('TANDEM_MASK_KEY');
