/**
 * SQL expression builders for recipes' reconciliation specs (define-reconciliation.ts): each side of
 * a comparison must give the same text for the same data, whichever database, session time zone or
 * JavaScript round trip it went through. Every builder takes and returns an SQL expression.
 *
 * Mind the placeholder syntax of comparison SQL: `{word}` is replaced by a quoted schema name, so
 * these expressions never contain a brace around a word (no `\d{4}` in a regex, no '{a}' literal).
 */

/** A string as an SQL literal. */
export const sqlLiteral = (value: string) => `'${value.replace(/'/g, "''")}'`;

/** The characters JavaScript's String.prototype.trim removes (WhiteSpace and LineTerminator). */
const JS_WHITESPACE = [9, 10, 11, 12, 13, 32, 160, 5760, ...Array.from({ length: 11 }, (_, i) => 8192 + i), 8232, 8233, 8239, 8287, 12288, 65279];
const JS_WHITESPACE_SQL = `(${JS_WHITESPACE.map((code) => `chr(${code})`).join(' || ')})`;

/** `text.trim()` as zod's `.trim()` does it. */
export const jsTrim = (expr: string) => `btrim(${expr}, ${JS_WHITESPACE_SQL})`;

const ISO_MICROS = `'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'`;
const ISO_MILLIS = `'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'`;

/**
 * A timestamptz or timestamp column as ISO-8601 UTC text with microseconds, whatever the session's
 * time zone (a timestamp without zone is read as UTC, as capture and the recipes read it).
 */
export const isoUtc = (expr: string) =>
  `(CASE WHEN pg_typeof(${expr}) = 'timestamp with time zone'::regtype THEN to_char((${expr})::timestamptz AT TIME ZONE 'UTC', ${ISO_MICROS})` +
  ` ELSE to_char((${expr})::timestamp, ${ISO_MICROS}) END)`;

/** A timestamptz column as JavaScript's Date.toISOString() writes it (UTC, milliseconds). */
export const isoUtcMillis = (expr: string) => `to_char((${expr}) AT TIME ZONE 'UTC', ${ISO_MILLIS})`;

/**
 * A date inside a JSON document (a jsonb expression) as the recipes normalize it with
 * `new Date(value).toISOString()`: ISO-8601 text (a date, or a date-time with its zone; fractions
 * truncated to milliseconds; out-of-range days and hours rolled over as JavaScript does) or epoch
 * milliseconds. Built by interval arithmetic, so a malformed date of an invalid (quarantined)
 * document gives NULL or some value but never an error that would stop the comparison.
 */
export function jsonDate(json: string): string {
  const text = `(${json} #>> '{}')`;
  const pattern = `'^([0-9][0-9][0-9][0-9])-([0-9][0-9])-([0-9][0-9])(?:[T ]([0-9][0-9]):([0-9][0-9])(?::([0-9][0-9])(?:\\.([0-9]+))?)?(?:Z|([+-])([0-9][0-9]):([0-9][0-9])))?$'`;
  const m = (i: number) => `d.m[${i}]`;
  const fromText =
    `timestamp '2000-01-01 00:00:00' + (${m(1)}::int - 2000) * interval '1 year' + (${m(2)}::int - 1) * interval '1 month'` +
    ` + (${m(3)}::int - 1) * interval '1 day' + coalesce(${m(4)}::int, 0) * interval '1 hour' + coalesce(${m(5)}::int, 0) * interval '1 minute'` +
    ` + coalesce(${m(6)}::int, 0) * interval '1 second' + coalesce(substr(rpad(${m(7)}, 3, '0'), 1, 3)::int, 0) * interval '1 millisecond'` +
    ` - (CASE ${m(8)} WHEN '-' THEN -1 ELSE 1 END) * (coalesce(${m(9)}::int, 0) * interval '1 hour' + coalesce(${m(10)}::int, 0) * interval '1 minute')`;
  const fromEpoch = `timestamp '1970-01-01 00:00:00' + (${text}::bigint / 1000) * interval '1 second' + (${text}::bigint % 1000) * interval '1 millisecond'`;
  // already in toISOString()'s form, with a day every month has: the text is the answer (most dates; fast)
  const canonical = `'^[0-9][0-9][0-9][0-9]-(0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-8])T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9][.][0-9][0-9][0-9]Z$'`;
  return (
    `(CASE jsonb_typeof(${json})` +
    ` WHEN 'string' THEN CASE WHEN ${text} ~ ${canonical} THEN ${text}` +
    ` ELSE (SELECT to_char(${fromText}, ${ISO_MILLIS}) FROM regexp_match(${text}, ${pattern}) AS d(m) WHERE d.m IS NOT NULL) END` +
    ` WHEN 'number' THEN CASE WHEN ${text} ~ '^[0-9]+$' AND length(${text}) <= 15 THEN to_char(${fromEpoch}, ${ISO_MILLIS}) END END)`
  );
}

/**
 * A jsonb value as canonical text. PostgreSQL's jsonb text is canonical (key order, spacing,
 * escapes) except for numbers, which keep their scale ("0.50"); a value that went through
 * JavaScript (JSON.parse, then JSON.stringify into the target) lost it ("0.5"). Trailing fraction
 * zeros are removed outside strings on both sides. (Digits beyond double precision are really lost
 * on the way, and show as a difference.)
 */
export const jsonText = (expr: string) =>
  `regexp_replace((${expr})::jsonb::text, '("(?:[^"\\\\]|\\\\.)*")|(-?[0-9]+)(?:(\\.[0-9]*[1-9])0+|\\.0+)(?![0-9])', '\\1\\2\\3', 'g')`;

/** A jsonb column the recipe stores as `value ?? fallback` (SQL NULL and JSON null both count as absent). */
export const jsonOr = (expr: string, fallback: string) =>
  `(CASE WHEN (${expr}) IS NULL OR jsonb_typeof((${expr})::jsonb) = 'null' THEN ${sqlLiteral(fallback)}::jsonb ELSE (${expr})::jsonb END)`;

/** A number as canonical text (no trailing fraction zeros): numeric 72.50 and a JavaScript 72.5 compare equal. */
export const numberText = (expr: string) => `trim_scale((${expr})::numeric)::text`;
