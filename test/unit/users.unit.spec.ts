import { deterministicUuid } from '../../src/projections/framework/define-projection';
import { usersProjection } from '../../src/projections/users/users.projection';
import { insert, projectionSpec, read, remove, truncate, update } from '../../src/testing';

const spec = projectionSpec(usersProjection('legacy'));
const SOURCE_ID = '5b0a3f5e-1c2d-4e3f-8a9b-0c1d2e3f4a5b';
const id = deterministicUuid('users', SOURCE_ID);
const legacyUser = {
  id: SOURCE_ID,
  email: 'Ada@Example.COM',
  display_name: '  ',
  instance_name: null,
  raw_user_meta_data: '{"plan": "pro"}',
  created_at: '2024-01-02T03:04:05Z',
  encrypted_password: '$2a$10$secret-hash',
};

describe('users projection (pure apply, through the test kit)', () => {
  it('invites a legacy user without a password, named by the e-mail when the display name is blank', () => {
    spec.when(insert('legacy.auth_users', legacyUser)).then([
      {
        op: 'upsert',
        table: 'users',
        key: ['id'],
        row: {
          id,
          source_user_id: SOURCE_ID,
          email: 'ada@example.com',
          name: 'Ada',
          instance_name: 'root',
          tenant_id: null,
          status: 'invite_pending',
          meta: { plan: 'pro' },
          created_at: '2024-01-02T03:04:05Z',
        },
      },
      { op: 'mapId', entity: 'user', sourceId: SOURCE_ID, targetId: id },
    ]);
  });

  it('gives an imported user the same id as the captured one, and keeps an unchanged TOASTed meta', () => {
    const imported = spec
      .when(
        read('import.nakamoto_users', {
          source_user_id: SOURCE_ID,
          email: 'ada@example.com',
          display_name: 'Ada L.',
        }),
      )
      .operations();
    expect(imported[0]).toMatchObject({
      op: 'upsert',
      row: { id, name: 'Ada L.', meta: {}, created_at: '1970-01-01T00:00:00.000Z' },
    });
    const toasted = spec
      .when(
        update('legacy.auth_users', { ...legacyUser, raw_user_meta_data: '__debezium_unavailable_value' }),
      )
      .operations();
    expect(toasted[0]).toMatchObject({ row: { meta: '__debezium_unavailable_value' } });
  });

  it('deletes by the derived id, maps tenants, and empties only the truncated table', () => {
    spec
      .when(remove('legacy.auth_users', { id: SOURCE_ID }))
      .then([{ op: 'delete', table: 'users', match: { id } }]);
    spec.when(read('import.tenant_mapping', { instance_name: 'acme', tenant_id: SOURCE_ID })).then([
      {
        op: 'upsert',
        table: 'tenant_mapping',
        key: ['instance_name'],
        row: { instance_name: 'acme', tenant_id: SOURCE_ID, description: null },
      },
    ]);
    spec.when(truncate('import.tenant_mapping')).then([{ op: 'delete', table: 'tenant_mapping', match: {} }]);
    spec.when(truncate('legacy.auth_users')).then([{ op: 'delete', table: 'users', match: {} }]);
  });

  it('rejects an invalid e-mail or id with the field and reason, never the password hash', () => {
    spec
      .when(insert('legacy.auth_users', { ...legacyUser, email: 'nope' }))
      .thenRejects('invalid legacy.auth_users row: email: invalid e-mail address');
    spec
      .when(insert('legacy.auth_users', { ...legacyUser, id: '42' }))
      .thenRejects(/^invalid legacy.auth_users row: id: source user id is not a valid uuid/);
    const [outcome] = spec.when(insert('legacy.auth_users', { ...legacyUser, email: 'nope' })).outcomes();
    expect(JSON.stringify(outcome)).not.toContain('secret-hash');
  });
});
