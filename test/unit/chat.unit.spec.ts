import { randomBytes } from 'crypto';
import { inspect } from 'util';
import { ConfigError, TokenDecryptError } from '../../src/shared/errors';
import { insert, projectionSpec, read, remove, truncate, update, type TestChangeEvent } from '../../src/testing';
import type { ProjectionDefinition } from '../../src/projections/framework/define-projection';
import { UNAVAILABLE_VALUE } from '../../src/contracts/envelope';
import { chatRecipe } from '../../src/projections/chat';
import { chatProjection, vectorText } from '../../src/projections/chat/chat.projection';
import { CHAT_MIGRATIONS } from '../../src/projections/chat/chat.migrations';
import { CHAT_INPUT, CHAT_RELATIONS, CHAT_TABLES, EMBEDDING_DIMENSIONS } from '../../src/projections/chat/chat.schemas';
import { ENCRYPTED_TOKEN_PATTERN, TokenCipher, parseTokenKey } from '../../src/projections/chat/token-crypto';

const KEY = randomBytes(32);
const cipher = new TokenCipher(KEY);
const PREFIX = 'legacy';
const definition = chatProjection({ sourceSchema: 'app', cipher }) as ProjectionDefinition<unknown>;

const USER = '4f1c2a9e-8a57-4c3e-9b1e-2f6d7c8b9a01';
const TOKEN = '9b2e6d4a-1c3f-4e5d-8a7b-6c5d4e3f2a10';
const SECRET = 'ya29.a0-PLAINTEXT-ACCESS-TOKEN-never-in-a-reason';
const REFRESH = '1//0-PLAINTEXT-REFRESH-TOKEN';

// Events as capture writes them from the legacy schema "app", committed at 2024-05-01T10:40:00Z.
const spec = projectionSpec(definition, { topicPrefix: PREFIX });
const AT = { commitTimeMs: 1_714_560_000_000 };
const decode = (event: TestChangeEvent) => spec.when(event).outcomes()[0];

const show = (value: unknown) => JSON.stringify(value, (_, v) => (typeof v === 'bigint' ? v.toString() : v));
function applied(result: ReturnType<typeof decode>) {
  if (result.kind !== 'apply') throw new Error(`expected apply, got ${show(result)}`);
  return result.operations;
}
function rejected(result: ReturnType<typeof decode>): string {
  if (result.kind !== 'reject') throw new Error(`expected a rejection, got ${show(result)}`);
  return result.reason;
}

const token = (extra: Record<string, unknown> = {}) => ({
  id: TOKEN,
  user_id: USER,
  provider: 'google',
  access_token: SECRET,
  refresh_token: REFRESH,
  token_type: 'Bearer',
  scope: 'openid email',
  expires_at: '2024-05-01T11:34:56.123456Z',
  created_at: '2024-05-01T10:34:56.123456Z',
  updated_at: '2024-05-01T10:34:56.123456Z',
  ...extra,
});

