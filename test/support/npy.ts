import { writeFileSync } from 'fs';

/**
 * Writes a 2-D array as NumPy's .npy format version 1.0 (what numpy.save writes): the magic, a
 * header padded with spaces to a multiple of 64 bytes and ending in a newline, then the values in C
 * order, little-endian. `dtype` '<f4' (float32, default) or '<f8' (float64).
 */
export function npyBuffer(rows: number[][], options: { dtype?: '<f4' | '<f8'; columns?: number } = {}): Buffer {
  const dtype = options.dtype ?? '<f4';
  const columns = options.columns ?? rows[0]?.length ?? 0;
  const size = dtype === '<f4' ? 4 : 8;
  let header = `{'descr': '${dtype}', 'fortran_order': False, 'shape': (${rows.length}, ${columns}), }`;
  const unpadded = 10 + header.length + 1;
  header += ' '.repeat((64 - (unpadded % 64)) % 64) + '\n';
  const prefix = Buffer.alloc(10);
  prefix.write('\x93NUMPY', 0, 'latin1');
  prefix[6] = 1;
  prefix[7] = 0;
  prefix.writeUInt16LE(header.length, 8);
  const data = Buffer.alloc(rows.length * columns * size);
  rows.forEach((row, r) => {
    if (row.length !== columns) throw new Error(`npyBuffer: row ${r} has ${row.length} values, expected ${columns}`);
    row.forEach((value, c) => {
      const offset = (r * columns + c) * size;
      if (size === 4) data.writeFloatLE(value, offset);
      else data.writeDoubleLE(value, offset);
    });
  });
  return Buffer.concat([prefix, Buffer.from(header, 'latin1'), data]);
}

export function writeNpy(file: string, rows: number[][], options: { dtype?: '<f4' | '<f8'; columns?: number } = {}): void {
  writeFileSync(file, npyBuffer(rows, options));
}

/** A deterministic pseudo-random vector in [-1, 1), rounded to float32 (mulberry32 seeded by `seed`). */
export function randomVector(seed: number, dimensions: number): number[] {
  let state = seed >>> 0;
  return Array.from({ length: dimensions }, () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return Math.fround(((t ^ (t >>> 14)) >>> 0) / 2147483648 - 1);
  });
}
