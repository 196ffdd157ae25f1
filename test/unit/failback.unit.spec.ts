import { validateConfig } from '../../src/modules/config/load-config';
import { prepareFailback } from '../../src/modules/cutover/failback-setup';
import { planLegacyStatements } from '../../src/connectors/postgres-legacy/legacy-writer';
import { decodeTargetChange } from '../../src/modules/failback/failback-decoder';
import { usersProjection } from '../../src/projections/users/users.projection';
import { memoryProjection } from '../../src/projections/memory/memory.projection';
import { appStateProjection } from '../../src/projections/app-state/app-state.projection';
import { mirrorInverse } from '../../src/projections/mirror/mirror-inverse';
import type { MirrorTableSpec } from '../../src/projections/mirror/mirror-spec';
import type { TargetChange } from '../../src/projections/framework/define-inverse';
import type { ProjectionDefinition } from '../../src/projections/framework/define-projection';

const users = usersProjection('legacy') as unknown as ProjectionDefinition<unknown>;
const usersDefinition = usersProjection('legacy');

function record(envelope: unknown, offset = 7n) {
  return { topic: 'app.failback.users.users', partition: 0, offset, key: '{"id":"x"}', value: JSON.stringify(envelope) };
}

const targetRow = {
  id: '5b0c1f7e-0000-5000-8000-000000000001',
  source_user_id: '0d6f9a2e-1111-4222-8333-444455556666',
  email: 'a@b.io',
  name: 'Ada',
  instance_name: 'root',
  status: 'active',
  meta: '{"plan": "pro"}',
  created_at: '2024-05-01T10:00:00Z',
  _source_key: 'application',
  _source_lsn: '0',
};

const change = (op: TargetChange['op'], before: Record<string, unknown> | null, after: Record<string, unknown> | null): TargetChange => ({
  table: 'users',
  op,
  before,
  after,
  commitLsn: 0x5000n,
  commitTimeMs: 1,
  position: { topic: 't', partition: 0, offset: 0n },
});

describe('users inverse', () => {
  it('writes the legacy row back by its source id, the document as jsonb, and never the password', () => {
    expect(usersDefinition.invert!.apply!(change('u', targetRow, targetRow))).toEqual([
      {
        op: 'upsert',
        table: 'legacy.auth_users',
        key: ['id'],
        row: {
          id: targetRow.source_user_id,
          email: 'a@b.io',
          display_name: 'Ada',
          instance_name: 'root',
          raw_user_meta_data: { plan: 'pro' },
          created_at: '2024-05-01T10:00:00Z',
        },
      },
    ]);
  });

  it('deletes by the old row\'s source id', () => {
    expect(usersDefinition.invert!.apply!(change('d', targetRow, null))).toEqual([
      { op: 'delete', table: 'legacy.auth_users', match: { id: targetRow.source_user_id } },
    ]);
  });
});

describe('failback decoding', () => {
  const envelope = (schema: string, table: string, op = 'u') => ({
    before: targetRow,
    after: targetRow,
    op,
    ts_ms: 1,
    source: { schema, table, commit_lsn: 20480, ts_ms: 5 },
  });

  it('reads a target change of a table the projection carries back', () => {
    const decoded = decodeTargetChange(users, record(envelope('users', 'users')));
    expect(decoded).toMatchObject({ kind: 'change', change: { table: 'users', op: 'u', commitLsn: 20480n, commitTimeMs: 5 } });
  });

  it('rejects, with the reason, a table it does not carry back, a TRUNCATE and a value that is not an event', () => {
    expect(decodeTargetChange(users, record(envelope('users', 'tenant_mapping')))).toMatchObject({
      kind: 'reject',
      reason: 'users.tenant_mapping is not a table users carries back',
    });
    expect(decodeTargetChange(users, record(envelope('users', 'users', 't')))).toMatchObject({ kind: 'reject', reason: expect.stringMatching(/TRUNCATE/) });
    expect(decodeTargetChange(users, { ...record(null), value: '{oops' })).toMatchObject({ kind: 'reject', reason: 'the event is not valid JSON' });
  });

  it('skips tombstones', () => {
    expect(decodeTargetChange(users, { ...record(null), value: null })).toEqual({ kind: 'skip' });
  });
});

