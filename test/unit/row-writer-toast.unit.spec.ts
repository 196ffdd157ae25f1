import { planStatements } from '../../src/connectors/postgres-target/row-writer';

const PLACEHOLDER = '__debezium_unavailable_value';

describe('row writer: unchanged TOAST values', () => {
  it('updates only the columns an event carries, and never sends the placeholder to PostgreSQL', () => {
    const [statement] = planStatements('docs', 'docs', [
      { operation: { op: 'upsert', table: 'doc', key: ['id'], row: { id: 7, title: 'new title', body: PLACEHOLDER } }, sourceKey: 'public.doc/{"id":7}', lsn: 99n },
    ]);
    expect(statement.text).toMatch(/^UPDATE "docs"\."doc" AS target SET "title" = source\."title", "_source_key" = source\."_source_key", "_source_lsn" = source\."_source_lsn" FROM jsonb_populate_recordset/);
    expect(statement.text).toContain('target."id" = source."id" AND target._source_lsn <= source._source_lsn');
    expect(statement.text).not.toContain('"body"');
    expect(JSON.parse(statement.values[0] as string)).toEqual([{ id: 7, title: 'new title', _source_key: 'public.doc/{"id":7}', _source_lsn: 99 }]);
  });

  it('writes complete rows with one guarded multi-row upsert, the last event per key winning', () => {
    const statements = planStatements('docs', 'docs', [
      { operation: { op: 'upsert', table: 'doc', key: ['id'], row: { id: 1, title: 'a', body: 'x' } }, sourceKey: 'k1', lsn: 10n },
      { operation: { op: 'upsert', table: 'doc', key: ['id'], row: { id: 2, title: 'b', body: 'y' } }, sourceKey: 'k2', lsn: 10n },
      { operation: { op: 'upsert', table: 'doc', key: ['id'], row: { id: 1, title: 'c', body: 'z' } }, sourceKey: 'k1', lsn: 11n },
    ]);
    expect(statements).toHaveLength(1);
    expect(statements[0].text).toContain('ON CONFLICT ("id") DO UPDATE SET "title" = EXCLUDED."title", "body" = EXCLUDED."body"');
    expect(statements[0].text).toContain('WHERE target._source_lsn <= EXCLUDED._source_lsn');
    expect(JSON.parse(statements[0].values[0] as string).map((r: { id: number; title: string }) => [r.id, r.title])).toEqual([
      [2, 'b'],
      [1, 'c'],
    ]);
  });
});
