/**
 * The quickstart: a legacy database shaped like the five seeds, captured into Kafka and projected
 * into a new database by the five recipes while the "application" keeps writing, then reconciled.
 * It reads like the story of a migration; `npm run quickstart` runs it on the local services.
 */
import { randomBytes } from 'crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'fs';
import { join } from 'path';
import { Client } from 'pg';
import { stringify } from 'yaml';
import { loadConfig } from '../../src/modules/config/load-config';
import { CaptureService } from '../../src/modules/capture/capture.service';
import { ProjectionService, projectionDefinitions, targetPool } from '../../src/modules/projection/projection.service';
import { DeadLetterService } from '../../src/modules/projection/dead-letter.service';
import { ReconciliationService } from '../../src/modules/reconciliation/reconciliation.service';
import { renderHtml, renderMarkdown } from '../../src/modules/reconciliation/reconciliation-report';
import { createKafka } from '../../src/connectors/kafka/kafka-client';
import { createLogger } from '../../src/shared/logger';
import { createLegacyAppState, generateAppStates } from '../../src/projections/app-state/demo';
import { createLegacyKnowledgeBase, generateKnowledgeBase } from '../../src/projections/knowledge-base/demo';
import { createLegacyMemory, generateMemoryNodes } from '../../src/projections/memory/demo';
import { createLegacyChat, generateChat } from '../../src/projections/chat/demo';

const PREFIX = 'quickstart';
const SLOT = 'tandem_quickstart';
const TARGET_DATABASE = 'tandem_quickstart';
const LIVE_SECONDS = Number(process.env.QUICKSTART_LIVE_SECONDS ?? 15);
const CHAT_TABLES = ['users', 'file_metadata', 'document_chunks', 'conversations', 'chat_messages', 'oauth_tokens', 'usage_logs', 'user_settings'];
const SCHEMAS = { users: 'legacy_auth', appState: 'legacy_app', kb: 'legacy_kb', memory: 'legacy_memory', chat: 'legacy_chat' };

// The story is the output; Tandem's own logs (quarantines, Kafka retries) stay out of it.
const quiet = createLogger('tandem', 'fatal');
const say = (line = '') => process.stdout.write(`${line}\n`);
const step = (n: number, text: string) => say(`\n${n}. ${text}`);
const seconds = (since: number) => `${((Date.now() - since) / 1000).toFixed(1)} s`;
const number = (n: number) => n.toLocaleString('en-US');

