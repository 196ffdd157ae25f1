import {
  insert,
  projectionSpec,
  read,
  remove,
  truncate,
  update,
  type TestChangeEvent,
} from '../../src/testing';
import { memoryProjection, metadataValue } from '../../src/projections/memory/memory.projection';
import { MEMORY_DEFERRED_INDEXES, MEMORY_MIGRATIONS } from '../../src/projections/memory/memory.migrations';
import { planStatements } from '../../src/connectors/postgres-target/row-writer';
import { randomVector } from '../support/npy';

const PLACEHOLDER = '__debezium_unavailable_value';
const USER = '11111111-1111-1111-1111-111111111111';

describe('memory projection (pure apply)', () => {
  const definition = memoryProjection('legacy_app');
  const embedding = randomVector(7, 1024);
  const legacyRow = {
    id: '74f16010-3c02-f919-f5a5-79e461b9c896',
    user_id: USER,
    tenant_id: null,
    kind: 'qa_pair',
    content: 'Q: how?\nA: like this.',
    metadata: '{"intent_type": "question", "technical_depth": 3}',
    embedding,
    created_at: '2024-01-01T00:01:00Z',
    updated_at: '2024-01-01T00:02:00Z',
  };
  // Events as capture writes them, at commit LSN 4242.
  const spec = projectionSpec(definition);
  const AT = { commitLsn: 4242 };
  const decode = (event: TestChangeEvent) => spec.when(event).outcomes()[0];

  it('reads the legacy table and the import topic', () => {
    expect(Object.keys(definition.input).sort()).toEqual(['import.nodes', 'legacy_app.memory_nodes']);
    expect(definition.schema).toBe('memory');
  });

  it('upserts a node by id with its scope, parsed metadata, exact embedding and origin', () => {
    const decoded = decode(insert('legacy_app.memory_nodes', legacyRow, AT));
    if (decoded.kind !== 'apply') throw new Error(`rejected: ${JSON.stringify(decoded)}`);
    expect(decoded.operations).toEqual([
      {
        op: 'upsert',
        table: 'nodes',
        key: ['id'],
        row: {
          id: legacyRow.id,
          user_id: USER,
          tenant_id: null,
          kind: 'qa_pair',
          content: legacyRow.content,
          metadata: { intent_type: 'question', technical_depth: 3 },
          embedding,
          created_at: legacyRow.created_at,
          updated_at: legacyRow.updated_at,
          origin: 'legacy_app.memory_nodes',
        },
      },
    ]);
    // the row writer sends the embedding as a JSON number array: the exact values, in one statement
    const [statement] = planStatements('memory', 'memory', [
      { operation: decoded.operations[0], sourceKey: 'k', lsn: 4242n },
    ]);
    expect(statement.text).toContain('jsonb_populate_recordset(NULL::"memory"."nodes"');
    expect(JSON.parse(statement.values[0] as string)[0].embedding).toEqual(embedding);
  });

  it('leaves an unchanged TOASTed embedding, content or metadata out of the row, so the stored value stays', () => {
    const decoded = decode(
      update(
        'legacy_app.memory_nodes',
        {
          ...legacyRow,
          embedding: PLACEHOLDER,
          content: PLACEHOLDER,
          metadata: PLACEHOLDER,
        },
        AT,
      ),
    );
    if (decoded.kind !== 'apply') throw new Error(`rejected: ${JSON.stringify(decoded)}`);
    const row = (decoded.operations[0] as { row: Record<string, unknown> }).row;
    expect(Object.keys(row).sort()).toEqual([
      'created_at',
      'id',
      'kind',
      'origin',
      'tenant_id',
      'updated_at',
      'user_id',
    ]);
    // nor does the placeholder reach jsonb_populate_recordset, which would parse it as a vector
    const [statement] = planStatements('memory', 'memory', [
      { operation: decoded.operations[0], sourceKey: 'k', lsn: 4242n },
    ]);
    expect(statement.text).not.toContain('"embedding"');
    expect(statement.text).not.toContain('"content"');
    expect(JSON.stringify(statement.values)).not.toContain(PLACEHOLDER);
  });

  it('leaves the scope to the target constraint: a bad scope reaches the database and is quarantined there', () => {
    expect(decode(insert('legacy_app.memory_nodes', { ...legacyRow, user_id: null }, AT)).kind).toBe('apply');
    expect(decode(insert('legacy_app.memory_nodes', { ...legacyRow, tenant_id: USER }, AT)).kind).toBe(
      'apply',
    );
  });

  it('rejects an embedding of another dimension or with a non-number, and an invalid uuid, with the reason', () => {
    const short = decode(
      insert(
        'legacy_app.memory_nodes',
        {
          ...legacyRow,
          embedding: embedding.slice(0, 768),
        },
        AT,
      ),
    );
    expect(short).toMatchObject({
      kind: 'reject',
      reason: 'invalid legacy_app.memory_nodes row: embedding: expected 1024 dimensions, found 768',
    });
    const text = decode(
      insert(
        'legacy_app.memory_nodes',
        {
          ...legacyRow,
          embedding: ['NaN', ...embedding.slice(1)],
        },
        AT,
      ),
    );
    expect(text.kind).toBe('reject');
    const uuid = decode(read('import.nodes', { ...legacyRow, tenant_id: 'acme' }, AT));
    expect(uuid).toMatchObject({
      kind: 'reject',
      reason: expect.stringContaining('tenant_id: tenant_id is not a valid uuid'),
    });
  });

  it('turns jsonb text into a document, and defaults a missing kind and metadata', () => {
    expect(metadataValue('{"a": [1, 2]}')).toEqual({ a: [1, 2] });
    expect(metadataValue('[1]')).toEqual({ value: [1] });
    expect(metadataValue('null')).toEqual({});
    expect(metadataValue(null)).toEqual({});
    expect(() => metadataValue('{oops')).toThrow('metadata: not a JSON document');
    const decoded = decode(
      read(
        'import.nodes',
        {
          ...legacyRow,
          id: 'mem_1',
          kind: undefined,
          metadata: undefined,
          created_at: undefined,
        },
        AT,
      ),
    );
    if (decoded.kind !== 'apply') throw new Error('rejected');
    expect((decoded.operations[0] as { row: Record<string, unknown> }).row).toMatchObject({
      id: 'mem_1',
      kind: 'memory',
      metadata: {},
      created_at: null,
      origin: 'import.nodes',
    });
  });

  it('deletes by id, and a truncate empties only what that source wrote', () => {
    const deleted = decode(remove('legacy_app.memory_nodes', { id: legacyRow.id, user_id: null }, AT));
    expect(deleted).toMatchObject({
      kind: 'apply',
      operations: [{ op: 'delete', table: 'nodes', match: { id: legacyRow.id } }],
    });
    const truncated = decode(truncate('legacy_app.memory_nodes', AT));
    expect(truncated).toMatchObject({
      kind: 'apply',
      operations: [{ op: 'delete', table: 'nodes', match: { origin: 'legacy_app.memory_nodes' } }],
    });
  });

  it('declares the scope constraint, the HNSW index and the scoped search in its migration', () => {
    const sql = MEMORY_MIGRATIONS.map((migration) => migration.sql).join('\n');
    expect(sql).toMatch(/embedding vector\(1024\) NOT NULL/);
    expect(sql).toMatch(
      /CONSTRAINT nodes_scope_check CHECK \(\(user_id IS NULL\) <> \(tenant_id IS NULL\)\)/,
    );
    expect(sql).toMatch(/USING hnsw \(embedding vector_cosine_ops\)/);
    // built after the initial load, when the projector first catches up (and before a replay's swap)
    expect(sql).toMatch(/DROP INDEX IF EXISTS nodes_embedding_hnsw/);
    expect(MEMORY_DEFERRED_INDEXES.map((index) => index.sql).join('\n')).toMatch(
      /CREATE INDEX IF NOT EXISTS nodes_embedding_hnsw ON nodes USING hnsw \(embedding vector_cosine_ops\)/,
    );
    expect(sql).toMatch(/_source_key text NOT NULL/);
    expect(sql).toMatch(/_source_lsn bigint NOT NULL/);
  });
});
