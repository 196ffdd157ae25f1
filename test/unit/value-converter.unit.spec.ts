import { converterFor } from '../../src/connectors/postgres-source/value-converter';
import { UNAVAILABLE_VALUE } from '../../src/contracts/envelope';
import { parseArrayLiteral } from '../../src/connectors/postgres-source/array-literal';

const convert = (type: string, text: string) => converterFor({ name: type })(text);

describe('column value representation', () => {
  it('keeps integers up to 2^63-1 and numeric(38,10) exact as strings', () => {
    expect(convert('int8', '9223372036854775807')).toBe('9223372036854775807');
    expect(convert('numeric', '1234567890123456789012345678.0123456789')).toBe('1234567890123456789012345678.0123456789');
    expect(convert('int4', '-2147483648')).toBe(-2147483648);
  });

  it('writes timestamptz as ISO-8601 UTC with microseconds, timestamp without zone', () => {
    expect(convert('timestamptz', '2024-05-01 10:20:30.123456+00')).toBe('2024-05-01T10:20:30.123456Z');
    expect(convert('timestamptz', '2024-05-01 10:20:30+00')).toBe('2024-05-01T10:20:30Z');
    expect(convert('timestamptz', 'infinity')).toBe('infinity');
    expect(convert('timestamp', '2024-05-01 10:20:30.5')).toBe('2024-05-01T10:20:30.5');
  });

  it('writes bytea as base64, booleans, floats and their special values', () => {
    expect(convert('bytea', '\\xdeadbeef')).toBe(Buffer.from('deadbeef', 'hex').toString('base64'));
    expect(convert('bool', 't')).toBe(true);
    expect(convert('bool', 'f')).toBe(false);
    expect(convert('float8', '1.5e-300')).toBe(1.5e-300);
    expect(convert('float8', 'NaN')).toBe('NaN');
    expect(convert('float4', '-Infinity')).toBe('-Infinity');
  });

  it('writes vectors as arrays of numbers, json and uuid as strings', () => {
    expect(convert('vector', '[1,2.5,-3e-05]')).toEqual([1, 2.5, -3e-5]);
    expect(convert('jsonb', '{"a": [1, 2]}')).toBe('{"a": [1, 2]}');
    expect(convert('uuid', '7c9e6679-7425-40de-944b-e07fc1f90ae7')).toBe('7c9e6679-7425-40de-944b-e07fc1f90ae7');
  });

  it('converts array elements with their element type, keeping NULL and nesting', () => {
    expect(convert('_int8', '{1,NULL,9223372036854775807}')).toEqual(['1', null, '9223372036854775807']);
    expect(convert('_text', '{"a b","c\\"d",NULL,"NULL"}')).toEqual(['a b', 'c"d', null, 'NULL']);
    expect(convert('_int4', '{{1,2},{3,4}}')).toEqual([[1, 2], [3, 4]]);
    expect(convert('_timestamptz', '{"2024-01-01 00:00:00+00"}')).toEqual(['2024-01-01T00:00:00Z']);
  });

  it('parses array literals with explicit bounds and empty arrays', () => {
    expect(parseArrayLiteral('[0:1]={7,8}')).toEqual(['7', '8']);
    expect(parseArrayLiteral('{}')).toEqual([]);
    expect(() => parseArrayLiteral('{1,2')).toThrow('malformed');
  });

  it('uses Debezium’s placeholder for unavailable TOAST values', () => {
    expect(UNAVAILABLE_VALUE).toBe('__debezium_unavailable_value');
  });
});
