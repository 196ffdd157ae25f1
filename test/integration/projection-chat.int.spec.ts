import { randomBytes, randomUUID } from 'crypto';
import { TandemProcess, writeConfig } from '../support/capture-process';
import { createTargetDatabase, targetQuery } from '../support/target-db';
import { dropSlot, eventually, sql, testKafka, uniqueName, withSource } from '../support/services';
import { readTopics } from '../support/kafka-reader';
import { createLegacyChat, generateChat, type ChatGenerateResult } from '../../demo/chat';
import { CHAT_KEYS, CHAT_TABLES, type ChatTable } from '../../src/projections/chat/chat.schemas';
import { TokenCipher } from '../../src/projections/chat/token-crypto';
import { LEFT_OUT } from '../../src/projections/framework/sensitive-fields';

/**
 * The chat recipe (seed 001) end to end: a generated legacy chat/RAG database (eight tables, a few
 * invalid rows) -> capture -> Kafka -> projector -> the `chat` schema.
 *
 * Ordering: the snapshot reads the eight tables in parallel and the projector applies each topic
 * partition on its own, so a child (a chunk, a message) can reach the target before its parent.
 * It is then quarantined with a "missing parent" reason, and the projector applies it by itself once
 * the parent is there (no `tandem dlq redrive`): this test feeds the tables all at once, as capture
 * does. The numbers it checks come from the generator, which knows which rows are invalid and which
 * rows have an invalid parent: only those stay quarantined.
 */
