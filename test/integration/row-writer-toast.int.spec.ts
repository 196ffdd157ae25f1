import { Pool } from 'pg';
import { z } from 'zod';
import { createTargetDatabase } from '../support/target-db';
import { ensureTandemSchema } from '../../src/connectors/postgres-target/tandem-schema';
import { applyMigrations } from '../../src/connectors/postgres-target/migrations';
import { applyBatch, type BatchItem } from '../../src/projections/framework/batch-applier';
import { defineProjection, type ProjectionEvent } from '../../src/projections/framework/define-projection';
import { UNAVAILABLE_VALUE } from '../../src/contracts/envelope';

type Doc = { id: number; title: string; body: string };

const definition = defineProjection<Doc>({
  name: 'toast-docs',
  migrations: [
    {
      version: 1,
      name: 'docs',
      sql: 'CREATE TABLE docs (id int PRIMARY KEY, title text NOT NULL, body text NOT NULL, _source_key text NOT NULL, _source_lsn bigint NOT NULL)',
    },
  ],
  input: { 'public.docs': z.object({ id: z.number(), title: z.string(), body: z.string() }) },
  apply: (event) => [{ op: 'upsert', table: 'docs', key: ['id'], row: event.after! }],
});

let offset = 0n;
function item(row: Doc, lsn: number): BatchItem {
  const position = { topic: 't.public.docs', partition: 0, offset: offset++ };
  const key = JSON.stringify({ id: row.id });
  const event: ProjectionEvent<Doc> = {
    source: 'public.docs',
    op: 'u',
    before: null,
    after: row,
    key,
    commitLsn: BigInt(lsn),
    commitTimeMs: 0,
    transactionId: null,
    position,
  };
  return {
    record: { ...position, key, value: JSON.stringify({ after: row, source: { commit_lsn: lsn } }) },
    decoded: { kind: 'apply', event, operations: definition.apply(event) },
  };
}

describe('projector: updates that leave a TOASTed column unchanged', () => {
  let target: Awaited<ReturnType<typeof createTargetDatabase>>;
  let pool: Pool;

  beforeAll(async () => {
    target = await createTargetDatabase('toast_docs');
    pool = new Pool({ connectionString: target.url, max: 2 });
    await ensureTandemSchema(pool);
    await applyMigrations(pool, definition.name, definition.schema, definition.migrations);
  });

  afterAll(async () => {
    await pool?.end();
    await target?.drop();
  });

  it('keeps the stored value of a row it holds, and quarantines the update of a row it never received', async () => {
    await applyBatch(pool, definition, [item({ id: 1, title: 'first', body: 'a long body' }, 100)], []);
    const result = await applyBatch(
      pool,
      definition,
      [
        item({ id: 1, title: 'renamed', body: UNAVAILABLE_VALUE }, 200),
        item({ id: 2, title: 'orphan', body: UNAVAILABLE_VALUE }, 200),
      ],
      [],
    );

    expect(result.applied).toBe(1);
    const { rows: docs } = await pool.query('SELECT id, title, body FROM toast_docs.docs ORDER BY id');
    expect(docs).toEqual([{ id: 1, title: 'renamed', body: 'a long body' }]);
    const { rows: quarantined } = await pool.query(
      `SELECT source_key, reason FROM tandem.quarantine WHERE projection = 'toast-docs'`,
    );
    expect(quarantined).toHaveLength(1);
    expect(quarantined[0].source_key).toBe('{"id":2}');
    expect(quarantined[0].reason).toContain('unchanged TOASTed columns (body)');
    expect(quarantined[0].reason).toContain('{"id":2}');
  });
});
