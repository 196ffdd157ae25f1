import {
  appStateRow,
  normalizeUpdatedAt,
  rowVersion,
} from '../../src/projections/app-state/app-state.row';
import { appStateProjection } from '../../src/projections/app-state/app-state.projection';
import { idMapSourceId, newId } from '../../src/projections/app-state/app-state.explode';
import { buildAppStates } from '../../demo/app-state';
import { appStateRecipe } from '../../src/projections/app-state';
import { RECIPES } from '../../src/projections/recipes';
import {
  projectionSpec,
  read,
  update,
  remove,
  truncate,
  insert,
  type TestChangeEvent,
} from '../../src/testing';
import { deterministicUuid, type RowOperation } from '../../src/projections/framework/define-projection';
import { planStatements } from '../../src/connectors/postgres-target/row-writer';

const projection = appStateProjection('legacy');

const state = () => ({
  schemaVersion: 3,
  orgs: [{ id: 'org_1', name: 'Acme', industry: 'SaaS', plan: 'pro' }],
  personas: [
    { id: 'p_1', orgId: 'org_1', name: 'Founder', goals: ['hire'] },
    { id: 7, orgId: 'org_1', name: 'Recruiter' },
  ],
  contents: [
    { id: 'c_1', personaId: 'p_1', body: 'Hello', status: 'published', publishedAt: '2025-01-02T10:00:00Z' },
    { id: 'c_2', personaId: '7', body: 'Hiring!', metrics: { likes: 3 } },
  ],
  accounts: [{ id: 'a_1', provider: 'LinkedIn', handle: 'ann' }],
  leads: [{ id: 'l_1', name: 'Ann Lee', email: 'ann@corp.example.com', score: 70 }],
  references: [{ id: 'r_1', title: 'Pricing', url: 'https://example.com' }],
  inboxItems: [{ id: 'i_1', accountId: 'a_1', from: 'Ann', receivedAt: 1735812000000 }],
  settings: { theme: 'dark' },
});

const row = (overrides: Record<string, unknown> = {}, document: unknown = state()) => ({
  id: '42',
  user_id: 'user-1',
  updated_at: '2025-03-01T10:00:00.5Z',
  state: JSON.stringify(document),
  ...overrides,
});

