import { changeEnvelopeSchema, parseChangeEnvelope } from '../../src/contracts/envelope';

const valid = () => ({
  before: null,
  after: { id: 1, name: 'ada', tags: ['x'], doc: { a: 1 } },
  op: 'u',
  ts_ms: 1700000000000,
  source: { version: '1', connector: 'tandem', schema: 'public', table: 'people', snapshot: 'false', txId: 7, lsn: 4096, commit_lsn: 4096, ts_ms: 1700000000000 },
  transaction: { id: '7:4096', total_order: 1, data_collection_order: 1 },
});

type Mutation = [string, (event: Record<string, any>) => void];
const mutations: Mutation[] = [
  ['as is', () => undefined],
  ['a delete', (e) => { e.before = e.after; e.after = null; e.op = 'd'; }],
  ['no transaction', (e) => { delete e.transaction; }],
  ['a null transaction', (e) => { e.transaction = null; }],
  ['a null commit_lsn, no txId or lsn', (e) => { e.source.commit_lsn = null; delete e.source.txId; delete e.source.lsn; }],
  ['an incremental snapshot read', (e) => { e.op = 'r'; e.source.snapshot = 'incremental'; }],
  ['an unknown op', (e) => { e.op = 'x'; }],
  ['after an array', (e) => { e.after = [1, 2]; }],
  ['after a string', (e) => { e.after = 'row'; }],
  ['before missing', (e) => { delete e.before; }],
  ['ts_ms a string', (e) => { e.ts_ms = '1'; }],
  ['source missing', (e) => { delete e.source; }],
  ['source.table a number', (e) => { e.source.table = 1; }],
  ['source.snapshot a boolean', (e) => { e.source.snapshot = true; }],
  ['source.txId a string', (e) => { e.source.txId = '7'; }],
  ['commit_lsn missing', (e) => { delete e.source.commit_lsn; }],
  ['transaction.id a number', (e) => { e.transaction.id = 7; }],
  ['transaction an array', (e) => { e.transaction = []; }],
  ['a column named __proto__', (e) => { e.after = JSON.parse('{"id": 1, "__proto__": {"x": 1}}'); }],
];

describe('parseChangeEnvelope', () => {
  it.each(mutations)('accepts and refuses what the envelope schema does: %s', (_name, mutate) => {
    const event = valid();
    mutate(event);
    const fast = parseChangeEnvelope(event);
    const schema = changeEnvelopeSchema.safeParse(event);
    expect(fast.success).toBe(schema.success);
    if (fast.success && schema.success) {
      // the same fields (zod also drops the ones it does not know, which nothing reads)
      const known = (e: typeof schema.data) => ({
        ...e,
        transaction: e.transaction ?? null,
        source: Object.fromEntries(Object.keys(schema.data.source).map((key) => [key, (e.source as Record<string, unknown>)[key]])),
      });
      expect(known(fast.data)).toEqual(known(schema.data));
    } else if (!fast.success && !schema.success) {
      expect(fast.error.issues).toEqual(schema.error.issues);
    }
  });

  it('hands a valid event back as it is, not a copy', () => {
    const event = valid();
    const parsed = parseChangeEnvelope(event);
    expect(parsed.success && parsed.data).toBe(event);
    expect(parsed.success && parsed.data.after).toBe(event.after);
  });
});