describe('chat: token encryption', () => {
  it('decrypts what it encrypted, for any text', () => {
    for (const plaintext of [SECRET, '', 'x', 'ünïcödé 🔑', 'a'.repeat(5000)]) {
      const sealed = cipher.encrypt(TOKEN, 'access_token', plaintext);
      expect(sealed).toMatch(ENCRYPTED_TOKEN_PATTERN);
      if (plaintext.length >= 8) expect(sealed).not.toContain(plaintext);
      expect(cipher.decrypt(TOKEN, 'access_token', sealed)).toBe(plaintext);
    }
  });

  it('is deterministic per token and field (replays stay hash-equal), and differs across them', () => {
    const a = cipher.encrypt(TOKEN, 'access_token', SECRET);
    expect(cipher.encrypt(TOKEN, 'access_token', SECRET)).toBe(a);
    expect(new TokenCipher(Buffer.from(KEY)).encrypt(TOKEN, 'access_token', SECRET)).toBe(a);
    expect(cipher.encrypt(TOKEN, 'refresh_token', SECRET)).not.toBe(a);
    expect(cipher.encrypt(USER, 'access_token', SECRET)).not.toBe(a);
    const ivOf = (value: string) => value.split(':')[1];
    expect(ivOf(cipher.encrypt(TOKEN, 'access_token', `${SECRET}2`))).not.toBe(ivOf(a));
    expect(new TokenCipher(randomBytes(32)).encrypt(TOKEN, 'access_token', SECRET)).not.toBe(a);
  });

  it('refuses a tampered value, another key, or a value moved to another token or field', () => {
    const sealed = cipher.encrypt(TOKEN, 'access_token', SECRET);
    const [version, iv, body] = sealed.split(':');
    const flipped = Buffer.from(body, 'base64');
    flipped[0] ^= 1;
    expect(() => cipher.decrypt(TOKEN, 'access_token', `${version}:${iv}:${flipped.toString('base64')}`)).toThrow(TokenDecryptError);
    expect(() => new TokenCipher(randomBytes(32)).decrypt(TOKEN, 'access_token', sealed)).toThrow(/does not decrypt/);
    expect(() => cipher.decrypt(USER, 'access_token', sealed)).toThrow(/does not decrypt/);
    expect(() => cipher.decrypt(TOKEN, 'refresh_token', sealed)).toThrow(/does not decrypt/);
    expect(() => cipher.decrypt(TOKEN, 'access_token', SECRET)).toThrow(/not an encrypted value/);
    try {
      cipher.decrypt(TOKEN, 'access_token', SECRET);
    } catch (error) {
      expect((error as Error).message).not.toContain(SECRET);
    }
  });

  it('reads the key as 64 hex characters or base64 (standard or URL-safe, padding optional)', () => {
    expect(parseTokenKey(KEY.toString('hex'))).toEqual(KEY);
    expect(parseTokenKey(KEY.toString('hex').toUpperCase())).toEqual(KEY);
    expect(parseTokenKey(KEY.toString('base64'))).toEqual(KEY);
    expect(parseTokenKey(` ${KEY.toString('base64url')}\n`)).toEqual(KEY);
  });

  it('stops with a ConfigError naming TANDEM_TOKEN_KEY, never its value, when the key is missing or malformed', () => {
    for (const value of [undefined, '', '   ']) {
      expect(() => parseTokenKey(value)).toThrow(ConfigError);
      expect(() => parseTokenKey(value)).toThrow(/^TANDEM_TOKEN_KEY: not set/);
    }
    const malformed = [
      'correct-horse-battery-staple-SECRET',
      randomBytes(16).toString('base64'),
      randomBytes(33).toString('base64'),
      randomBytes(31).toString('hex') + 'zz',
      `${KEY.toString('base64')}!`,
    ];
    for (const value of malformed) {
      let message = '';
      try {
        parseTokenKey(value);
      } catch (error) {
        expect(error).toBeInstanceOf(ConfigError);
        message = (error as Error).message;
      }
      expect(message).toMatch(/^TANDEM_TOKEN_KEY: not a valid key/);
      expect(message).not.toContain(value);
    }
  });

  it('never prints key material', () => {
    const hex = KEY.toString('hex');
    const b64 = KEY.toString('base64');
    for (const shown of [inspect(cipher, { depth: 10, showHidden: true }), JSON.stringify({ cipher }), String(cipher)]) {
      expect(shown).not.toContain(hex);
      expect(shown).not.toContain(b64);
    }
  });
});

describe('chat: recipe', () => {
  it('refuses to build the projection without a valid TANDEM_TOKEN_KEY', () => {
    expect(() => chatRecipe.projection({ sourceSchema: 'app', env: {} })).toThrow(ConfigError);
    expect(() => chatRecipe.projection({ sourceSchema: 'app', env: {} })).toThrow(/TANDEM_TOKEN_KEY/);
    expect(() => chatRecipe.projection({ sourceSchema: 'app', env: { TANDEM_TOKEN_KEY: 'short-SECRET' } })).toThrow(/^TANDEM_TOKEN_KEY: not a valid key/);
  });

  it('reads the eight legacy tables of its source schema into the chat schema', () => {
    const built = chatRecipe.projection({ sourceSchema: 'legacy_app', env: { TANDEM_TOKEN_KEY: KEY.toString('base64') } });
    expect(built.name).toBe('chat');
    expect(built.schema).toBe('chat');
    expect(Object.keys(built.input).sort()).toEqual(CHAT_TABLES.map((table) => `legacy_app.${table}`).sort());
  });

  it('has a target table with _source_key, _source_lsn and a parent guard for every relation', () => {
    const sql = CHAT_MIGRATIONS.map((migration) => migration.sql).join('\n');
    for (const table of CHAT_TABLES) {
      const body = sql.slice(sql.indexOf(`CREATE TABLE ${table} (`));
      expect(body.slice(0, body.indexOf(');'))).toMatch(/_source_key text NOT NULL,\s+_source_lsn bigint NOT NULL/);
    }
    for (const { table, column, parent } of CHAT_RELATIONS) {
      expect(sql).toContain(`${column} uuid NOT NULL REFERENCES ${parent} (id) ON DELETE CASCADE`);
      expect(sql).toContain(`CREATE TRIGGER ${table}_requires_${parent} BEFORE INSERT OR UPDATE OF ${column} ON ${table}`);
    }
    expect(sql).toContain(`embedding vector(${EMBEDDING_DIMENSIONS})`);
  });
});