const reasonOf = (value: Record<string, unknown>) => {
  const result = appStateRow.safeParse(value);
  if (result.success) return null;
  return result.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`).join('; ');
};

// Events as capture writes them, at commit LSN 5000 unless a test says otherwise (the winner checks carry it).
const SOURCE = 'legacy.user_app_state';
const spec = projectionSpec(projection, { topicPrefix: 'p' });
const operationsOf = (event: TestChangeEvent): RowOperation[] => spec.when(event).operations();
const readRow = (after: Record<string, unknown>) => read(SOURCE, after, { commitLsn: 5000 });
const updateRow = (after: Record<string, unknown>, before: Record<string, unknown> | null) =>
  update(SOURCE, after, { before, commitLsn: 6000 });

describe('app-state: the registry', () => {
  it('exports the recipe the registry imports', () => {
    expect(RECIPES['app-state']).toBe(appStateRecipe);
    const definition = appStateRecipe.projection({ sourceSchema: 'legacy', env: {} });
    expect(definition.name).toBe('app-state');
    expect(definition.schema).toBe('app_state');
    expect(Object.keys(definition.input)).toEqual(['legacy.user_app_state']);
  });
});

describe('app-state: the JSONB schema', () => {
  it('accepts a valid state, normalizing ids, dates and defaults, and keeping unknown keys', () => {
    const result = appStateRow.parse(row());
    expect(result.state.personas[1]).toMatchObject({ id: '7', isDefault: false, goals: [] });
    expect(result.state.contents[1]).toMatchObject({
      personaId: '7',
      status: 'draft',
      type: 'post',
      metrics: { likes: 3 },
    });
    expect(result.state.accounts[0].provider).toBe('linkedin');
    expect(result.state.inboxItems[0].receivedAt).toBe('2025-01-02T10:00:00.000Z');
    expect(result.state.settings).toEqual({ theme: 'dark' });
    expect(appStateRow.parse(row({}, {})).state.orgs).toEqual([]);
  });

  it('names the field path of every problem', () => {
    const broken = state();
    broken.personas[1].orgId = 'org_9';
    (broken.contents[0] as Record<string, unknown>).body = undefined;
    (broken.leads[0] as Record<string, unknown>).score = 'high';
    broken.inboxItems[0].receivedAt = 'last tuesday' as unknown as number;
    const reason = reasonOf(row({}, broken))!;
    expect(reason).toContain('state.contents.0.body');
    expect(reason).toContain('state.leads.0.score: must be a number from 0 to 100');
    expect(reason).toContain('state.inboxItems.0.receivedAt');

    const dangling = state();
    dangling.personas[1].orgId = 'org_9';
    dangling.inboxItems[0].accountId = 'a_9';
    expect(reasonOf(row({}, dangling))).toBe(
      'state.personas.1.orgId: refers to org "org_9", which is not in the state; state.inboxItems.0.accountId: refers to account "a_9", which is not in the state',
    );
    const duplicate = state();
    duplicate.personas[1].id = 'p_1';
    expect(reasonOf(row({}, duplicate))).toContain('state.personas.1.id: duplicate id "p_1"');
    const numericDuplicate = state();
    numericDuplicate.personas[0].id = '7';
    expect(reasonOf(row({}, numericDuplicate))).toContain('state.personas.1.id: duplicate id "7"');
  });

  it('rejects what is not a usable row, naming the column', () => {
    expect(reasonOf(row({ state: '[1]' }))).toBe('state: Invalid input: expected object, received array');
    expect(reasonOf(row({ state: '{oops' }))).toBe('state: is not valid JSON');
    expect(reasonOf(row({ state: null }))).toBe('state: is missing (null)');
    expect(reasonOf(row({ state: '__debezium_unavailable_value' }))).toContain(
      'state: unchanged TOASTed value',
    );
    expect(reasonOf(row({ user_id: ' ' }))).toBe('user_id: is empty');
    expect(reasonOf(row({ user_id: null }))).toBe('user_id: is missing (null)');
    expect(reasonOf(row({ updated_at: 'yesterday' }))).toBe('updated_at: must be a timestamp');
  });
});

describe('app-state: which legacy row wins', () => {
  it('orders by updated_at to the microsecond, then by id (integers as numbers), null timestamps first', () => {
    expect(normalizeUpdatedAt('2025-03-01T10:00:00.5Z')).toBe('2025-03-01T10:00:00.500000Z');
    expect(normalizeUpdatedAt('2025-03-01T10:00:00Z')).toBe('2025-03-01T10:00:00.000000Z');
    expect(normalizeUpdatedAt('2025-03-01T12:00:00.25+02:00')).toBe('2025-03-01T10:00:00.250000Z');
    expect(normalizeUpdatedAt('2025-03-01 10:00:00.000001')).toBe('2025-03-01T10:00:00.000001Z');
    const ordered = [
      { id: '900', updated_at: null },
      { id: '5', updated_at: '2025-03-01T10:00:00Z' },
      { id: '2', updated_at: '2025-03-01T10:00:00.000001Z' },
      { id: '10', updated_at: '2025-03-01T10:00:00.5Z' },
      { id: '11', updated_at: '2025-03-01T10:00:00.500000Z' },
      { id: '1', updated_at: '2025-03-01T10:00:01Z' },
    ].map(rowVersion);
    // byte order, as PostgreSQL compares the COLLATE "C" version columns
    expect([...ordered].sort((a, b) => (Buffer.from(a) < Buffer.from(b) ? -1 : 1))).toEqual(ordered);
  });
});

describe('app-state: apply (state -> row operations)', () => {
  it('writes the ledger, claims the user, replaces the entities while it is the winner, and maps every old id', () => {
    const operations = operationsOf(readRow(row()));
    const version = '2025-03-01T10:00:00.500000Z|00000000000000000042';
    const when = { table: 'user_states', match: { user_id: 'user-1', version, _source_lsn: '5000' } };
    expect(operations.map((o) => `${o.op}:${'table' in o ? o.table : o.entity}`)).toEqual([
      'upsert:source_rows',
      'upsert:user_states',
      // entities that left the document go first, children first ...
      ...['references', 'leads', 'inbox_items', 'accounts', 'contents', 'personas', 'orgs'].map(
        (t) => `deleteExcept:${t}`,
      ),
      // ... then the document's entities, parents first
      'upsert:orgs',
      'upsert:personas',
      'upsert:personas',
      'upsert:contents',
      'upsert:contents',
      'upsert:accounts',
      'upsert:inbox_items',
      'upsert:leads',
      'upsert:references',
      ...[
        'org',
        'persona',
        'persona',
        'content',
        'content',
        'account',
        'inbox_item',
        'lead',
        'reference',
      ].map((e) => `mapId:${e}`),
    ]);
    expect(operations[0]).toEqual({
      op: 'upsert',
      table: 'source_rows',
      key: ['source_id'],
      row: {
        source_id: '42',
        user_id: 'user-1',
        updated_at: '2025-03-01T10:00:00.500000Z',
        version,
        state_bytes: expect.any(Number),
        deleted: false,
      },
    });
    expect(operations[1]).toMatchObject({
      op: 'upsert',
      table: 'user_states',
      key: ['user_id'],
      version: 'version',
      row: {
        user_id: 'user-1',
        source_id: '42',
        version,
        schema_version: 3,
        settings: { settings: { theme: 'dark' } },
        entity_counts: { orgs: 1, personas: 2, contents: 2 },
      },
    });
    expect(operations[1]).not.toHaveProperty('when');
    const orgId = deterministicUuid('app-state', 'org', 'user-1', 'org_1');
    const personaIds = [newId('persona', 'user-1', 'p_1'), newId('persona', 'user-1', '7')];
    expect(operations.find((o) => o.op === 'deleteExcept' && o.table === 'personas')).toEqual({
      op: 'deleteExcept',
      table: 'personas',
      match: { user_id: 'user-1' },
      column: 'id',
      keep: personaIds,
      version: { column: 'version', value: version },
      when,
    });
    const upserts = operations
      .filter((o): o is Extract<RowOperation, { op: 'upsert' }> => o.op === 'upsert')
      .slice(2);
    expect(
      upserts.every(
        (o) =>
          o.version === 'version' && JSON.stringify(o.when) === JSON.stringify(when) && o.key[0] === 'id',
      ),
    ).toBe(true);
    expect(upserts[0].row).toMatchObject({
      id: orgId,
      user_id: 'user-1',
      old_id: 'org_1',
      position: 0,
      name: 'Acme',
      extra: { plan: 'pro' },
      source_id: '42',
      version,
    });
    expect(upserts[2].row).toMatchObject({ id: personaIds[1], old_id: '7', org_id: orgId, position: 1 });
    expect(upserts[4].row).toMatchObject({
      persona_id: personaIds[1],
      status: 'draft',
      extra: { metrics: { likes: 3 } },
    });
    expect(upserts[6].row).toMatchObject({
      account_id: newId('account', 'user-1', 'a_1'),
      sender: 'Ann',
      received_at: '2025-01-02T10:00:00.000Z',
    });
    expect(operations.find((o) => o.op === 'mapId' && o.entity === 'persona')).toEqual({
      op: 'mapId',
      entity: 'persona',
      sourceId: idMapSourceId('user-1', 'p_1'),
      targetId: personaIds[0],
    });
    expect(idMapSourceId('user-1', 'p_1')).toBe('["user-1","p_1"]');
  });

  it('gives the same ids for the same user and old id whichever row carries them, and other ids for another user', () => {
    const first = operationsOf(readRow(row()));
    const second = operationsOf(updateRow(row({ id: '43', updated_at: '2025-04-01T00:00:00Z' }), row()));
    const ids = (operations: RowOperation[]) =>
      operations.flatMap((o) => (o.op === 'mapId' ? [o.targetId] : []));
    expect(ids(second)).toEqual(ids(first));
    const other = operationsOf(readRow(row({ user_id: 'user-2' })));
    expect(ids(other).filter((id) => ids(first).includes(id))).toEqual([]);
  });

  it('removes a persona (and its contents) from the projection when the document drops it', () => {
    const smaller = state();
    smaller.personas = smaller.personas.slice(0, 1);
    smaller.contents = smaller.contents.slice(0, 1);
    const operations = operationsOf(updateRow(row({}, smaller), row()));
    const keep = (table: string) =>
      operations.find(
        (o) => o.op === 'deleteExcept' && o.table === table && 'keep' in o && o.column === 'id',
      ) as { keep: string[] };
    expect(keep('personas').keep).toEqual([newId('persona', 'user-1', 'p_1')]);
    expect(keep('contents').keep).toEqual([newId('content', 'user-1', 'c_1')]);
    expect(operations.filter((o) => o.op === 'upsert' && o.table === 'personas')).toHaveLength(1);
  });

  it('cleans up after a row that moved to another user, when the old row is not known', () => {
    const unknownBefore = operationsOf(updateRow(row(), null));
    expect(unknownBefore.filter((o) => o.op === 'deleteExcept' && o.column === 'user_id')).toHaveLength(7);
    expect(unknownBefore.find((o) => o.op === 'deleteExcept' && o.column === 'user_id')).toEqual({
      op: 'deleteExcept',
      table: 'references',
      match: { source_id: '42' },
      column: 'user_id',
      keep: ['user-1'],
    });
    const sameUser = operationsOf(updateRow(row(), row()));
    expect(sameUser.filter((o) => o.op === 'deleteExcept' && o.column === 'user_id')).toHaveLength(0);
    const moved = operationsOf(updateRow(row(), row({ user_id: 'user-0' })));
    expect(moved.filter((o) => o.op === 'deleteExcept' && o.column === 'user_id')).toHaveLength(7);
  });

  it('deletes what a deleted legacy row projected and marks it deleted in the ledger; a truncate empties everything', () => {
    const operations = operationsOf(
      remove(SOURCE, { id: '42', user_id: null, updated_at: null, state: null }, { commitLsn: 5000 }),
    );
    expect(operations).toEqual([
      ...['references', 'leads', 'inbox_items', 'accounts', 'contents', 'personas', 'orgs'].map((table) => ({
        op: 'delete',
        table,
        match: { source_id: '42' },
      })),
      { op: 'upsert', table: 'source_rows', key: ['source_id'], row: { source_id: '42', deleted: true } },
    ]);
    const truncated = operationsOf(truncate(SOURCE, { commitLsn: 5000 }));
    expect(truncated.map((o) => ('table' in o ? o.table : ''))).toEqual([
      'references',
      'leads',
      'inbox_items',
      'accounts',
      'contents',
      'personas',
      'orgs',
      'user_states',
      'source_rows',
    ]);
    expect(truncated.every((o) => o.op === 'delete' && Object.keys(o.match).length === 0)).toBe(true);
  });

  it('quarantines an invalid state with the field path in the reason', () => {
    const broken = state();
    broken.contents[1].personaId = 'p_gone';
    spec
      .when(insert(SOURCE, row({}, broken)))
      .thenRejects(
        'invalid legacy.user_app_state row: state.contents.1.personaId: refers to persona "p_gone", which is not in the state',
      );
  });

  it('plans one statement per table and event, each guarded by the winner check', () => {
    const statements = planStatements(
      'app-state',
      'app_state',
      operationsOf(readRow(row())).map((operation) => ({ operation, sourceKey: 'k', lsn: 5000n })),
    );
    // ledger + head + 7 deletes + 7 upserts + 1 id map
    expect(statements).toHaveLength(17);
    const personas = statements.find((s) => s.text.startsWith('INSERT INTO "app_state"."personas"'))!;
    expect(personas.text).toContain(
      'WHERE EXISTS (SELECT 1 FROM "app_state"."user_states" WHERE "user_id" = $2 AND "version" = $3 AND "_source_lsn" = $4)',
    );
    expect(personas.text).toContain(
      'WHERE (target."version", target._source_lsn) <= (EXCLUDED."version", EXCLUDED._source_lsn)',
    );
    expect(JSON.parse(personas.values[0] as string)).toHaveLength(2);
  });
});

describe('app-state: the demo data generator', () => {
  const options = { users: 120, duplicateRatio: 0.4, badRatio: 0.08, seed: 11 };
  const rows = buildAppStates(options);

  it('is deterministic for a seed', () => {
    expect(JSON.stringify(buildAppStates(options))).toBe(JSON.stringify(rows));
    expect(JSON.stringify(buildAppStates({ ...options, seed: 12 }))).not.toBe(JSON.stringify(rows));
  });

  it('gives every user one newest row and some users older duplicates, in no particular order', () => {
    const users = new Map<string, typeof rows>();
    for (const r of rows) users.set(r.userId, [...(users.get(r.userId) ?? []), r]);
    expect(users.size).toBe(120);
    const withDuplicates = [...users.values()].filter((list) => list.length > 1);
    expect(withDuplicates.length).toBeGreaterThan(30);
    expect(withDuplicates.length).toBeLessThan(70);
    for (const list of users.values()) {
      const latest = list.filter((r) => r.latest);
      expect(latest).toHaveLength(1);
      expect(list.every((r) => r.latest || r.updatedAt < latest[0].updatedAt)).toBe(true);
    }
    // an older duplicate is inserted after the newest row for some users (ids do not follow updated_at)
    expect(withDuplicates.some((list) => !list[0].latest)).toBe(true);
  });

  it('writes states of 4–20 KB with several entities of every kind', () => {
    for (const r of rows.filter((x) => !x.bad)) {
      const size = JSON.stringify(r.state).length;
      expect(size).toBeGreaterThanOrEqual(4096);
      expect(size).toBeLessThan(18_000);
      const s = r.state as Record<string, unknown[]>;
      for (const key of ['orgs', 'personas', 'contents', 'accounts', 'leads', 'references', 'inboxItems'])
        expect(s[key].length).toBeGreaterThanOrEqual(1);
      if (r.latest)
        for (const key of ['personas', 'contents', 'accounts', 'leads', 'references', 'inboxItems'])
          expect(s[key].length).toBeGreaterThanOrEqual(2);
    }
  });

  it('makes a few states invalid, each rejected naming the field (or, for the database, left to its constraint)', () => {
    const bad = rows.filter((r) => r.bad);
    expect(bad.length).toBeGreaterThan(3);
    expect(bad.length).toBeLessThan(rows.length * 0.2);
    rows.forEach((r, index) => {
      const reason = reasonOf({
        id: String(index + 1),
        user_id: r.userId,
        updated_at: r.updatedAt,
        state: JSON.stringify(r.state),
      });
      if (!r.bad || r.bad.kind === 'duplicate-account') expect(reason).toBeNull();
      else expect(reason).toContain(r.bad.reasonContains);
      if (r.bad?.kind === 'duplicate-account') expect(r.latest).toBe(true);
    });
  });
});
