import { z } from 'zod';
import { UNAVAILABLE_VALUE } from '../../contracts/envelope';
import { appStateDocument } from './app-state.schema';
import { recognizeValidDocument } from './app-state.fast-document';

/** The legacy `user_app_state` row (its `state` column holds the document of app-state.schema.ts) and the order its rows win in. */

/** The `state` column: jsonb arrives as the JSON text (README, "Column types"). */
const stateColumn = z
  .string({ error: 'is missing (null)' })
  .refine(
    (value) => value !== UNAVAILABLE_VALUE,
    'unchanged TOASTed value without its content: set REPLICA IDENTITY FULL on the legacy table (see the app-state recipe)',
  )
  .transform((value, ctx) => {
    try {
      return JSON.parse(value) as unknown;
    } catch {
      ctx.addIssue({ code: 'custom', message: 'is not valid JSON' });
      return z.NEVER;
    }
  })
  .pipe(
    // zod is the rule book and words the reasons; a common valid document is recognized without it
    z.unknown().transform((document, ctx) => {
      const recognized = recognizeValidDocument(document);
      if (recognized !== undefined) return recognized;
      const checked = appStateDocument.safeParse(document);
      if (checked.success) return checked.data;
      for (const issue of checked.error.issues) ctx.addIssue({ code: 'custom', message: issue.message, path: issue.path });
      return z.NEVER;
    }),
  );

/** PostgreSQL's ISO output of timestamptz (UTC, "Z") or timestamp (no zone: read as UTC). */
const PG_TIMESTAMP = /^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}:\d{2})(?:\.(\d{1,6}))?(Z|[+-]\d{2}(?::\d{2})?)?$/;

/** A legacy row of `<schema>.user_app_state`. */
export const appStateRow = z.object({
  id: z.union([z.string().min(1), z.number().int()], { error: 'must be the row id' }).transform(String),
  user_id: z.string({ error: 'is missing (null)' }).refine((value) => value.trim().length > 0, 'is empty'),
  updated_at: z
    .string()
    .regex(PG_TIMESTAMP, 'must be a timestamp')
    .nullish()
    .transform((value) => value ?? null),
  state: stateColumn,
});

export type AppStateRow = z.infer<typeof appStateRow>;

const NO_TIMESTAMP = '0000-00-00T00:00:00.000000Z';

/**
 * updated_at as a fixed-width UTC ISO string with microseconds ("2024-05-01T10:34:56.500000Z"), so
 * that text order is time order; null (no timestamp) sorts before every timestamp.
 */
export function normalizeUpdatedAt(updatedAt: string | null): string | null {
  if (updatedAt === null) return null;
  const match = PG_TIMESTAMP.exec(updatedAt);
  if (!match) throw new Error(`updated_at: not a timestamp: ${updatedAt}`);
  const [, date, time, fraction = '', zone = 'Z'] = match;
  const millis = Date.parse(`${date}T${time}${zone.length === 3 ? `${zone}:00` : zone}`);
  const iso = new Date(millis).toISOString(); // YYYY-MM-DDTHH:MM:SS.mmmZ, in UTC
  return `${iso.slice(0, 19)}.${fraction.padEnd(6, '0')}Z`;
}

/**
 * The order in which legacy rows of one user win: by updated_at, then by row id (integers compared
 * as numbers), as one text in "C" collation order. The source LSN breaks the remaining ties.
 */
export function rowVersion(row: Pick<AppStateRow, 'id' | 'updated_at'>): string {
  const id = /^\d+$/.test(row.id) ? row.id.padStart(20, '0') : row.id;
  return `${normalizeUpdatedAt(row.updated_at) ?? NO_TIMESTAMP}|${id}`;
}
