import { parseArrayLiteral, type ArrayLiteral } from './array-literal';
import type { TypeInfo } from './pg-types';
import type { JsonValue } from '../../contracts/envelope';

/**
 * Turns a column's PostgreSQL text form (as pgoutput and the snapshot read it, with
 * DateStyle=ISO and TimeZone=UTC) into its JSON representation in change events.
 * The representations are documented in the README ("Column types").
 */

export type Converter = (text: string) => JsonValue;

const asIs: Converter = (text) => text;

const floatValue: Converter = (text) => {
  const value = Number(text);
  return Number.isFinite(value) ? value : text; // NaN, Infinity, -Infinity stay as their names
};

const timestampTz: Converter = (text) => {
  // "2024-05-01 10:20:30.123456+00" -> "2024-05-01T10:20:30.123456Z"
  const match = /^(\d{4,}-\d\d-\d\d) (\d\d:\d\d:\d\d(?:\.\d+)?)\+00(?::00)?$/.exec(text);
  return match ? `${match[1]}T${match[2]}Z` : text;
};

const timestamp: Converter = (text) => {
  const match = /^(\d{4,}-\d\d-\d\d) (\d\d:\d\d:\d\d(?:\.\d+)?)$/.exec(text);
  return match ? `${match[1]}T${match[2]}` : text;
};

const bytea: Converter = (text) => {
  if (!text.startsWith('\\x')) throw new Error('bytea is not in hex format (set bytea_output=hex)');
  return Buffer.from(text.slice(2), 'hex').toString('base64');
};

const vector: Converter = (text) => {
  const inner = text.trim().replace(/^\[/, '').replace(/\]$/, '');
  return inner === '' ? [] : inner.split(',').map((item) => Number(item));
};

const SCALARS: Record<string, Converter> = {
  bool: (text) => text === 't' || text === 'true',
  int2: Number,
  int4: Number,
  oid: Number,
  // int8 and numeric are exact strings: a JSON number would lose digits in most consumers.
  int8: asIs,
  numeric: asIs,
  float4: floatValue,
  float8: floatValue,
  timestamptz: timestampTz,
  timestamp,
  bytea,
  vector,
  halfvec: vector,
};

export function converterFor(type: TypeInfo): Converter {
  const scalar = SCALARS[type.name];
  if (scalar) return scalar;
  if (type.name.startsWith('_')) {
    const element = converterFor({ name: type.name.slice(1) });
    const convertItems = (items: ArrayLiteral): JsonValue[] =>
      items.map((item) => (item === null ? null : Array.isArray(item) ? convertItems(item) : element(item)));
    return (text) => convertItems(parseArrayLiteral(text));
  }
  return asIs; // text, varchar, uuid, json(b) (as a JSON string, like Debezium), date, time, interval, …
}
