import { keyOf, keySerializer, rowReader, tupleToRow } from '../../src/connectors/postgres-source/change-event';
import { TypeRegistry } from '../../src/connectors/postgres-source/pg-types';
import { UNCHANGED_TOAST, type RawTuple } from '../../src/connectors/postgres-source/pgoutput-decoder';
import type { Row } from '../../src/contracts/envelope';

// Capture's per-table readers must give the record keys and rows of the generic functions, byte for byte.
describe('per-table key and row readers', () => {
  const row: Row = {
    id: '42',
    '2': 'two',
    '10': 'ten',
    __proto__: 'proto',
    constructor: 'c',
    'a"b': 'q"uote',
    ü: 'é ✓',
    tags: ['x', null],
    n: 7,
    flag: false,
    gone: null,
  };
  // assigned one by one: an object literal's __proto__ sets the prototype, as tupleToRow's assignment does
  const asRow = (entries: Array<[string, unknown]>) => {
    const r: Row = {};
    for (const [k, v] of entries) r[k] = v as Row[string];
    return r;
  };
  const rows = [row, asRow([['id', '1'], ['__proto__', 'x'], ['10', '3']]), asRow([['id', null]]), {}];

  it.each([
    [['id']],
    [['id', 'n']],
    [['ü', 'a"b', 'tags']],
    [['10', '2']], // array indices: JSON.stringify orders them first
    [['id', '__proto__']],
    [['constructor', 'id']],
    [['missing']],
    [['flag', 'gone', 'n']],
    [[]],
  ])('record key of %j', (keyColumns) => {
    const serialize = keySerializer(keyColumns);
    for (const r of rows) expect(serialize(r)).toBe(keyOf(keyColumns, r));
  });

  it('rows of every kind of value, TOAST placeholder, null and a column missing from an old tuple', () => {
    const types = new TypeRegistry();
    const columns = [
      { name: 'id', typeOid: 20, typeMod: -1, isKey: true },
      { name: 'n', typeOid: 23, typeMod: -1, isKey: false },
      { name: 'at', typeOid: 1184, typeMod: -1, isKey: false },
      { name: 'tags', typeOid: 1009, typeMod: -1, isKey: false },
      { name: 'bio', typeOid: 25, typeMod: -1, isKey: false },
      { name: 'flag', typeOid: 16, typeMod: -1, isKey: false },
      { name: 'added', typeOid: 25, typeMod: -1, isKey: false },
    ];
    const tuples: RawTuple[] = [
      ['1', '-5', '2024-05-01 10:20:30.123456+00', '{a,"b c",NULL}', 'hé "x"', 't', 'new'],
      ['2', null, '2024-05-01 10:20:30+00', '{}', UNCHANGED_TOAST, 'f'],
    ];
    const read = rowReader(columns, types, null);
    for (const tuple of tuples) expect(JSON.stringify(read(tuple))).toBe(JSON.stringify(tupleToRow(columns, tuple, types)));
    expect(() => read(['x', 'y', 'not a time', '{', 'b', 't', 'z'])).toThrow(/column "tags"/);
  });
});
