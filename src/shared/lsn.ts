/**
 * A PostgreSQL log sequence number. Kept as a bigint so comparisons are exact;
 * written as PostgreSQL writes it ("16/B374D848") or as a JSON number (Debezium's `source.lsn`).
 */
export type Lsn = bigint;

const LSN_TEXT = /^([0-9A-Fa-f]{1,8})\/([0-9A-Fa-f]{1,8})$/;

export function parseLsn(text: string): Lsn {
  const match = LSN_TEXT.exec(text.trim());
  if (!match) throw new Error(`not an LSN: "${text}"`);
  return (BigInt(`0x${match[1]}`) << 32n) | BigInt(`0x${match[2]}`);
}

export function formatLsn(lsn: Lsn): string {
  const high = (lsn >> 32n).toString(16).toUpperCase();
  const low = (lsn & 0xffffffffn).toString(16).toUpperCase();
  return `${high}/${low}`;
}

/** Debezium writes LSNs as JSON numbers; exact while below 2^53 (8 PiB of WAL). */
export function lsnToNumber(lsn: Lsn): number {
  return Number(lsn);
}

export function maxLsn(a: Lsn, b: Lsn): Lsn {
  return a > b ? a : b;
}
