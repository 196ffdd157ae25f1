import { z } from 'zod';
import { DryRunReport } from '../../src/modules/projection/dry-run-report';
import { decodeRecord } from '../../src/projections/framework/event-decoder';
import { defineProjection, type ProjectionDefinition } from '../../src/projections/framework/define-projection';
import {
  hasLeftOutFields,
  LEFT_OUT,
  scrubSecrets,
  sensitiveValues,
  withoutSensitiveFields,
} from '../../src/projections/framework/sensitive-fields';
import { chatProjection } from '../../src/projections/chat/chat.projection';
import { TokenCipher } from '../../src/projections/chat/token-crypto';
import { usersProjection } from '../../src/projections/users/users.projection';

const ACCESS = 'ya29.SECRET-access-9f8e';
const REFRESH = '1//SECRET-refresh-7a6b';

/** A module of the user's own that copies a token as it is (so a dry run would print it). */
const tokens = defineProjection<{ id: number; token: string; provider: string }>({
  name: 'tokens',
  migrations: [],
  input: {
    'public.tokens': z.object({ id: z.number(), token: z.string(), provider: z.enum(['google', 'github']) }),
  },
  sensitive: { 'public.tokens': ['token'] },
  apply: (event) => {
    if (event.after?.provider === 'github') throw new Error(`cannot refresh ${event.after.token}`);
    return event.after ? [{ op: 'upsert', table: 'tokens', key: ['id'], row: { ...event.after } }] : [];
  },
}) as ProjectionDefinition<unknown>;

const envelope = (after: Record<string, unknown>, before: Record<string, unknown> | null = null) => ({
  before,
  after,
  source: { version: '1', connector: 'postgresql', name: 'legacy', ts_ms: 1, snapshot: 'false', db: 'app', schema: 'public', table: 'tokens', txId: 1, lsn: 16, xmin: null, commit_lsn: 16 },
  op: before ? 'u' : 'c',
  ts_ms: 1,
  transaction: null,
});
const record = (value: unknown, offset = 1n) => ({
  topic: 'legacy.public.tokens',
  partition: 0,
  offset,
  key: '{"id":1}',
  value: JSON.stringify(value),
});

describe('sensitive fields', () => {
  it('are declared by the chat and users recipes', () => {
    const chat = chatProjection({ sourceSchema: 'legacy', cipher: new TokenCipher(Buffer.alloc(32, 1)) });
    expect(chat.sensitive).toEqual({ 'legacy.oauth_tokens': ['access_token', 'refresh_token'] });
    expect(usersProjection('public').sensitive).toEqual({ 'public.auth_users': ['encrypted_password'] });
  });

  it('are left out of before and after, and nothing else is', () => {
    const event = envelope({ id: 1, token: ACCESS, provider: 'google' }, { id: 1, token: REFRESH, provider: 'google' });
    const stored = withoutSensitiveFields(tokens, 'legacy.public.tokens', event) as ReturnType<typeof envelope>;
    expect(stored.after).toEqual({ id: 1, token: LEFT_OUT, provider: 'google' });
    expect(stored.before).toEqual({ id: 1, token: LEFT_OUT, provider: 'google' });
    expect(stored.source).toEqual(event.source);
    expect(JSON.stringify(stored)).not.toMatch(/SECRET/);
    expect(hasLeftOutFields(stored)).toBe(true);
    expect(hasLeftOutFields(event)).toBe(false);
    // another table's columns of the same name, and null values, stay as they are
    expect(withoutSensitiveFields(tokens, 'legacy.public.other', event)).toBe(event);
    expect((withoutSensitiveFields(tokens, 'legacy.public.tokens', envelope({ id: 2, token: null })) as { after: unknown }).after).toEqual({ id: 2, token: null });
    // an event that is not JSON cannot be told apart: left out whole
    expect(withoutSensitiveFields(tokens, 'legacy.public.tokens', `{"token":"${ACCESS}"`)).toBe(LEFT_OUT);
    expect(sensitiveValues(tokens, 'legacy.public.tokens', event)).toEqual([REFRESH, ACCESS]);
  });

  it('are masked in texts (reasons, printed parameters)', () => {
    expect(scrubSecrets(`bad token "${ACCESS}" for ${REFRESH}`, [ACCESS, REFRESH])).toBe('bad token "***" for ***');
    expect(scrubSecrets('an id of 12', ['12'])).toBe('an id of 12');
  });

  it('never reach a dry run: neither its SQL parameters nor its quarantine reasons', () => {
    const lines: string[] = [];
    const report = new DryRunReport((line) => lines.push(line));
    const good = record(envelope({ id: 1, token: ACCESS, provider: 'google' }), 1n);
    const bad = record(envelope({ id: 2, token: REFRESH, provider: 'github' }), 2n);
    report.add(tokens, [good, bad].map((r) => ({ record: r, decoded: decodeRecord(tokens, 'legacy', r) })));
    const printed = `${lines.join('\n')}\n${report.render()}`;
    expect(printed).toContain('would quarantine legacy.public.tokens[0]@2: cannot refresh ***');
    expect(printed).toMatch(/\$\d+ = .*\*\*\*/);
    expect(printed).not.toMatch(/SECRET/);
  });
});
