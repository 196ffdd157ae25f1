import { z, type ZodType } from 'zod';
import { UNAVAILABLE_VALUE } from '../contracts/envelope';

/**
 * A column that PostgreSQL may store out of line (TOAST): an update that does not touch it carries
 * the placeholder instead of the value, and the runner keeps the stored value.
 */
export function toastable<T extends ZodType>(schema: T) {
  return z.union([z.literal(UNAVAILABLE_VALUE), schema]);
}

export const isUnavailable = (value: unknown): value is typeof UNAVAILABLE_VALUE => value === UNAVAILABLE_VALUE;