async function main(): Promise<void> {
  const started = Date.now();
  const dir = join(process.cwd(), '.tandem', 'quickstart');
  mkdirSync(dir, { recursive: true });
  process.env.TANDEM_TOKEN_KEY ??= demoTokenKey(dir);

  const legacy = new Client({ connectionString: process.env.TANDEM_SOURCE_URL });
  await legacy.connect();
  step(1, 'The legacy database, shaped like the five seed write-ups.');
  await resetLegacy(legacy);
  const volumes = await createLegacyData(legacy);
  say(`   ${number(volumes.users)} auth users (seed 000/003), ${number(volumes.appStates)} JSONB app states with duplicates and some bad rows (seed 002),`);
  say(`   ${number(volumes.docs)} knowledge-base documents over ${volumes.tenants} tenants + versioned prompts (seed 000),`);
  say(`   ${number(volumes.memory)} memory nodes with 1024-d embeddings (seed 004), and a chat app's eight tables (seed 001).`);

  const targetUrl = await freshTargetDatabase();
  await resetKafka();
  const configFile = join(dir, 'tandem.yaml');
  writeFileSync(
    configFile,
    stringify({
      source: {
        url: process.env.TANDEM_SOURCE_URL,
        publication: 'tandem_quickstart',
        slot: SLOT,
        tables: [
          `${SCHEMAS.users}.auth_users`,
          `${SCHEMAS.appState}.user_app_state`,
          `${SCHEMAS.kb}.kb_documents`,
          `${SCHEMAS.kb}.system_prompts`,
          `${SCHEMAS.memory}.memory_nodes`,
          ...CHAT_TABLES.map((table) => `${SCHEMAS.chat}.${table}`),
        ],
        snapshot: { chunkSize: 5000, parallelism: 2 },
      },
      kafka: { brokers: process.env.TANDEM_KAFKA_BROKERS!.split(','), topicPrefix: PREFIX, partitions: 3 },
      target: { url: targetUrl },
      projections: [
        { recipe: 'users', sourceSchema: SCHEMAS.users },
        { recipe: 'app-state', sourceSchema: SCHEMAS.appState },
        { recipe: 'knowledge-base', sourceSchema: SCHEMAS.kb },
        { recipe: 'memory', sourceSchema: SCHEMAS.memory },
        { recipe: 'chat', sourceSchema: SCHEMAS.chat },
      ],
    }),
  );
  const config = loadConfig(configFile, {});

  step(2, `Capture starts (config: ${configFile}): a consistent snapshot of 13 tables, then the slot's stream.`);
  let mark = Date.now();
  const capture = new CaptureService(config, quiet);
  const capturing = capture.run();
  while (capture.status().role !== 'streaming') {
    if (capture.status().role === 'stopped') await capturing;
    await sleep(200);
  }
  say(`   Snapshot in Kafka after ${seconds(mark)}; now streaming every committed change, exactly once.`);

  step(3, 'Five projectors replay the log into the new database (one consumer group each).');
  mark = Date.now();
  const projector = new ProjectionService(config, quiet);
  await projector.start();
  await waitForCatchUp(projector);
  say(`   Caught up after ${seconds(mark)}.`);

  step(4, `The application keeps writing for ${LIVE_SECONDS} s while Tandem runs alongside.`);
  const writes = await liveLoad(legacy, LIVE_SECONDS * 1000);
  say(`   ${number(writes)} legacy transactions: renamed users, new app-state versions, edited documents, new memories, chat messages.`);
  await waitForCatchUp(projector);

  step(5, 'Children that overtook their parents (chat) are re-driven from quarantine.');
  const pool = targetPool(config);
  const deadLetters = new DeadLetterService(pool, PREFIX);
  const [chat] = projectionDefinitions(config, 'chat');
  const redriven = await deadLetters.redrive(chat, null);
  const still = (await deadLetters.list(null)).length;
  say(`   ${redriven.filter((r) => r.outcome === 'applied').length} applied; ${still} events stay quarantined, each with its reason (tandem dlq list).`);
  for (const entry of (await deadLetters.list(null)).slice(0, 3)) say(`     e.g. ${entry.projection}: ${entry.reason.slice(0, 110)}`);

  step(6, 'What the new database holds:');
  for (const [schema, table] of [
    ['users', 'users'],
    ['app_state', 'personas'],
    ['app_state', 'contents'],
    ['knowledge_base', 'docs'],
    ['memory', 'nodes'],
    ['chat', 'chat_messages'],
  ]) {
    const { rows } = await pool.query(`SELECT count(*)::int AS n FROM "${schema}"."${table}"`).catch(() => ({ rows: [{ n: 'n/a' }] }));
    say(`   ${`${schema}.${table}`.padEnd(28)} ${String(typeof rows[0].n === 'number' ? number(rows[0].n) : rows[0].n).padStart(8)} rows`);
  }
  const idMaps = await pool.query(`SELECT count(*)::int AS n FROM tandem.id_map`);
  say(`   tandem.id_map                ${number(idMaps.rows[0].n).padStart(8)} old id -> new id mappings`);
  await pool.end();

  step(7, 'Reconciliation: legacy vs new, compared inside both databases, as of one source LSN.');
  mark = Date.now();
  const reports = await new ReconciliationService(config, quiet).run();
  const reportDir = join(dir, 'reports');
  mkdirSync(reportDir, { recursive: true });
  for (const report of reports) {
    const base = join(reportDir, `reconciliation-${report.id}-${report.projection}`);
    writeFileSync(`${base}.json`, `${JSON.stringify(report, null, 2)}\n`);
    writeFileSync(`${base}.md`, renderMarkdown(report));
    writeFileSync(`${base}.html`, renderHtml(report));
    const rows = report.tables.reduce((sum, t) => sum + t.sourceCount, 0);
    const quarantined = report.tables.reduce((sum, t) => sum + t.quarantined, 0);
    say(`   ${report.projection.padEnd(15)} ${report.verdict}  ${number(rows).padStart(8)} legacy rows, mismatch ${(report.mismatchRatio * 100).toFixed(3)} %, ${quarantined} quarantined  (LSN ${report.sourceLsn})`);
  }
  say(`   ${reports.length} reports in ${seconds(mark)}: ${reportDir}/*.html`);

  await projector.stop();
  await capture.stop();
  await capturing;
  await legacy.end();
  say(`\nDone in ${seconds(started)}. Capture stopped at LSN ${capture.status().durableLsn}; a restart resumes exactly there.`);
  say(`Open the HTML reports in ${reportDir}, or run: npx tandem reconcile --config ${configFile} --report ${reportDir}`);
}

