/**
 * A key's locator (single-difference-locator.ts): its text's first 6 bytes as a 48-bit number, and
 * the key range, in the key's own type, that holds every key with that locator, so that an index on
 * the key serves the read. Only uuid and text keys have one; the range only has to be right for the
 * comparison to be fast: rows it misses make the bucket's check fail, and the bucket is scanned.
 */

const LOCATOR_BYTES = 6;

/** The key types with a locator (format_type names). */
const LOCATABLE = new Set(['uuid', 'text', 'character varying']);

export const hasLocator = (keyType: string) => LOCATABLE.has(keyType);

/** SQL: the locator of a key text expression (the cheapest form measured: byte extractions or-ed). */
export function locatorOf(keyText: string): string {
  return Array.from(
    { length: LOCATOR_BYTES },
    (_, i) => `((ascii(substr(${keyText}, ${i + 1}, 1)) & 255)::bigint << ${8 * (LOCATOR_BYTES - 1 - i)})`,
  ).join(' | ');
}

/** The key text prefix a locator stands for, or null when its bytes are not printable ASCII (no range is known). */
function prefixOf(locator: string): string | null {
  let value = BigInt(locator);
  const bytes: number[] = [];
  for (let i = 0; i < LOCATOR_BYTES; i++, value >>= 8n) bytes.unshift(Number(value & 255n));
  while (bytes.length > 0 && bytes[bytes.length - 1] === 0) bytes.pop();
  if (bytes.length === 0 || bytes.some((b) => b < 0x20 || b > 0x7e)) return null;
  return String.fromCharCode(...bytes);
}

const ALPHANUMERIC = /[0-9A-Za-z]/;

/**
 * The least string above every text with this prefix, in C and in the usual linguistic collations
 * (which skip punctuation at first): the last letter or digit raised by one, a digit 9 to `a`,
 * anything else dropped (a wider range, whose extra rows the locator test leaves out). Null: no bound.
 */
function upperBound(prefix: string): string | null {
  for (let i = prefix.length - 1; i >= 0; i--) {
    const c = prefix[i];
    if (!ALPHANUMERIC.test(c) || c === 'z' || c === 'Z') continue;
    return prefix.slice(0, i) + (c === '9' ? 'a' : String.fromCharCode(c.charCodeAt(0) + 1));
  }
  return null;
}

/** The range [from, to) (to: null, no upper bound; for uuid, [from, to] inclusive) of keys with this locator, or null. */
export function keyRange(keyType: string, locator: string): { from: string; to: string | null; inclusive: boolean } | null {
  const prefix = prefixOf(locator);
  if (prefix === null) return null;
  if (keyType === 'uuid') {
    if (!/^[0-9a-f]{6}$/.test(prefix)) return null;
    return { from: `${prefix}00-0000-0000-0000-000000000000`, to: `${prefix}ff-ffff-ffff-ffff-ffffffffffff`, inclusive: true };
  }
  return { from: prefix, to: upperBound(prefix), inclusive: false };
}