describe('legacy writer', () => {
  const upsert = (id: string, name: string) => ({ op: 'upsert' as const, table: 'legacy.auth_users', key: ['id'], row: { id, display_name: name } });

  it('writes a run of one shape in one statement, guarded per row, and only the columns carried', () => {
    const statements = planLegacyStatements('failback.users', [
      { operation: upsert('1', 'a'), lsn: 10n },
      { operation: upsert('2', 'b'), lsn: 10n },
      { operation: upsert('1', 'c'), lsn: 12n },
    ]);
    expect(statements).toHaveLength(1);
    const [statement] = statements;
    expect(statement.text).toContain('INSERT INTO tandem.failback_versions');
    expect(statement.text).toContain('WHERE v.lsn <= EXCLUDED.lsn');
    expect(statement.text).toContain('INSERT INTO "legacy"."auth_users" AS stored ("id", "display_name")');
    expect(statement.text).toContain('ON CONFLICT ("id") DO UPDATE SET "display_name" = EXCLUDED."display_name"');
    // of one key, the change one-by-one writes would leave
    expect(JSON.parse(statement.values[0] as string)).toEqual([
      { key: ['1'], row: { id: '1', display_name: 'c' }, lsn: '12' },
      { key: ['2'], row: { id: '2', display_name: 'b' }, lsn: '10' },
    ]);
    expect(statement.values.slice(1)).toEqual(['failback.users', 'legacy.auth_users']);
  });

  it('leaves an unchanged TOASTed value out, and starts a new statement when the shape changes', () => {
    const statements = planLegacyStatements('failback.users', [
      { operation: { ...upsert('1', 'a'), row: { id: '1', display_name: '__debezium_unavailable_value' } }, lsn: 10n },
      { operation: { op: 'delete', table: 'legacy.auth_users', match: { id: '2' } }, lsn: 11n },
    ]);
    expect(statements).toHaveLength(2);
    expect(statements[0].text).toContain('("id") SELECT input."id"');
    expect(statements[0].text).toContain('DO NOTHING');
    expect(statements[1].text).toContain('DELETE FROM "legacy"."auth_users" AS stored');
  });
});

describe('failback start', () => {
  it('refuses a projection without an inverse, by name, before touching a database', async () => {
    const config = validateConfig(
      {
        source: { url: 'postgres://u@127.0.0.1:1/legacy', tables: ['public.kb_documents'] },
        kafka: { brokers: ['127.0.0.1:1'], topicPrefix: 'app' },
        target: { url: 'postgres://u@127.0.0.1:1/target' },
        projections: [{ recipe: 'knowledge-base' }, { recipe: 'users' }],
      },
      'test',
    );
    await expect(
      prepareFailback(config, null as never, { id: 1, projections: ['knowledge-base', 'users'] }, 'alice', { requireAll: true }),
    ).rejects.toThrow('failback: projection(s) knowledge-base declare no inverse (invert), so their target writes cannot flow back to the legacy tables');
  });
});

