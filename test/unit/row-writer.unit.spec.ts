import {
  planStatements,
  type SourcedOperation,
} from '../../src/connectors/postgres-target/row-writer';
import type { RowOperation } from '../../src/contracts/row-operation';

const sourced = (operation: RowOperation, lsn = 700n): SourcedOperation => ({
  operation,
  sourceKey: 'public.t/{"id":1}',
  lsn,
});
const plan = (...operations: SourcedOperation[]) => planStatements('p', 's', operations);
const oneLine = (text: string) => text.replace(/\s+/g, ' ');

describe('row writer: LSN-guarded statements', () => {
  it('guards upserts and deletes by the source LSN alone by default', () => {
    const [upsert, del, except] = plan(
      sourced({ op: 'upsert', table: 't', key: ['id'], row: { id: 1, name: 'a' } }),
      sourced({ op: 'delete', table: 't', match: { id: 2 } }),
      sourced({ op: 'deleteExcept', table: 't', match: { owner: 'u' }, column: 'id', keep: [1] }),
    );
    expect(upsert.text).toBe(
      'INSERT INTO "s"."t" AS target ("id", "name", "_source_key", "_source_lsn") SELECT "id", "name", "_source_key", "_source_lsn" ' +
        'FROM jsonb_populate_recordset(NULL::"s"."t", $1::jsonb) ON CONFLICT ("id") DO UPDATE SET "name" = EXCLUDED."name", ' +
        '"_source_key" = EXCLUDED."_source_key", "_source_lsn" = EXCLUDED."_source_lsn" WHERE target._source_lsn <= EXCLUDED._source_lsn',
    );
    expect(JSON.parse(upsert.values[0] as string)).toEqual([
      { id: 1, name: 'a', _source_key: 'public.t/{"id":1}', _source_lsn: 700 },
    ]);
    expect(del).toEqual({
      text: 'DELETE FROM "s"."t" WHERE "id" = $1 AND _source_lsn <= $2',
      values: [2, 700],
    });
    expect(except).toEqual({
      text: 'DELETE FROM "s"."t" WHERE "owner" = $1 AND NOT ("id" = ANY($2)) AND _source_lsn <= $3',
      values: ['u', [1], 700],
    });
  });

  it('with a version, orders writes by (version, LSN) instead of the LSN alone', () => {
    const [upsert, del, except] = plan(
      sourced({ op: 'upsert', table: 't', key: ['id'], row: { id: 1, v: '2025|9' }, version: 'v' }),
      sourced({ op: 'delete', table: 't', match: { id: 2 }, version: { column: 'v', value: '2025|9' } }),
      sourced({
        op: 'deleteExcept',
        table: 't',
        match: { owner: 'u' },
        column: 'id',
        keep: [],
        version: { column: 'v', value: '2025|9' },
      }),
    );
    expect(upsert.text).toMatch(
      /WHERE \(target\."v", target\._source_lsn\) <= \(EXCLUDED\."v", EXCLUDED\._source_lsn\)$/,
    );
    expect(del).toEqual({
      text: 'DELETE FROM "s"."t" WHERE "id" = $1 AND ("v", _source_lsn) <= ($2, $3::bigint)',
      values: [2, '2025|9', 700],
    });
    expect(except.text).toBe(
      'DELETE FROM "s"."t" WHERE "owner" = $1 AND NOT ("id" = ANY($2)) AND ("v", _source_lsn) <= ($3, $4::bigint)',
    );
    expect(except.values).toEqual(['u', [], '2025|9', 700]);
  });

  it('with a precondition, writes only while the precondition row exists', () => {
    const when = { table: 'head', match: { user_id: 'u', version: '2025|9' } };
    const [upsert, except] = plan(
      sourced({ op: 'upsert', table: 't', key: ['id'], row: { id: 1 }, when }),
      sourced({ op: 'deleteExcept', table: 't', match: { owner: 'u' }, column: 'id', keep: [1], when }),
    );
    expect(oneLine(upsert.text)).toContain(
      'FROM jsonb_populate_recordset(NULL::"s"."t", $1::jsonb) WHERE EXISTS (SELECT 1 FROM "s"."head" WHERE "user_id" = $2 AND "version" = $3) ON CONFLICT ("id")',
    );
    expect(upsert.values.slice(1)).toEqual(['u', '2025|9']);
    expect(except.text).toBe(
      'DELETE FROM "s"."t" WHERE "owner" = $1 AND NOT ("id" = ANY($2)) AND _source_lsn <= $3 AND EXISTS (SELECT 1 FROM "s"."head" WHERE "user_id" = $4 AND "version" = $5)',
    );
    expect(except.values).toEqual(['u', [1], 700, 'u', '2025|9']);
  });

  it('merges a run of upserts whose guards have the same shape; differing preconditions travel once per event', () => {
    const when = (version: string) => ({ table: 'head', match: { version } });
    const statements = plan(
      sourced({ op: 'upsert', table: 't', key: ['id'], row: { id: 1 }, when: when('a') }),
      sourced({ op: 'upsert', table: 't', key: ['id'], row: { id: 2 }, when: when('a') }),
      sourced({ op: 'upsert', table: 't', key: ['id'], row: { id: 3 }, when: when('b') }),
      sourced({ op: 'upsert', table: 't', key: ['id'], row: { id: 4 }, when: when('b'), version: 'v' }),
      sourced({ op: 'upsert', table: 't', key: ['id'], row: { id: 5 } }),
    );
    expect(statements).toHaveLength(3);
    expect(oneLine(statements[0].text)).toContain(
      'CROSS JOIN LATERAL jsonb_populate_record(NULL::"s"."head", e.item->\'when\') AS w CROSS JOIN LATERAL jsonb_populate_recordset(NULL::"s"."t", e.item->\'rows\') AS x WHERE EXISTS (SELECT 1 FROM "s"."head" c WHERE c."version" = w."version")',
    );
    // each distinct precondition object starts a group (an event's rows share theirs)
    expect(JSON.parse(statements[0].values[0] as string)).toEqual([
      { when: { version: 'a' }, k: 'public.t/{"id":1}', l: 700, rows: [{ id: 1 }] },
      { when: { version: 'a' }, k: 'public.t/{"id":1}', l: 700, rows: [{ id: 2 }] },
      { when: { version: 'b' }, k: 'public.t/{"id":1}', l: 700, rows: [{ id: 3 }] },
    ]);
    expect(
      statements.slice(1).map((s) => JSON.parse(s.values[0] as string).map((r: { id: number }) => r.id)),
    ).toEqual([[4], [5]]);
  });

  it('sends an event\'s precondition once for its rows; a key repeated within them starts another group', () => {
    const head = { table: 'head', match: { version: 'a' } };
    const other = { table: 'head', match: { version: 'b' } };
    const [upsert] = plan(
      sourced({ op: 'upsert', table: 't', key: ['id'], row: { id: 1, v: 'x' }, when: head }),
      sourced({ op: 'upsert', table: 't', key: ['id'], row: { id: 2, v: 'x' }, when: head }),
      sourced({ op: 'upsert', table: 't', key: ['id'], row: { id: 2, v: 'y' }, when: head }),
      sourced({ op: 'upsert', table: 't', key: ['id'], row: { id: 3, v: 'x' }, when: other }, 701n),
    );
    expect(JSON.parse(upsert.values[0] as string)).toEqual([
      { when: { version: 'a' }, k: 'public.t/{"id":1}', l: 700, rows: [{ id: 1, v: 'x' }, { id: 2, v: 'x' }] },
      { when: { version: 'a' }, k: 'public.t/{"id":1}', l: 700, rows: [{ id: 2, v: 'y' }] },
      { when: { version: 'b' }, k: 'public.t/{"id":1}', l: 701, rows: [{ id: 3, v: 'x' }] },
    ]);
  });

  it('of one key written twice with a version, keeps the greatest (version, LSN), ordered by PostgreSQL', () => {
    const [upsert] = plan(
      sourced({ op: 'upsert', table: 't', key: ['id'], row: { id: 1, v: 'b' }, version: 'v' }, 700n),
      sourced({ op: 'upsert', table: 't', key: ['id'], row: { id: 1, v: 'a' }, version: 'v' }, 800n),
    );
    expect(oneLine(upsert.text)).toContain('SELECT DISTINCT ON (s."id") s.*');
    expect(oneLine(upsert.text)).toContain(
      'ORDER BY s."id", s."v" DESC NULLS LAST, s._source_lsn DESC, s._tandem_n DESC',
    );
  });

  it('merges deletes of one table and match shape into one statement', () => {
    const statements = plan(
      sourced({ op: 'deleteExcept', table: 't', match: { owner: 'u1' }, column: 'id', keep: [1] }, 701n),
      sourced({ op: 'deleteExcept', table: 't', match: { owner: 'u2' }, column: 'id', keep: [] }, 702n),
      sourced({ op: 'delete', table: 't', match: { id: 7 } }, 703n),
      sourced({ op: 'delete', table: 't', match: { id: 8 } }, 704n),
    );
    expect(statements).toHaveLength(2);
    expect(oneLine(statements[0].text)).toContain(
      'NOT EXISTS (SELECT 1 FROM jsonb_populate_recordset(NULL::"s"."t", s.keep) AS k WHERE k."id" = target."id")',
    );
    expect(JSON.parse(statements[1].values[0] as string)).toEqual([
      { match: { id: 7 }, lsn: 703, bound: null, keep: null, when: null },
      { match: { id: 8 }, lsn: 704, bound: null, keep: null, when: null },
    ]);
  });

  it('writes the id mappings of a batch last, in one statement, so the upserts between them form one run', () => {
    const statements = plan(
      sourced({ op: 'upsert', table: 'docs', key: ['id'], row: { id: 1 } }, 701n),
      sourced({ op: 'mapId', entity: 'doc', sourceId: 'a', targetId: '1' }, 701n),
      sourced({ op: 'upsert', table: 'docs', key: ['id'], row: { id: 2 } }, 702n),
      sourced({ op: 'mapId', entity: 'doc', sourceId: 'b', targetId: '2' }, 702n),
    );
    expect(statements).toHaveLength(2);
    expect(statements[0].text).toMatch(/^INSERT INTO "s"."docs"/);
    expect(JSON.parse(statements[0].values[0] as string).map((r: { id: number }) => r.id)).toEqual([1, 2]);
    expect(statements[1].text).toContain('INSERT INTO tandem.id_map');
    expect(JSON.parse(statements[1].values[1] as string)).toEqual([
      { entity: 'doc', source_id: 'a', target_id: '1', source_lsn: 701 },
      { entity: 'doc', source_id: 'b', target_id: '2', source_lsn: 702 },
    ]);
  });
});
