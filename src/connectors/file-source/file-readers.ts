import { readFileSync } from 'fs';
import { ImportValidationError } from '../../shared/errors';

export function readText(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (error) {
    throw new ImportValidationError(file, null, `cannot read the file (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
  }
}

/** A JSON file holding an array of objects. */
export function readJsonArray(file: string): Array<Record<string, unknown>> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readText(file));
  } catch (error) {
    if (error instanceof ImportValidationError) throw error;
    throw new ImportValidationError(file, null, `not valid JSON (${(error as Error).message})`);
  }
  if (!Array.isArray(parsed)) throw new ImportValidationError(file, null, 'expected a JSON array of records');
  parsed.forEach((item, index) => {
    if (typeof item !== 'object' || item === null || Array.isArray(item)) {
      throw new ImportValidationError(file, `record ${index}`, 'expected a JSON object');
    }
  });
  return parsed as Array<Record<string, unknown>>;
}

/** A CSV file with a header line (RFC 4180 quoting); each row as an object keyed by header. */
export function readCsv(file: string): Array<Record<string, string>> {
  const text = readText(file).replace(/^\uFEFF/, '');
  const rows: string[][] = [];
  let field = '';
  let row: string[] = [];
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const char = text[i];
    if (quoted) {
      if (char === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (char === '"') quoted = false;
      else field += char;
    } else if (char === '"') quoted = true;
    else if (char === ',') {
      row.push(field);
      field = '';
    } else if (char === '\n' || char === '\r') {
      if (char === '\r' && text[i + 1] === '\n') i++;
      row.push(field);
      if (row.length > 1 || row[0] !== '') rows.push(row);
      row = [];
      field = '';
    } else field += char;
  }
  if (quoted) throw new ImportValidationError(file, `line ${rows.length + 1}`, 'unterminated quoted field');
  if (field !== '' || row.length > 0) rows.push([...row, field]);
  if (rows.length === 0) throw new ImportValidationError(file, null, 'empty CSV file (expected a header line)');
  const [header, ...data] = rows;
  return data.map((values, index) => {
    if (values.length !== header.length) {
      throw new ImportValidationError(file, `line ${index + 2}`, `expected ${header.length} fields, found ${values.length}`);
    }
    return Object.fromEntries(header.map((name, column) => [name.trim(), values[column]]));
  });
}

export interface NpyMatrix {
  rows: number;
  columns: number;
  /** Row-major values. */
  data: Float32Array | Float64Array;
}

/** A NumPy .npy file holding a 2-D float32 or float64 array (C order), as numpy.save writes it. */
export function readNpy(file: string): NpyMatrix {
  let buffer: Buffer;
  try {
    buffer = readFileSync(file);
  } catch (error) {
    throw new ImportValidationError(file, null, `cannot read the file (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  if (buffer.length < 10 || buffer.toString('latin1', 0, 6) !== '\x93NUMPY') throw new ImportValidationError(file, null, 'not a .npy file');
  const major = buffer[6];
  const headerLength = major === 1 ? buffer.readUInt16LE(8) : buffer.readUInt32LE(8);
  const headerStart = major === 1 ? 10 : 12;
  const header = buffer.toString('latin1', headerStart, headerStart + headerLength);
  const descr = /'descr':\s*'([^']+)'/.exec(header)?.[1];
  const fortran = /'fortran_order':\s*True/.test(header);
  const shape = /'shape':\s*\(([^)]*)\)/.exec(header)?.[1];
  if (!descr || !shape) throw new ImportValidationError(file, null, 'unreadable .npy header');
  if (fortran) throw new ImportValidationError(file, null, 'Fortran-ordered arrays are not supported; save with C order');
  const dims = shape.split(',').map((d) => d.trim()).filter(Boolean).map(Number);
  if (dims.length !== 2) throw new ImportValidationError(file, null, `expected a 2-D array, found shape (${shape})`);
  const [rows, columns] = dims;
  const offset = headerStart + headerLength;
  const bytes = buffer.subarray(offset);
  const copy = (size: number) => {
    if (bytes.length !== rows * columns * size) {
      throw new ImportValidationError(file, null, `expected ${rows * columns * size} bytes of data for shape (${rows}, ${columns}), found ${bytes.length}`);
    }
    const aligned = Buffer.from(bytes); // typed arrays need an aligned, owned buffer
    return aligned.buffer.slice(aligned.byteOffset, aligned.byteOffset + aligned.length);
  };
  if (descr === '<f4') return { rows, columns, data: new Float32Array(copy(4)) };
  if (descr === '<f8') return { rows, columns, data: new Float64Array(copy(8)) };
  throw new ImportValidationError(file, null, `unsupported dtype ${descr} (expected little-endian float32 or float64)`);
}

export function matrixRow(matrix: NpyMatrix, row: number): number[] {
  return Array.from(matrix.data.subarray(row * matrix.columns, (row + 1) * matrix.columns));
}