describe('chat: input schemas', () => {
  const user = {
    id: USER,
    email: 'Ada.Lovelace@Example.com',
    full_name: 'Ada Lovelace',
    subscription_tier: null,
    subscription_status: 'trialing',
    messages_used: 3,
    files_uploaded: 1,
    storage_used_bytes: '9007199254740993',
    created_at: '2024-05-01T10:34:56.123456Z',
    updated_at: '2024-05-02T10:34:56Z',
    some_new_column: 'ignored',
  };

  it('accepts a valid row and drops unknown columns', () => {
    const parsed = CHAT_INPUT.users.parse(user);
    expect(parsed).not.toHaveProperty('some_new_column');
    expect(parsed.storage_used_bytes).toBe('9007199254740993');
  });

  it.each([
    ['users', { ...user, subscription_tier: 'enterprise' }, /subscription_tier: "enterprise" is not a valid subscription tier \(expected free \| pro \| pro_byok\)/],
    ['users', { ...user, subscription_status: 'paused' }, /subscription_status: "paused" is not a valid subscription status/],
    ['users', { ...user, email: 'ada at example.com' }, /email: not a valid e-mail address/],
    ['users', { ...user, id: 'not-a-uuid' }, /id: id is missing or not a valid uuid/],
    ['users', { ...user, messages_used: -1 }, /messages_used: must not be negative/],
    ['users', { ...user, created_at: undefined }, /created_at: must be an ISO-8601 timestamp/],
  ])('rejects a bad %s row with the field path', (table, row, reason) => {
    const result = CHAT_INPUT[table as 'users'].safeParse(row);
    expect(result.success).toBe(false);
    const described = result.error!.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`).join('; ');
    expect(described).toMatch(reason);
  });

  it('checks the embedding dimension and parses jsonb documents', () => {
    const chunk = {
      id: TOKEN,
      file_id: USER,
      user_id: USER,
      chunk_index: 0,
      content: 'text',
      embedding: Array.from({ length: EMBEDDING_DIMENSIONS }, (_, i) => i / 10),
      metadata: '{"page": 2}',
      created_at: '2024-05-01T10:34:56Z',
    };
    expect(CHAT_INPUT.document_chunks.parse(chunk).metadata).toEqual({ page: 2 });
    const short = CHAT_INPUT.document_chunks.safeParse({ ...chunk, embedding: [1, 2, 3] });
    expect(short.error?.issues[0].message).toBe(`must have ${EMBEDDING_DIMENSIONS} dimensions, has 3`);
    expect(CHAT_INPUT.document_chunks.safeParse({ ...chunk, metadata: '{oops' }).error?.issues[0].message).toBe('is not valid JSON');
    expect(CHAT_INPUT.document_chunks.parse({ ...chunk, embedding: UNAVAILABLE_VALUE, content: UNAVAILABLE_VALUE }).embedding).toBe(UNAVAILABLE_VALUE);
  });
});

describe('chat: apply', () => {
  it('encrypts both tokens; the stored values decrypt to the source values', () => {
    const [op] = applied(decode(insert('app.oauth_tokens', token(), AT)));
    expect(op).toMatchObject({ op: 'upsert', table: 'oauth_tokens', key: ['id'] });
    const row = (op as { row: Record<string, unknown> }).row;
    expect(JSON.stringify(row)).not.toContain(SECRET);
    expect(JSON.stringify(row)).not.toContain(REFRESH);
    expect(cipher.decrypt(TOKEN, 'access_token', row.access_token as string)).toBe(SECRET);
    expect(cipher.decrypt(TOKEN, 'refresh_token', row.refresh_token as string)).toBe(REFRESH);
    // a replay writes the same bytes
    expect((applied(decode(read('app.oauth_tokens', token(), AT)))[0] as { row: unknown }).row).toEqual(row);
  });

  it('keeps a null refresh token null, an unchanged (TOAST) token unchanged, and defaults the token type', () => {
    const row = (applied(decode(update('app.oauth_tokens', token({ refresh_token: null, token_type: null, access_token: UNAVAILABLE_VALUE }), AT)))[0] as {
      row: Record<string, unknown>;
    }).row;
    expect(row).toMatchObject({ refresh_token: null, token_type: 'Bearer' });
    expect(row).not.toHaveProperty('access_token'); // not written: the stored ciphertext stays
  });

  it('never puts a token, or the key, into a rejection reason', () => {
    const reasons = [
      rejected(decode(insert('app.oauth_tokens', token({ provider: 'myspace' }), AT))),
      rejected(decode(insert('app.oauth_tokens', token({ access_token: 42 }), AT))),
      rejected(decode(insert('app.oauth_tokens', token({ user_id: SECRET }), AT))),
      rejected(decode(insert('app.oauth_tokens', token({ refresh_token: '' }), AT))),
    ];
    expect(reasons[0]).toMatch(/^invalid app\.oauth_tokens row: provider: "myspace" is not a valid OAuth provider/);
    expect(reasons[1]).toMatch(/access_token/);
    expect(reasons[3]).toMatch(/refresh_token: must not be empty/);
    for (const reason of reasons) {
      expect(reason).not.toContain(SECRET);
      expect(reason).not.toContain(REFRESH);
      expect(reason).not.toContain(KEY.toString('hex'));
      expect(reason).not.toContain(KEY.toString('base64'));
    }
  });

  it('quarantines an unknown message role with the field path', () => {
    const reason = rejected(
      decode(insert('app.chat_messages', { id: TOKEN, conversation_id: USER, user_id: USER, role: 'bot', content: 'hi', created_at: '2024-05-01T10:34:56Z' }, AT)),
    );
    expect(reason).toBe('invalid app.chat_messages row: role: "bot" is not a valid message role (expected user | assistant | system)');
  });

  it('writes embeddings in pgvector text form, jsonb as documents, and the seed defaults', () => {
    const embedding = Array.from({ length: EMBEDDING_DIMENSIONS }, (_, i) => (i % 7) / 8 - 0.25);
    const chunk = applied(
      decode(read('app.document_chunks', {
        id: TOKEN,
        file_id: USER,
        user_id: USER,
        chunk_index: 3,
        content: 'text',
        embedding,
        metadata: null,
        created_at: '2024-05-01T10:34:56Z',
      }, AT)),
    )[0] as { row: Record<string, unknown> };
    expect(chunk.row.embedding).toBe(vectorText(embedding));
    expect(String(chunk.row.embedding).startsWith('[-0.25,-0.125,0,0.125,')).toBe(true);
    expect(chunk.row.metadata).toEqual({});

    const user = applied(
      decode(insert('app.users', { id: USER, email: ' Ada@Example.COM ', subscription_tier: null, subscription_status: null, created_at: '2024-05-01T10:34:56Z' }, AT)),
    )[0] as { row: Record<string, unknown> };
    expect(user.row).toMatchObject({
      email: 'ada@example.com',
      subscription_tier: 'free',
      subscription_status: 'active',
      messages_used: 0,
      storage_used_bytes: '0',
      updated_at: '2024-05-01T10:34:56Z',
    });
    const message = applied(
      decode(insert('app.chat_messages', {
        id: TOKEN,
        conversation_id: USER,
        user_id: USER,
        role: 'assistant',
        content: 'see [1]',
        sources: '[{"chunk_id": "x", "score": 0.9}]',
        created_at: '2024-05-01T10:34:56Z',
      }, AT)),
    )[0] as { row: Record<string, unknown> };
    expect(message.row.sources).toEqual([{ chunk_id: 'x', score: 0.9 }]);
    const settings = applied(decode(insert('app.user_settings', { user_id: USER }, AT)))[0];
    expect(settings).toMatchObject({ key: ['user_id'], row: { theme: 'system', language: 'en', notifications_enabled: true, preferences: {} } });
  });

  it('leaves unchanged (TOASTed) columns out of the row, so the stored embedding and content stay', () => {
    const [op] = applied(
      decode(update('app.document_chunks', {
        id: TOKEN,
        file_id: USER,
        user_id: USER,
        chunk_index: 3,
        content: UNAVAILABLE_VALUE,
        embedding: UNAVAILABLE_VALUE,
        token_count: 12,
        metadata: UNAVAILABLE_VALUE,
        created_at: '2024-05-01T10:34:56Z',
      }, AT)),
    ) as Array<{ row: Record<string, unknown> }>;
    expect(Object.keys(op.row).sort()).toEqual(['chunk_index', 'created_at', 'file_id', 'id', 'token_count', 'user_id']);
  });

  it('deletes by the key in before, and a truncate empties the table', () => {
    expect(applied(decode(remove('app.conversations', { id: USER, user_id: null }, AT)))).toEqual([{ op: 'delete', table: 'conversations', match: { id: USER } }]);
    expect(applied(decode(remove('app.usage_logs', { id: '42' }, AT)))).toEqual([{ op: 'delete', table: 'usage_logs', match: { id: '42' } }]);
    expect(applied(decode(remove('app.user_settings', { user_id: USER }, AT)))).toEqual([{ op: 'delete', table: 'user_settings', match: { user_id: USER } }]);
    expect(applied(decode(truncate('app.file_metadata', AT)))).toEqual([{ op: 'delete', table: 'file_metadata', match: {} }]);
  });
});
