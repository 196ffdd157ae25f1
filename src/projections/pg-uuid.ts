import { z } from 'zod';

const UUID_TEXT = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;

/**
 * A uuid as PostgreSQL accepts it: any 128-bit value in the canonical text form. zod's own uuid()
 * also demands an RFC 4122 version and variant, which legacy ids (e.g. md5(...)::uuid) often lack.
 */
export const pgUuid = (message = 'not a valid uuid') => z.string().regex(UUID_TEXT, message);