describe('memory inverse', () => {
  const memory = memoryProjection('legacy_app');
  const node = {
    id: '7c9e6679-7425-40de-944b-e07fc1f90ae7',
    user_id: '0d6f9a2e-1111-4222-8333-444455556666',
    tenant_id: null,
    kind: 'qa_pair',
    content: 'hello',
    metadata: '{"tag": "x"}',
    embedding: [0.5, -1],
    created_at: '2024-05-01T10:00:00Z',
    updated_at: null,
    origin: 'legacy_app.memory_nodes',
  };

  it('writes the node back column for column, the metadata as jsonb, an empty timestamp left to its default', () => {
    expect(memory.invert!.apply!({ ...change('c', null, node), table: 'nodes' })).toEqual([
      {
        op: 'upsert',
        table: 'legacy_app.memory_nodes',
        key: ['id'],
        row: { id: node.id, user_id: node.user_id, tenant_id: null, kind: 'qa_pair', content: 'hello', metadata: { tag: 'x' }, embedding: [0.5, -1], created_at: node.created_at },
      },
    ]);
  });

  it('does not carry back nodes imported from the file store, and deletes by id', () => {
    expect(memory.invert!.apply!({ ...change('u', null, { ...node, origin: 'import.nodes' }), table: 'nodes' })).toEqual([]);
    expect(memory.invert!.apply!({ ...change('d', node, null), table: 'nodes' })).toEqual([{ op: 'delete', table: 'legacy_app.memory_nodes', match: { id: node.id } }]);
  });
});

describe('mirror inverse', () => {
  const column = (source: string, target: string, type = 'text', generated: string | null = null) => ({
    source,
    target,
    type,
    notNull: false,
    default: null,
    identity: false,
    generated,
  });
  const spec = {
    source: 'shop.customers',
    target: 'clients',
    key: ['id'],
    columns: [column('id', 'id', 'bigint'), column('full_name', 'name'), column('prefs', 'prefs', 'jsonb'), column('name_len', 'name_len', 'int', 'length(name)')],
    exclude: ['password_hash'],
    renames: { full_name: 'name' },
    where: "status <> 'deleted'",
  } as unknown as MirrorTableSpec;
  const inverse = mirrorInverse([spec]);
  const row = { id: '42', name: 'Ada', prefs: '{"dark": true}', name_len: 3, _source_key: 'x', _source_lsn: '1' };

  it('reverses the renames, writes no excluded or generated column, and keeps to the row filter', () => {
    expect(inverse.tables).toEqual(['clients']);
    expect(inverse.apply!({ ...change('u', row, row), table: 'clients' })).toEqual([
      { op: 'upsert', table: 'shop.customers', key: ['id'], row: { id: '42', full_name: 'Ada', prefs: { dark: true } }, onlyWhere: "status <> 'deleted'" },
    ]);
    expect(inverse.apply!({ ...change('d', row, null), table: 'clients' })).toEqual([
      { op: 'delete', table: 'shop.customers', match: { id: '42' }, onlyWhere: "status <> 'deleted'" },
    ]);
  });

  it('makes the legacy writer leave a stored row outside the filter alone', () => {
    const [upsert] = planLegacyStatements('failback.m', [{ operation: inverse.apply!({ ...change('u', row, row), table: 'clients' })[0], lsn: 1n }]);
    expect(upsert.text).toContain(`WHERE true AND EXISTS (SELECT 1 FROM "shop"."customers" AS kept WHERE kept.ctid = stored.ctid AND (status <> 'deleted'))`);
  });
});

describe('app-state inverse', () => {
  const inverse = appStateProjection('legacy').invert!;

  it('re-renders the documents of the users a change touches, from every entity table and user_states', () => {
    expect(inverse.tables).toEqual(['user_states', 'orgs', 'personas', 'contents', 'accounts', 'inbox_items', 'leads', 'references']);
    expect(inverse.render).toMatchObject({ table: 'legacy.user_app_state', key: ['id'], by: ['user_id'] });
    const persona = { id: 'x', user_id: 'u1', old_id: 'p_1' };
    expect(inverse.render!.keysOf({ ...change('c', null, persona), table: 'personas' })).toEqual([{ user_id: 'u1' }]);
    // an entity moved to another user changes both documents
    expect(inverse.render!.keysOf({ ...change('u', persona, { ...persona, user_id: 'u2' }), table: 'personas' })).toEqual([{ user_id: 'u1' }, { user_id: 'u2' }]);
    expect(inverse.render!.keysOf({ ...change('d', persona, null), table: 'personas' })).toEqual([{ user_id: 'u1' }]);
  });
});
