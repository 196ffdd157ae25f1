import { z } from 'zod';

/** Field types shared by the configuration's sections. */

export const postgresUrl = z
  .string()
  .refine((value) => /^postgres(ql)?:\/\/.+/.test(value), 'must be a postgres:// connection URL')
  .refine((value) => URL.canParse(value), 'is not a valid URL (percent-encode @ : / in a password)');
export const identifier = z
  .string()
  .regex(/^[a-z_][a-z0-9_]{0,62}$/, 'must be a lower-case PostgreSQL identifier (letters, digits, _; at most 63)');
export const positiveInt = z.number().int().positive();
