import { createHmac } from 'crypto';
import { tupleToRow } from '../../src/connectors/postgres-source/change-event';
import { UNCHANGED_TOAST } from '../../src/connectors/postgres-source/pgoutput-decoder';
import { TypeRegistry } from '../../src/connectors/postgres-source/pg-types';
import { UNAVAILABLE_VALUE } from '../../src/contracts/envelope';
import { columnPolicyOf } from '../../src/modules/config/column-policy';
import { validateConfig } from '../../src/modules/config/load-config';
import { applyColumnRules } from '../../src/modules/reconciliation/column-rules';
import type { TableComparison } from '../../src/projections/framework/define-reconciliation';

const KEY = 'k'.repeat(40);
const env = { TANDEM_MASK_KEY: KEY };
const hmac = (text: string) => createHmac('sha256', Buffer.from(KEY)).update(text).digest('hex');

const config = (columns: Record<string, unknown>, extra: Record<string, unknown> = {}) =>
  validateConfig(
    {
      source: { url: 'postgres://app@db/legacy', tables: ['public.users', 'public.orders'], columns, ...extra },
      kafka: { brokers: ['k:9092'], topicPrefix: 'legacy' },
    },
    'tandem.yaml',
  );

describe('source.columns: exclude and mask at capture', () => {
  const columns = [
    { name: 'id', typeOid: 23, typeMod: -1, isKey: true },
    { name: 'email', typeOid: 25, typeMod: -1, isKey: false },
    { name: 'ssn', typeOid: 25, typeMod: -1, isKey: false },
    { name: 'bio', typeOid: 25, typeMod: -1, isKey: false },
  ];
  const policy = columnPolicyOf(config({ 'public.users': { exclude: ['ssn'], mask: ['email'] } }), env);
  const rules = policy.of('public', 'users');

  it('leaves excluded columns out and replaces masked values by their keyed HMAC-SHA256', () => {
    const row = tupleToRow(columns, ['7', 'Ann@example.com', '123-45-6789', 'hi'], new TypeRegistry(), rules);
    expect(row).toEqual({ id: 7, email: hmac('Ann@example.com'), bio: 'hi' });
    expect(row).not.toHaveProperty('ssn');
    // equal values give equal hashes (they still join); nulls and unchanged TOASTed values stay what they are
    expect(tupleToRow(columns, ['8', 'Ann@example.com', null, null], new TypeRegistry(), rules).email).toBe(row.email);
    expect(tupleToRow(columns, ['9', null, null, null], new TypeRegistry(), rules).email).toBeNull();
    expect(tupleToRow(columns, ['9', UNCHANGED_TOAST, null, null], new TypeRegistry(), rules).email).toBe(UNAVAILABLE_VALUE);
    // other tables are untouched
    expect(policy.of('public', 'orders')).toBeNull();
    expect(tupleToRow(columns, ['7', 'a@b.c', 's', 'b'], new TypeRegistry(), policy.of('public', 'orders'))).toEqual({
      id: 7,
      email: 'a@b.c',
      ssn: 's',
      bio: 'b',
    });
  });

  it('refuses what cannot work, naming the field', () => {
    expect(() => columnPolicyOf(config({ 'public.users': { mask: ['email'] } }), {})).toThrow(
      'source.maskKeyEnv: the environment variable TANDEM_MASK_KEY is not set (it holds the key of masked columns)',
    );
    expect(() => columnPolicyOf(config({ 'public.users': { mask: ['email'] } }, { maskKeyEnv: 'MY_KEY' }), { MY_KEY: 'short' })).toThrow(
      /source\.maskKeyEnv: the key in MY_KEY must be at least 32 characters/,
    );
    expect(() => columnPolicyOf(config({ 'public.other': { exclude: ['x'] } }), env)).toThrow('source.columns.public.other: not one of source.tables');
    expect(() => columnPolicyOf(config({ 'public.users': { exclude: ['email'], mask: ['email'] } }), env)).toThrow(/both excluded and masked/);
    expect(() => columnPolicyOf(config({ 'public.users': { exclude: ['id'] } }), env, new Map([['public.users', ['id']]]))).toThrow(
      "source.columns.public.users.exclude: id is the table's key (mask it instead)",
    );
    expect(() => config({ 'public.users': { exlude: ['x'] } })).toThrow(/unknown key "exlude" \(did you mean "exclude"\?\)/);
    expect(columnPolicyOf(config({}), {}).of('public', 'users')).toBeNull();
  });
});

describe('reconcile honours source.columns', () => {
  const comparison: TableComparison = {
    name: 'users',
    sourceTable: 'public.users',
    source: { from: '{source}.users', key: 'id::text', columns: { email: 'email', name: 'lower(email)', ssn: 'ssn', bio: 'bio' } },
    target: { from: '{target}.users', key: 'legacy_id::text', columns: { email: 'email', name: 'name', ssn: 'ssn', bio: 'bio' } },
  };
  const rules = columnPolicyOf(config({ 'public.users': { exclude: ['ssn'], mask: ['email'] } }), env).of('public', 'users');

  it('compares a masked column masked, and leaves out what is excluded or computed from a masked column', () => {
    const ruled = applyColumnRules(comparison, rules);
    expect(Object.keys(ruled.source.columns)).toEqual(['email', 'bio']);
    expect(Object.keys(ruled.target.columns)).toEqual(['email', 'bio']);
    expect(ruled.source.columns.email).toMatch(/^encode\(sha256\(\$2::bytea \|\| sha256\(\$1::bytea \|\| convert_to\(\(email\)::text/);
    expect(ruled.source.columns.bio).toBe('bio');
    expect(ruled.sourceParams).toHaveLength(2);
    expect(ruled.notCompared).toEqual([
      { column: 'name', reason: 'computed from email, which capture masks' },
      { column: 'ssn', reason: 'ssn is excluded at capture' },
    ]);
    expect(applyColumnRules(comparison, null).source).toBe(comparison.source);
  });

  it('refuses a comparison whose key capture excludes', () => {
    const keyless = columnPolicyOf(config({ 'public.users': { exclude: ['id'] } }), env).of('public', 'users');
    expect(() => applyColumnRules(comparison, keyless)).toThrow(/comparison "users": its key cannot be compared \(id is excluded at capture\)/);
  });
});
