import { appStateDocument, ENTITY_LISTS } from '../../src/projections/app-state/app-state.schema';
import { recognizeValidDocument } from '../../src/projections/app-state/app-state.fast-document';
import { buildAppStates } from '../../demo/app-state';

/** The fast path may decline anything, but what it accepts must be exactly zod's result, key order included. */
function expectSameAsZod(document: unknown): 'recognized' | 'declined' {
  const fast = recognizeValidDocument(document);
  const zod = appStateDocument.safeParse(document);
  if (fast === undefined) return 'declined';
  expect(zod.success).toBe(true);
  expect(JSON.stringify(fast)).toBe(JSON.stringify(zod.data));
  return 'recognized';
}

const ODD_VALUES: unknown[] = [
  undefined, null, '', '   ', ' padded ', 'UPPER', 'x', 0, -0, 7, -1, 1.5, 100, 101, 2 ** 60, true, false, [], ['a'], [1], {},
  { nested: 1 }, '2025-01-02', '2025-01-02T10:00:00Z', '2025-01-02 10:00:00+02:00', '2025-02-30T10:00:00Z', '2025-01-02T10:00',
  '2025-01-02T10:00:00', 'last tuesday', 1735812000000, 9e15, 'ann@corp.example.com', 'ann@corp', '.ann@corp.com',
  'draft', 'published', 'contacted', 'quote', 'DRAFT',
];

describe('app-state: the state check without zod', () => {
  const rows = buildAppStates({ users: 60, duplicateRatio: 0.3, badRatio: 0.2, seed: 5 });

  it('recognizes every valid generated state and gives zod’s result for it; declines every invalid one', () => {
    for (const row of rows) {
      const outcome = expectSameAsZod(row.state);
      const zodAccepts = appStateDocument.safeParse(row.state).success;
      expect(outcome).toBe(zodAccepts ? 'recognized' : 'declined');
    }
  });

  it('never accepts a field value zod rejects, nor changes one zod accepts, whatever the field', () => {
    const smallest = rows.filter((row) => !row.bad).sort((a, b) => JSON.stringify(a.state).length - JSON.stringify(b.state).length)[0];
    const base = smallest.state as Record<string, Array<Record<string, unknown>>>;
    let recognized = 0;
    for (const list of ENTITY_LISTS) {
      const fields = new Set([...Object.keys(base[list][0]), 'createdAt', 'email', 'score', 'status', 'kind', 'type', 'accountId', 'extraField']);
      for (const field of fields) {
        for (const value of ODD_VALUES) {
          const document = structuredClone(base);
          if (value === undefined) delete document[list][0][field];
          else document[list][0][field] = value;
          if (expectSameAsZod(document) === 'recognized') recognized++;
        }
      }
    }
    expect(recognized).toBeGreaterThan(300); // the fast path is used, not only declining
  });

  it('treats the document’s own keys as zod does: lists missing or null, schemaVersion, unknown keys, non-objects', () => {
    const base = rows.find((row) => !row.bad)!.state as Record<string, unknown>;
    const variants: unknown[] = [
      [], null, 'text', 3,
      { ...base, schemaVersion: null }, { ...base, schemaVersion: 2.5 }, { ...base, schemaVersion: '3' },
      Object.fromEntries(Object.entries(base).filter(([key]) => key !== 'schemaVersion')),
      { ...base, leads: null }, { ...base, leads: 'none' }, { ...base, leads: [null] },
      Object.fromEntries(Object.entries(base).filter(([key]) => key !== 'orgs' && key !== 'personas' && key !== 'contents')),
      { ...base, orgs: [] }, { theme: 'dark', ...base, more: [1, 2] },
      JSON.parse('{"__proto__": {"x": 1}, "orgs": []}'),
    ];
    const outcomes = variants.map(expectSameAsZod);
    expect(outcomes.filter((outcome) => outcome === 'recognized').length).toBe(5);
  });
});