async function resetLegacy(legacy: Client): Promise<void> {
  await legacy.query(`SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1 AND NOT active`, [SLOT]);
  await legacy.query('DROP PUBLICATION IF EXISTS tandem_quickstart');
  for (const schema of Object.values(SCHEMAS)) await legacy.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  await legacy.query('DROP SCHEMA IF EXISTS demo CASCADE');
}

async function createLegacyData(legacy: Client) {
  await legacy.query(`CREATE SCHEMA ${SCHEMAS.users}`);
  await legacy.query(`CREATE TABLE ${SCHEMAS.users}.auth_users (id text PRIMARY KEY, email text NOT NULL, display_name text, instance_name text,
                      raw_user_meta_data jsonb, encrypted_password text, created_at timestamptz NOT NULL DEFAULT now())`);
  await legacy.query(`INSERT INTO ${SCHEMAS.users}.auth_users (id, email, display_name, raw_user_meta_data, encrypted_password)
                      SELECT md5('auth-user:' || g)::uuid::text, 'user' || g || '@example.com', CASE WHEN g % 4 <> 0 THEN 'User ' || g END,
                             jsonb_build_object('plan', CASE WHEN g % 5 = 0 THEN 'pro' ELSE 'free' END), '$2a$10$notarealhash'
                        FROM generate_series(1, 3500) g`);
  await legacy.query(`INSERT INTO ${SCHEMAS.users}.auth_users (id, email) VALUES ('legacy-42', 'broken-id@example.com'), (md5('bad')::uuid::text, 'not-an-email')`);
  await createLegacyAppState(legacy, SCHEMAS.appState);
  const appStates = await generateAppStates(legacy, SCHEMAS.appState, { users: 1500, duplicateRatio: 0.2, badRatio: 0.01, seed: 7 });
  await createLegacyKnowledgeBase(legacy, SCHEMAS.kb);
  const kb = await generateKnowledgeBase(legacy, SCHEMAS.kb, { tenants: 5, docs: 20000, seed: 7 });
  await createLegacyMemory(legacy, SCHEMAS.memory);
  const memory = await generateMemoryNodes(legacy, SCHEMAS.memory, { nodes: 10000, users: 200, tenants: 5, seed: 7 });
  await createLegacyChat(legacy, SCHEMAS.chat);
  await generateChat(legacy, SCHEMAS.chat, { users: 60, seed: 7, badRatio: 0.01 });
  return {
    users: 3502,
    appStates: appStates.rows,
    docs: Object.values(kb.docs).reduce((a, b) => a + b, 0),
    tenants: kb.tenantIds.length,
    memory: memory.inserted,
  };
}

/** A fresh target database on the target server for each run. */
async function freshTargetDatabase(): Promise<string> {
  const admin = new Client({ connectionString: process.env.TANDEM_TARGET_URL });
  await admin.connect();
  await admin.query(`DROP DATABASE IF EXISTS ${TARGET_DATABASE} WITH (FORCE)`);
  await admin.query(`CREATE DATABASE ${TARGET_DATABASE}`);
  await admin.end();
  const url = new URL(process.env.TANDEM_TARGET_URL!);
  url.pathname = `/${TARGET_DATABASE}`;
  const client = new Client({ connectionString: url.toString() });
  await client.connect();
  await client.query('CREATE EXTENSION IF NOT EXISTS vector');
  await client.end();
  return url.toString();
}