describe('projection: chat recipe', () => {
  const name = uniqueName('chat');
  const schema = name;
  const key = randomBytes(32).toString('base64');
  const keyHex = Buffer.from(key, 'base64').toString('hex');
  const cipher = new TokenCipher(Buffer.from(key, 'base64'));
  const withKey = { TANDEM_TOKEN_KEY: key };
  /** Every output of every tandem process, to check that no token or key was ever printed. */
  const outputs: TandemProcess[] = [];
  let target: Awaited<ReturnType<typeof createTargetDatabase>>;
  let config: string;
  let capture: TandemProcess;
  let projector: TandemProcess;
  let generated: ChatGenerateResult;
  /** Started early (they only read the config and stop), awaited in their own test. */
  let withoutKey: TandemProcess;
  let badKey: TandemProcess;

  const tandem = (args: string[], env: Record<string, string> = withKey) => {
    const child = new TandemProcess(args, env);
    outputs.push(child);
    return child;
  };
  const q = (text: string, values: unknown[] = []) => targetQuery(target.url, text, values);
  const targetCount = async (table: ChatTable) => Number((await q(`SELECT count(*)::int AS n FROM chat.${table}`))[0].n);
  const targetCounts = async () => Object.fromEntries(await Promise.all(CHAT_TABLES.map(async (t) => [t, await targetCount(t)])));
  const quarantineEntryFor = (id: string) =>
    eventually(
      async () => (await q(`SELECT id, reason, status FROM tandem.quarantine WHERE projection = 'chat' AND source_key LIKE $1`, [`%${id}%`]))[0],
      30_000,
      `the quarantine entry of ${id}`,
    );

  beforeAll(async () => {
    delete process.env.TANDEM_TOKEN_KEY; // the children get the key only where a test passes it
    target = await createTargetDatabase('chat');
    generated = await withSource(async (client) => {
      await createLegacyChat(client, schema);
      return generateChat(client, schema, { users: 12, seed: 11, badRatio: 0.04 });
    });
    config = writeConfig({
      prefix: name,
      slot: name,
      publication: name,
      tables: CHAT_TABLES.map((table) => `${schema}.${table}`),
      targetUrl: target.url,
      projections: [{ recipe: 'chat', sourceSchema: schema }],
      projectorBatchEvents: 500,
    });
    withoutKey = tandem(['project', '--config', config], {});
    badKey = tandem(['project', '--config', config], { TANDEM_TOKEN_KEY: 'hunter2-SECRET-not-a-key' });
    capture = tandem(['capture', '--config', config], {});
    await capture.waitForLog(/streaming changes/);
    projector = tandem(['project', '--config', config]);
  });

  afterAll(async () => {
    await projector?.stop();
    await capture?.stop();
    await dropSlot(name);
    await sql(`DROP PUBLICATION IF EXISTS ${name}`);
    await sql(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await target?.drop();
  });

  it('projects all eight tables from the snapshot; children that overtook their parents are applied without a re-drive', async () => {
    const invalid = CHAT_TABLES.reduce((sum, table) => sum + generated.rows[table] - generated.valid[table], 0);
    expect(invalid).toBeGreaterThan(0); // the generator's bad rows (and their children) are part of the test
    expect(generated.rows.document_chunks).toBeGreaterThan(50);

    // every valid row is projected, without anyone re-driving the children that came before their parents
    await eventually(
      async () => JSON.stringify(await targetCounts()) === JSON.stringify(generated.valid),
      120_000, // generous: the shared test machine is often busy with other suites
      'every valid legacy row to be projected',
    ).catch(async (error) => {
      throw new Error(`${error.message}\nhave ${JSON.stringify(await targetCounts())}, want ${JSON.stringify(generated.valid)}\n${projector.output.slice(-3000)}`);
    });
    // what stays: the invalid rows (quarantined) and the children of invalid rows (waiting for a parent that is
    // itself quarantined, their reason naming it); nothing the projector could apply is left behind
    const left = await eventually(
      async () => {
        const rows = await q(`SELECT status, count(*)::int AS n FROM tandem.quarantine WHERE projection = 'chat' AND status <> 'redriven' GROUP BY status`);
        const total = rows.reduce((sum, row) => sum + row.n, 0);
        return total === invalid && Object.fromEntries(rows.map((row) => [row.status, row.n]));
      },
      60_000,
      'only the invalid rows and their children to stay',
    );
    expect(left.quarantined).toBeGreaterThan(0);
    const reasons = await q(`SELECT status, reason FROM tandem.quarantine WHERE projection = 'chat' AND status <> 'redriven'`);
    for (const { status, reason } of reasons)
      expect(`${status}: ${reason}`).toMatch(/^quarantined: invalid .+ row: \w+: |^waiting: waits for the row it refers to: .*missing parent: /);
    const [{ applied }] = await q(`SELECT count(*)::int AS applied FROM tandem.quarantine WHERE projection = 'chat' AND status = 'redriven'`);
    expect(applied).toBeGreaterThan(0); // children that overtook their parents, applied by the projector
  });

  it('holds the same values as the legacy tables (sampled rows of every table)', async () => {
    const compared: Record<ChatTable, string[]> = {
      users: ['lower(email) AS email', "coalesce(subscription_tier, 'free') AS tier", 'full_name', 'storage_used_bytes::text AS bytes', 'messages_used', 'created_at'],
      file_metadata: ['user_id', 'filename', 'processing_status', 'file_size::text AS size', 'chunk_count', "coalesce(metadata, '{}')::text AS metadata", 'updated_at'],
      document_chunks: ['file_id', 'chunk_index', 'content', 'embedding::text AS embedding', 'metadata::text AS metadata'],
      conversations: ['user_id', 'title', 'message_count', 'is_archived', 'last_message_at'],
      chat_messages: ['conversation_id', 'role', 'content', "coalesce(sources, '[]')::text AS sources", 'model', 'created_at'],
      oauth_tokens: ['user_id', 'provider', 'scope', 'expires_at'],
      usage_logs: ['user_id', 'action', 'tokens_used', 'cost_usd::text AS cost', 'metadata::text AS metadata', 'created_at'],
      user_settings: ["coalesce(theme, 'system') AS theme", 'language', 'notifications_enabled', 'preferences::text AS preferences'],
    };
    for (const table of CHAT_TABLES) {
      const id = CHAT_KEYS[table];
      const ids = (await q(`SELECT ${id}::text AS k FROM chat.${table} ORDER BY md5(${id}::text) LIMIT 4`)).map((row) => row.k);
      expect(ids.length).toBeGreaterThan(0);
      const select = `SELECT ${id}::text AS k, ${compared[table].join(', ')} FROM %s WHERE ${id}::text = ANY($1) ORDER BY 1`;
      const projected = await q(select.replace('%s', `chat.${table}`), [ids]);
      const legacy = await sql(select.replace('%s', `${schema}.${table}`), [ids]);
      expect({ table, rows: projected }).toEqual({ table, rows: legacy });
    }
    const [vector] = await q(`SELECT vector_dims(embedding) AS dims FROM chat.document_chunks LIMIT 1`);
    expect(vector.dims).toBe(1536);
    // similarity search on the projected vectors: a chunk's nearest neighbours are its own file's chunks
    const [probe] = await q(`SELECT id, file_id FROM chat.document_chunks WHERE file_id IN
                               (SELECT file_id FROM chat.document_chunks GROUP BY 1 HAVING count(*) >= 3) ORDER BY id LIMIT 1`);
    const nearest = await q(
      `SELECT id, file_id FROM chat.document_chunks ORDER BY embedding <=> (SELECT embedding FROM chat.document_chunks WHERE id = $1) LIMIT 3`,
      [probe.id],
    );
    expect(nearest[0].id).toBe(probe.id);
    expect(nearest.map((row) => row.file_id)).toEqual([probe.file_id, probe.file_id, probe.file_id]);
  });

  it('stores OAuth tokens encrypted, decrypting to the legacy values, also after a rotation', async () => {
    const legacy = await sql(`SELECT id::text, access_token, refresh_token FROM ${schema}.oauth_tokens`);
    const projected = new Map((await q(`SELECT id::text, access_token, refresh_token FROM chat.oauth_tokens`)).map((row) => [row.id, row]));
    expect(projected.size).toBe(generated.valid.oauth_tokens);
    for (const row of legacy) {
      const stored = projected.get(row.id);
      if (!stored) continue; // an invalid token (quarantined)
      expect(stored.access_token).toMatch(/^v1:/);
      expect(stored.access_token).not.toContain(row.access_token);
      expect(cipher.decrypt(row.id, 'access_token', stored.access_token)).toBe(row.access_token);
      if (row.refresh_token === null) expect(stored.refresh_token).toBeNull();
      else expect(cipher.decrypt(row.id, 'refresh_token', stored.refresh_token)).toBe(row.refresh_token);
    }
    const tokenId = [...projected.keys()][0];
    await sql(`UPDATE ${schema}.oauth_tokens SET access_token = 'ya29.ROTATED-' || md5(random()::text), updated_at = now() WHERE id = $1`, [tokenId]);
    const [rotated] = await sql(`SELECT access_token FROM ${schema}.oauth_tokens WHERE id = $1`, [tokenId]);
    await eventually(
      async () => {
        const [row] = await q(`SELECT access_token FROM chat.oauth_tokens WHERE id = $1`, [tokenId]);
        return cipher.decrypt(tokenId, 'access_token', row.access_token) === rotated.access_token;
      },
      30_000,
      'the rotated token',
    );
  });

  it('quarantines enum violations with the field path, and never a token in the reason', async () => {
    const [conversation] = await sql(`SELECT id::text, user_id::text FROM ${schema}.conversations WHERE message_count >= 0 ORDER BY id LIMIT 1`);
    const badMessage = randomUUID();
    const badToken = randomUUID();
    const badFile = randomUUID();
    await sql(`INSERT INTO ${schema}.chat_messages (id, conversation_id, user_id, role, content) VALUES ($1, $2, $3, 'bot', 'beep')`, [
      badMessage,
      conversation.id,
      conversation.user_id,
    ]);
    await sql(`INSERT INTO ${schema}.oauth_tokens (id, user_id, provider, access_token, refresh_token) VALUES ($1, $2, 'myspace', 'ya29.LEAK-CHECK-access', '1//LEAK-CHECK-refresh')`, [
      badToken,
      conversation.user_id,
    ]);
    await sql(`INSERT INTO ${schema}.file_metadata (id, user_id, filename, file_type, file_size, storage_path, processing_status) VALUES ($1, $2, 'a.pdf', 'application/pdf', 1, 'x/a.pdf', 'done')`, [
      badFile,
      conversation.user_id,
    ]);
    expect((await quarantineEntryFor(badMessage)).reason).toBe(
      `invalid ${schema}.chat_messages row: role: "bot" is not a valid message role (expected user | assistant | system)`,
    );
    const tokenReason = (await quarantineEntryFor(badToken)).reason;
    expect(tokenReason).toMatch(/provider: "myspace" is not a valid OAuth provider/);
    expect(tokenReason).not.toMatch(/LEAK-CHECK/);
    expect((await quarantineEntryFor(badFile)).reason).toMatch(/processing_status: "done" is not a valid processing status \(expected pending \| processing \| completed \| failed\)/);
    expect(await q(`SELECT 1 FROM chat.chat_messages WHERE id = $1`, [badMessage])).toHaveLength(0);
  });

  it('quarantines a message whose conversation is missing, naming the parent, and applies it by itself once the conversation arrives', async () => {
    const [user] = await sql(`SELECT id::text FROM ${schema}.users WHERE subscription_tier IS DISTINCT FROM 'enterprise' AND email LIKE '%@%' ORDER BY id LIMIT 1`);
    const conversation = randomUUID();
    const message = randomUUID();
    // The conversation is invalid at first (a negative message count), so it is quarantined and the
    // message, whatever order the two arrive in, finds no parent.
    await withSource(async (client) => {
      await client.query('BEGIN');
      await client.query(`INSERT INTO ${schema}.conversations (id, user_id, title, message_count) VALUES ($1, $2, 'Late parent', -1)`, [conversation, user.id]);
      await client.query(`INSERT INTO ${schema}.chat_messages (id, conversation_id, user_id, role, content) VALUES ($1, $2, $3, 'user', 'Hello?')`, [
        message,
        conversation,
        user.id,
      ]);
      await client.query('COMMIT');
    });
    expect((await quarantineEntryFor(conversation)).reason).toMatch(/message_count: must not be negative/);
    const entry = await quarantineEntryFor(message);
    expect(entry.reason).toContain(`missing parent: chat_messages.conversation_id ${conversation} is not in conversations`);
    expect(entry.reason).toContain('constraint chat_messages_conversation_id_fkey');
    // its parent is itself quarantined: the message waits for it (not quarantined), and its reason says so
    expect(entry.status).toBe('waiting');
    expect(entry.reason).toMatch(/^waits for the row it refers to: /);

    // the parent is fixed at the source: the projector applies it, then the waiting message, by itself
    await sql(`UPDATE ${schema}.conversations SET message_count = 1 WHERE id = $1`, [conversation]);
    await eventually(
      async () => (await q(`SELECT status FROM tandem.quarantine WHERE id = $1`, [entry.id]))[0].status === 'redriven',
      30_000,
      'the waiting message to be applied',
    );
    const [projected] = await q(`SELECT conversation_id::text, content FROM chat.chat_messages WHERE id = $1`, [message]);
    expect(projected).toEqual({ conversation_id: conversation, content: 'Hello?' });
  });

  it('keeps OAuth tokens out of quarantine, the dead-letter topic and dlq list while a token waits for its user, and applies it whole once the user arrives, also after a projector restart', async () => {
    const userId = randomUUID();
    const tokenId = randomUUID();
    const access = `ya29.QUARANTINE-${randomBytes(8).toString('hex')}`;
    const refresh = `1//QUARANTINE-${randomBytes(8).toString('hex')}`;
    // The user is invalid at first (quarantined), so its token, valid itself, finds no parent and waits.
    await sql(`INSERT INTO ${schema}.users (id, email) VALUES ($1, 'not-an-email')`, [userId]);
    await sql(`INSERT INTO ${schema}.oauth_tokens (id, user_id, provider, access_token, refresh_token) VALUES ($1, $2, 'google', $3, $4)`, [
      tokenId,
      userId,
      access,
      refresh,
    ]);
    const entry = await quarantineEntryFor(tokenId);
    expect(entry.status).toBe('waiting');
    expect(entry.reason).toMatch(/^waits for the row it refers to: /);
    const [stored] = await q(`SELECT event FROM tandem.quarantine WHERE id = $1`, [entry.id]);
    expect(stored.event.after).toMatchObject({ id: tokenId, provider: 'google', access_token: LEFT_OUT, refresh_token: LEFT_OUT });
    expect(JSON.stringify(stored)).not.toMatch(/QUARANTINE-/);

    const dead = await readTopics(testKafka(), [`${name}.dlq.chat`], () => true, { timeoutMs: 30_000, settleMs: 1_000 });
    expect(JSON.stringify(dead.map((r) => r.value))).not.toMatch(/QUARANTINE-/);
    const list = tandem(['dlq', 'list', '--config', config, '--projection', 'chat', '--json', '--all']);
    expect(await list.exited).toBe(0);
    expect(list.output).not.toMatch(/QUARANTINE-/);

    // a new projector process has not seen the token: it reads the whole event again from its change topic
    expect(await projector.stop()).toBe(0);
    projector = tandem(['project', '--config', config]);

    // the user is fixed at the source: the projector applies the token by itself, with its real values
    await sql(`UPDATE ${schema}.users SET email = $2 WHERE id = $1`, [userId, `${userId}@example.com`]);
    await eventually(async () => (await q(`SELECT 1 FROM chat.oauth_tokens WHERE id = $1`, [tokenId])).length === 1, 90_000, 'the waiting token');
    const [token] = await q(`SELECT access_token, refresh_token FROM chat.oauth_tokens WHERE id = $1`, [tokenId]);
    expect(cipher.decrypt(tokenId, 'access_token', token.access_token)).toBe(access);
    expect(cipher.decrypt(tokenId, 'refresh_token', token.refresh_token)).toBe(refresh);
    expect((await q(`SELECT status FROM tandem.quarantine WHERE id = $1`, [entry.id]))[0].status).toBe('redriven');
  });

  it('keeps an unchanged (TOASTed) embedding on update, and cascades deletes of a conversation', async () => {
    const [chunk] = await q(`SELECT id::text, token_count, embedding::text AS embedding FROM chat.document_chunks ORDER BY id LIMIT 1`);
    await sql(`UPDATE ${schema}.document_chunks SET token_count = token_count + 1000 WHERE id = $1`, [chunk.id]);
    await eventually(
      async () => (await q(`SELECT token_count FROM chat.document_chunks WHERE id = $1`, [chunk.id]))[0].token_count === chunk.token_count + 1000,
      30_000,
      'the chunk update',
    ).catch(async (error) => {
      const entries = await q(`SELECT reason FROM tandem.quarantine WHERE source_key LIKE $1`, [`%${chunk.id}%`]);
      throw new Error(`${error.message}; quarantined: ${JSON.stringify(entries)}\n${projector.output.slice(-4000)}\n${capture.output.slice(-2000)}`);
    });
    expect((await q(`SELECT embedding::text AS e FROM chat.document_chunks WHERE id = $1`, [chunk.id]))[0].e).toBe(chunk.embedding);

    const [conversation] = await q(
      `SELECT c.id::text FROM chat.conversations c JOIN chat.chat_messages m ON m.conversation_id = c.id GROUP BY c.id ORDER BY count(*) DESC, c.id LIMIT 1`,
    );
    await sql(`DELETE FROM ${schema}.conversations WHERE id = $1`, [conversation.id]);
    await eventually(
      async () =>
        (await q(`SELECT (SELECT count(*) FROM chat.conversations WHERE id = $1) + (SELECT count(*) FROM chat.chat_messages WHERE conversation_id = $1) AS n`, [
          conversation.id,
        ]))[0].n === '0',
      30_000,
      'the conversation and its messages to be deleted',
    );
  });

  it('refuses to start without TANDEM_TOKEN_KEY, or with a malformed one: exit 2, naming the variable, never the value', async () => {
    expect(await withoutKey.exited).toBe(2);
    expect(withoutKey.output).toMatch(/TANDEM_TOKEN_KEY: not set/);
    expect(await badKey.exited).toBe(2);
    expect(badKey.output).toMatch(/TANDEM_TOKEN_KEY: not a valid key/);
    expect(badKey.output).not.toContain('hunter2');
  });

  it('never prints a token or the key, in logs or in quarantine reasons', async () => {
    const tokens = (await sql(`SELECT access_token, refresh_token FROM ${schema}.oauth_tokens`)).flatMap((row) => [row.access_token, row.refresh_token]).filter(Boolean);
    tokens.push('ya29.LEAK-CHECK-access', '1//LEAK-CHECK-refresh');
    const reasons = (await q(`SELECT reason, event::text AS event FROM tandem.quarantine`)).map((row) => `${row.reason}\n${row.event}`).join('\n');
    const logs = outputs.map((child) => child.output).join('\n');
    expect(logs).toContain('event quarantined'); // the projector did log its quarantines
    for (const secret of [...tokens, key, keyHex]) {
      expect(logs.includes(secret)).toBe(false);
      expect(reasons.includes(secret)).toBe(false);
    }
  });
});
