/**
 * CRC-32C (Castagnoli), the checksum of a Kafka record batch, eight bytes per step ("slicing by 8").
 * kafkajs's version takes one table lookup per byte and was about a tenth of capture's producer thread.
 */
const TABLES = buildTables();

function buildTables(): Int32Array[] {
  const tables = Array.from({ length: 8 }, () => new Int32Array(256));
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0x82f63b78 ^ (c >>> 1) : c >>> 1;
    tables[0][n] = c;
  }
  for (let n = 0; n < 256; n++) {
    for (let t = 1; t < 8; t++) tables[t][n] = tables[0][tables[t - 1][n] & 0xff] ^ (tables[t - 1][n] >>> 8);
  }
  return tables;
}

/** The CRC-32C of `buffer[start, end)`, as an unsigned 32-bit integer. */
export function crc32c(buffer: Uint8Array, start = 0, end = buffer.length): number {
  const [t0, t1, t2, t3, t4, t5, t6, t7] = TABLES;
  let crc = -1;
  let i = start;
  for (const stop = end - 7; i < stop; i += 8) {
    const a = crc ^ (buffer[i] | (buffer[i + 1] << 8) | (buffer[i + 2] << 16) | (buffer[i + 3] << 24));
    crc =
      t7[a & 0xff] ^
      t6[(a >>> 8) & 0xff] ^
      t5[(a >>> 16) & 0xff] ^
      t4[a >>> 24] ^
      t3[buffer[i + 4]] ^
      t2[buffer[i + 5]] ^
      t1[buffer[i + 6]] ^
      t0[buffer[i + 7]];
  }
  for (; i < end; i++) crc = t0[(crc ^ buffer[i]) & 0xff] ^ (crc >>> 8);
  return (crc ^ -1) >>> 0;
}