/** Each quickstart starts from empty topics and no stored capture position. */
async function resetKafka(): Promise<void> {
  const kafka = createKafka(process.env.TANDEM_KAFKA_BROKERS!.split(','), 'tandem-quickstart', createLogger('kafka', 'error'));
  const admin = kafka.admin();
  await admin.connect();
  const stale = (await admin.listTopics()).filter((topic) => topic.startsWith(`${PREFIX}.`) || topic === `__tandem_heartbeat.${PREFIX}`);
  if (stale.length > 0) await admin.deleteTopics({ topics: stale });
  const groups = (await admin.listGroups()).groups.map((g) => g.groupId).filter((id) => id.includes(`.${PREFIX}.`));
  if (groups.length > 0) await admin.deleteGroups(groups).catch(() => undefined);
  await admin.disconnect();
}

/** Waits until every projector has applied what Kafka holds (lag 0 twice in a row). */
async function waitForCatchUp(projector: ProjectionService): Promise<void> {
  let quietTicks = 0;
  while (quietTicks < 4) {
    await sleep(500);
    const statuses = projector.status();
    const lagging = statuses.some((s) => Object.values(s.lag).some((lag) => lag > 1) || (s.lastBatchAt !== null && Date.now() - s.lastBatchAt < 1500));
    quietTicks = lagging ? 0 : quietTicks + 1;
  }
}

async function liveLoad(legacy: Client, durationMs: number): Promise<number> {
  const until = Date.now() + durationMs;
  let writes = 0;
  while (Date.now() < until) {
    const i = writes++;
    switch (i % 5) {
      case 0:
        await legacy.query(`UPDATE ${SCHEMAS.users}.auth_users SET display_name = 'Renamed ' || $1::int WHERE email = 'user' || $1::int || '@example.com'`, [(i % 3500) + 1]);
        break;
      case 1:
        await legacy.query(
          `INSERT INTO ${SCHEMAS.appState}.user_app_state (user_id, updated_at, state)
           SELECT user_id, now(), state FROM ${SCHEMAS.appState}.user_app_state ORDER BY id LIMIT 1 OFFSET $1`,
          [i % 1000],
        );
        break;
      case 2:
        await legacy.query(
          `UPDATE ${SCHEMAS.kb}.kb_documents SET content = content || ' (revised)', updated_at = now()
            WHERE id = (SELECT id FROM ${SCHEMAS.kb}.kb_documents ORDER BY id LIMIT 1 OFFSET $1)`,
          [i % 20000],
        );
        break;
      case 3:
        await legacy.query(
          `INSERT INTO ${SCHEMAS.memory}.memory_nodes (user_id, content, embedding)
           SELECT user_id, 'A new memory ' || $1::int, embedding FROM ${SCHEMAS.memory}.memory_nodes WHERE user_id IS NOT NULL AND tenant_id IS NULL LIMIT 1`,
          [i],
        );
        break;
      default:
        await legacy.query(
          `INSERT INTO ${SCHEMAS.chat}.chat_messages (conversation_id, user_id, role, content, token_count)
           SELECT id, user_id, 'user', 'Live question ' || $1::int, 12 FROM ${SCHEMAS.chat}.conversations ORDER BY id LIMIT 1 OFFSET $2`,
          [i, i % 50],
        );
    }
  }
  return writes;
}

/** The chat recipe encrypts OAuth tokens at rest; the demo keeps its own key under .tandem/. */
function demoTokenKey(dir: string): string {
  const file = join(dir, 'token.key');
  if (!existsSync(file)) writeFileSync(file, randomBytes(32).toString('hex'), { mode: 0o600 });
  return readFileSync(file, 'utf8').trim();
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

main().then(
  () => process.exit(0),
  (error: Error) => {
    process.stderr.write(`quickstart failed: ${error.message}\n`);
    process.exit(1);
  },
);
