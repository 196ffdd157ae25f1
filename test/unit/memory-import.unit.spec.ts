import { mkdtempSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { ConfigError, ImportValidationError } from '../../src/shared/errors';
import { createMemoryImporter, pairFiles, scopeFromEnv } from '../../src/projections/memory/memory.import';
import { npyBuffer, randomVector, writeNpy } from '../support/npy';

const USER = '11111111-1111-1111-1111-111111111111';
const TENANT = 'd41d8cd9-8f00-b204-e980-0998ecf8427e'; // md5-shaped: any 8-4-4-4-12 hex form is a valid uuid for PostgreSQL

describe('memory importer (nodes.json + nodes.npy)', () => {
  let dir: string;
  const nodes = (count: number, extra: (i: number) => Record<string, unknown> = () => ({})) =>
    Array.from({ length: count }, (_, i) => ({ id: `mem_${i.toString(16).padStart(8, '0')}`, content: `node ${i}`, ...extra(i) }));
  const write = (json: unknown, vectors: number[][] | Buffer, names = ['nodes.json', 'nodes.npy']) => {
    writeFileSync(join(dir, names[0]), JSON.stringify(json));
    if (Buffer.isBuffer(vectors)) writeFileSync(join(dir, names[1]), vectors);
    else writeNpy(join(dir, names[1]), vectors);
    return names.map((name) => join(dir, name));
  };
  const vectors = (count: number, dimensions = 1024) => Array.from({ length: count }, (_, i) => randomVector(i + 1, dimensions));
  const failure = (read: () => unknown): ImportValidationError => {
    try {
      read();
    } catch (error) {
      if (error instanceof ImportValidationError) return error;
      throw error;
    }
    throw new Error('expected an ImportValidationError');
  };

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'tandem-memory-unit-'));
  });

  it('pairs node i with embedding row i, keyed by node id, exact float32 values', () => {
    const files = write(
      nodes(3, (i) => (i === 0 ? { user_id: USER, intent_type: 'question', technical_depth: 7 } : i === 2 ? { tenant_id: TENANT.toUpperCase() } : {})),
      vectors(3),
    );
    const records = createMemoryImporter({ TANDEM_MEMORY_TENANT_ID: TENANT.toUpperCase() }).read(files);
    expect(records).toHaveLength(3);
    expect(records[0]).toMatchObject({
      table: 'nodes',
      key: { id: 'mem_00000000' },
      row: { id: 'mem_00000000', user_id: USER, tenant_id: null, kind: 'memory', content: 'node 0' },
    });
    expect(JSON.parse(records[0].row.metadata as string)).toEqual({ intent_type: 'question', technical_depth: 7 });
    expect(records[1].row).toMatchObject({ user_id: null, tenant_id: TENANT }); // stamped from the environment
    expect(records[2].row).toMatchObject({ user_id: null, tenant_id: TENANT }); // its own, lower-cased
    records.forEach((record, i) => expect(record.row.embedding).toEqual(randomVector(i + 1, 1024)));
  });

  it('is deterministic: the same files give the same records', () => {
    const files = write(nodes(4), vectors(4));
    const importer = createMemoryImporter({ TANDEM_MEMORY_USER_ID: USER });
    expect(JSON.stringify(importer.read(files))).toBe(JSON.stringify(importer.read(files)));
  });

  it('joins a Q/A pair into the content and keeps the parts in metadata; reads float64 files', () => {
    const files = write(
      [{ id: 'mem_qa', human_content: 'What is HNSW?', assistant_content: 'A graph index.', created_at: '2024-05-01T10:00:00+00:00', cluster_confidence: 0.5 }],
      npyBuffer([vectors(1)[0]], { dtype: '<f8' }),
    );
    const [record] = createMemoryImporter({ TANDEM_MEMORY_USER_ID: USER }).read(files);
    expect(record.row.content).toBe('What is HNSW?\n\nA graph index.');
    expect(record.row.created_at).toBe('2024-05-01T10:00:00+00:00');
    expect(JSON.parse(record.row.metadata as string)).toMatchObject({ human_content: 'What is HNSW?', cluster_confidence: 0.5 });
  });

  it('refuses a node count that differs from the embedding rows, naming both files', () => {
    const files = write(nodes(5), vectors(4));
    const error = failure(() => createMemoryImporter({ TANDEM_MEMORY_USER_ID: USER }).read(files));
    expect(error.message).toBe('nodes.npy: node count mismatch: nodes.json has 5 nodes, nodes.npy has 4 embedding rows');
  });

  it('refuses embeddings of another dimension', () => {
    const files = write(nodes(2), vectors(2, 768));
    expect(failure(() => createMemoryImporter({ TANDEM_MEMORY_USER_ID: USER }).read(files)).message).toBe(
      'nodes.npy: dimension mismatch: embeddings have 768 dimensions, expected 1024',
    );
  });

  it('refuses a non-finite or out-of-range value, naming the row and the node', () => {
    const rows = vectors(3);
    rows[2][10] = Number.NaN;
    const files = write(nodes(3), rows);
    expect(failure(() => createMemoryImporter({ TANDEM_MEMORY_USER_ID: USER }).read(files)).message).toBe(
      'nodes.npy, row 2 (node mem_00000002): embedding value 10 is NaN (embeddings must be finite)',
    );
    const big = vectors(1);
    big[0][3] = 1e39;
    const files64 = write(nodes(1), npyBuffer(big, { dtype: '<f8' }));
    expect(failure(() => createMemoryImporter({ TANDEM_MEMORY_USER_ID: USER }).read(files64)).reason).toContain('out of the float32 range');
  });

  it('refuses invalid uuids, naming the record', () => {
    const files = write(nodes(3, (i) => (i === 2 ? { user_id: 'not-a-uuid' } : {})), vectors(3));
    const error = failure(() => createMemoryImporter({ TANDEM_MEMORY_TENANT_ID: TENANT }).read(files));
    expect(error).toMatchObject({ record: 'record 2 (mem_00000002)', reason: 'user_id: user_id is not a valid uuid' });
    expect(error.message).toBe('nodes.json, record 2 (mem_00000002): user_id: user_id is not a valid uuid');
  });

  it('refuses a node with both scopes, or none when no default scope is configured', () => {
    const both = write(nodes(2, (i) => (i === 1 ? { user_id: USER, tenant_id: TENANT } : { user_id: USER })), vectors(2));
    expect(failure(() => createMemoryImporter({}).read(both)).message).toBe(
      'nodes.json, record 1 (mem_00000001): both user_id and tenant_id are set: a node belongs to exactly one scope',
    );
    const none = write(nodes(2, (i) => (i === 0 ? { tenant_id: TENANT } : {})), vectors(2));
    expect(failure(() => createMemoryImporter({}).read(none)).message).toMatch(
      /^nodes\.json, record 1 \(mem_00000001\): no scope: .*TANDEM_MEMORY_USER_ID.*TANDEM_MEMORY_TENANT_ID/,
    );
  });

  it('refuses duplicate ids, a missing content, a bad id and out-of-range seed fields', () => {
    const importer = createMemoryImporter({ TANDEM_MEMORY_USER_ID: USER });
    const duplicate = write([...nodes(2), { id: 'mem_00000000', content: 'again' }], vectors(3));
    expect(failure(() => importer.read(duplicate)).message).toBe('nodes.json, record 2 (mem_00000000): duplicate id mem_00000000 (also nodes.json, record 0)');
    expect(failure(() => importer.read(write([{ id: 'mem_x' }], vectors(1)))).reason).toContain('no content');
    expect(failure(() => importer.read(write([{ id: '', content: 'x' }], vectors(1)))).reason).toBe('id: id is empty');
    expect(failure(() => importer.read(write([{ id: 42, content: 'x' }], vectors(1)))).reason).toMatch(/^id: /);
    expect(failure(() => importer.read(write([{ id: 'mem_y', content: 'x', technical_depth: 11 }], vectors(1)))).reason).toBe(
      'technical_depth: technical_depth must be between 0 and 10',
    );
    expect(failure(() => importer.read(write([{ id: 'mem_z', content: 'x', created_at: 'yesterday' }], vectors(1)))).reason).toBe(
      'created_at: created_at is not an ISO-8601 timestamp',
    );
  });

  it('refuses unreadable or foreign files', () => {
    const importer = createMemoryImporter({ TANDEM_MEMORY_USER_ID: USER });
    const [json] = write(nodes(1), vectors(1));
    writeFileSync(join(dir, 'nodes.npy'), 'not numpy');
    expect(failure(() => importer.read([json, join(dir, 'nodes.npy')])).message).toBe('nodes.npy: not a .npy file');
    expect(failure(() => importer.read([json])).message).toBe('nodes.json: no embeddings file: pass nodes.npy with it');
    expect(failure(() => importer.read([json, join(dir, 'nodes.csv')])).message).toBe('nodes.csv: not a memory export (expected nodes.json and nodes.npy)');
    expect(failure(() => importer.read([json, join(dir, 'missing.npy')])).message).toBe('missing.npy: cannot read the file (ENOENT)');
  });

  it('pairs several exports by name', () => {
    expect(pairFiles(['/x/a.json', '/x/b.npy', '/x/b.json', '/x/a.npy'])).toEqual([
      { json: '/x/a.json', npy: '/x/a.npy' },
      { json: '/x/b.json', npy: '/x/b.npy' },
    ]);
    expect(() => pairFiles(['/x/a.json', '/x/b.json', '/x/a.npy'])).toThrow('b.json: no embeddings file: pass b.npy with it');
  });

  it('takes the default scope from the environment, refusing a bad or double one as configuration', () => {
    expect(scopeFromEnv({ TANDEM_MEMORY_USER_ID: ` ${USER} ` })).toEqual({ userId: USER, tenantId: null });
    expect(scopeFromEnv({})).toEqual({ userId: null, tenantId: null });
    expect(() => scopeFromEnv({ TANDEM_MEMORY_TENANT_ID: 'acme' })).toThrow(ConfigError);
    expect(() => scopeFromEnv({ TANDEM_MEMORY_TENANT_ID: 'acme' })).toThrow('TANDEM_MEMORY_TENANT_ID is not a valid uuid');
    expect(() => scopeFromEnv({ TANDEM_MEMORY_USER_ID: USER, TANDEM_MEMORY_TENANT_ID: TENANT })).toThrow(/not both/);
  });
});
