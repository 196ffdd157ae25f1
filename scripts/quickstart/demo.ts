/**
 * The quickstart: a legacy database shaped like the five seeds, captured into Kafka and projected
 * into a new database by the five recipes while the "application" keeps writing, then reconciled.
 * It reads like the story of a migration; `npm run quickstart` runs it on the local services.
 */
import { randomBytes } from 'crypto';
import { spawn } from 'child_process';
import { existsSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'fs';
import { join } from 'path';
import { Client } from 'pg';
import { stringify } from 'yaml';
import { loadConfig } from '../../src/modules/config/load-config';
import { CaptureService } from '../../src/modules/capture/capture.service';
import { ProjectionService, projectionDefinitions } from '../../src/modules/projection/projection.service';
import { targetPool } from '../../src/modules/core/target-pool';
import { DeadLetterService } from '../../src/modules/projection/dead-letter.service';
import { ReconciliationService } from '../../src/modules/reconciliation/reconciliation.service';
import { closingNotes } from './closing-notes';
import { renderHtml, renderMarkdown } from '../../src/modules/reconciliation/reconciliation-report';
import { createKafka } from '../../src/connectors/kafka/kafka-client';
import { loadCheckpoints } from '../../src/connectors/postgres-target/checkpoint-store';
import { lagging } from '../../src/modules/cutover/drain-gate';
import type { PartitionEnd } from '../../src/contracts/positions';
import { sourcesOf } from '../../src/projections/framework/define-projection';
import type { TandemConfig } from '../../src/modules/config/config.schema';
import { createLogger } from '../../src/shared/logger';
import { createLegacyAppState, generateAppStates } from '../../demo/app-state';
import { createLegacyKnowledgeBase, generateKnowledgeBase } from '../../demo/knowledge-base';
import { createLegacyMemory, generateMemoryNodes } from '../../demo/memory';
import { createLegacyChat, generateChat } from '../../demo/chat';

const PREFIX = 'quickstart';
const SLOT = 'tandem_quickstart';
const TARGET_DATABASE = 'tandem_quickstart';
const LIVE_SECONDS = Number(process.env.QUICKSTART_LIVE_SECONDS ?? 15);
const CHAT_TABLES = [
  'users',
  'file_metadata',
  'document_chunks',
  'conversations',
  'chat_messages',
  'oauth_tokens',
  'usage_logs',
  'user_settings',
];
const SCHEMAS = {
  users: 'legacy_auth',
  appState: 'legacy_app',
  kb: 'legacy_kb',
  memory: 'legacy_memory',
  chat: 'legacy_chat',
};

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
  say(
    `   ${number(volumes.users)} auth users (seed 000/003), ${number(volumes.appStates)} JSONB app states with duplicates and some bad rows (seed 002),`,
  );
  say(
    `   ${number(volumes.docs)} knowledge-base documents over ${volumes.tenants} tenants + versioned prompts (seed 000),`,
  );
  say(
    `   ${number(volumes.memory)} memory nodes with 1024-d embeddings (seed 004), and a chat app's eight tables (seed 001).`,
  );

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

  const statusPage = await startStatusPage(dir, configFile);
  say(`\n   Watch it live: ${statusPage.url} (tandem serve; the viewer token is in the link)`);

  step(
    2,
    `Capture starts (config: ${configFile}): a consistent snapshot of 13 tables, then the slot's stream.`,
  );
  let mark = Date.now();
  const capture = new SupervisedCapture(config);
  await capture.untilStreaming();
  say(`   Snapshot in Kafka after ${seconds(mark)}; now streaming every committed change, exactly once.`);

  step(3, 'Five projectors replay the log into the new database (one consumer group each).');
  mark = Date.now();
  const projector = new ProjectionService(config, quiet);
  await projector.start();
  const caughtUp = await waitForCatchUp(config);
  say(`   Caught up after ${seconds(mark)} (${describeCatchUp(caughtUp)}).`);

  step(4, `The application keeps writing for ${LIVE_SECONDS} s while Tandem runs alongside.`);
  const writes = await liveLoad(legacy, LIVE_SECONDS * 1000);
  say(
    `   ${number(writes)} legacy transactions: renamed users, new app-state versions, edited documents, new memories, chat messages.`,
  );
  await waitForCatchUp(config);

  step(5, 'Children that overtook their parents (chat) were applied by the projector once their parents arrived.');
  const pool = targetPool(config);
  const deadLetters = new DeadLetterService(pool, PREFIX);
  const applied = (await deadLetters.list(null, true)).filter((entry) => entry.status === 'redriven').length;
  const still = (await deadLetters.list(null)).length;
  say(
    `   ${applied} applied from quarantine without a re-drive; ${still} events stay quarantined (invalid rows and their children), each with its reason (tandem dlq list).`,
  );
  for (const entry of (await deadLetters.list(null)).slice(0, 3))
    say(`     e.g. ${entry.projection}: ${entry.reason.slice(0, 110)}`);

  step(6, 'What the new database holds:');
  for (const [schema, table] of [
    ['users', 'users'],
    ['app_state', 'personas'],
    ['app_state', 'contents'],
    ['knowledge_base', 'docs'],
    ['memory', 'nodes'],
    ['chat', 'chat_messages'],
  ]) {
    const { rows } = await pool
      .query(`SELECT count(*)::int AS n FROM "${schema}"."${table}"`)
      .catch(() => ({ rows: [{ n: 'n/a' }] }));
    say(
      `   ${`${schema}.${table}`.padEnd(28)} ${String(typeof rows[0].n === 'number' ? number(rows[0].n) : rows[0].n).padStart(8)} rows`,
    );
  }
  const idMaps = await pool.query(`SELECT count(*)::int AS n FROM tandem.id_map`);
  say(`   tandem.id_map                ${number(idMaps.rows[0].n).padStart(8)} old id -> new id mappings`);
  await pool.end();

  step(7, 'Reconciliation: legacy vs new, compared inside both databases, as of one source LSN.');
  mark = Date.now();
  // The demo's legacy data holds bad rows on purpose: they are quarantined, and accepted here (recorded in each report).
  const reports = await new ReconciliationService(config, quiet).run({ acceptQuarantined: true });
  const reportDir = join(dir, 'reports');
  mkdirSync(reportDir, { recursive: true });
  for (const report of reports) {
    const base = join(reportDir, `reconciliation-${report.id}-${report.projection}`);
    writeFileSync(`${base}.json`, `${JSON.stringify(report, null, 2)}\n`);
    writeFileSync(`${base}.md`, renderMarkdown(report));
    writeFileSync(`${base}.html`, renderHtml(report));
    const rows = report.tables.reduce((sum, t) => sum + t.sourceCount, 0);
    say(
      `   ${report.projection.padEnd(15)} ${report.verdict}  ${number(rows).padStart(8)} legacy rows, mismatch ${(report.mismatchRatio * 100).toFixed(3)} %, ${report.quarantined.total} quarantined (accepted)  (LSN ${report.sourceLsn})`,
    );
  }
  say(`   ${reports.length} reports in ${seconds(mark)}: ${reportDir}/*.html`);

  await projector.stop();
  const durableLsn = await capture.stop();
  const [slot] = (
    await legacy.query<{ retained: string | null }>(
      `SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)::bigint AS retained FROM pg_replication_slots WHERE slot_name = $1`,
      [SLOT],
    )
  ).rows;
  await legacy.end();
  say(
    `\nDone in ${seconds(started)}. Capture stopped at LSN ${durableLsn}; a restart resumes exactly there.`,
  );
  const notes = closingNotes({
    configFile,
    reportDir,
    keyFile: tokenKeyFile(dir),
    slot: SLOT,
    retainedWalBytes: slot ? Number(slot.retained ?? 0) : null,
  });
  for (const line of notes) say(line);
  say(`The status page stays up: ${statusPage.url}`);
  say(`  (viewer token ${statusPage.token}; stop it with: kill $(cat ${statusPage.pidFile}))`);
}

async function resetLegacy(legacy: Client): Promise<void> {
  await legacy.query(
    `SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1 AND NOT active`,
    [SLOT],
  );
  await legacy.query('DROP PUBLICATION IF EXISTS tandem_quickstart');
  for (const schema of Object.values(SCHEMAS))
    await legacy.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
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
  await legacy.query(
    `INSERT INTO ${SCHEMAS.users}.auth_users (id, email) VALUES ('legacy-42', 'broken-id@example.com'), (md5('bad')::uuid::text, 'not-an-email')`,
  );
  await createLegacyAppState(legacy, SCHEMAS.appState);
  const appStates = await generateAppStates(legacy, SCHEMAS.appState, {
    users: 1500,
    duplicateRatio: 0.2,
    badRatio: 0.01,
    seed: 7,
  });
  await createLegacyKnowledgeBase(legacy, SCHEMAS.kb);
  const kb = await generateKnowledgeBase(legacy, SCHEMAS.kb, { tenants: 5, docs: 20000, seed: 7 });
  await createLegacyMemory(legacy, SCHEMAS.memory);
  const memory = await generateMemoryNodes(legacy, SCHEMAS.memory, {
    nodes: 10000,
    users: 200,
    tenants: 5,
    seed: 7,
  });
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

/**
 * Capture as a supervisor would run it: when it stops on an error (e.g. the source dropped its
 * replication connection), it is started again and resumes from its last acknowledged position.
 */
class SupervisedCapture {
  private current: CaptureService;
  private running: Promise<void>;
  private stopping = false;

  constructor(private readonly config: TandemConfig) {
    [this.current, this.running] = this.start();
  }

  private start(): [CaptureService, Promise<void>] {
    const capture = new CaptureService(this.config, quiet);
    const running = capture.run().catch(async (error: Error) => {
      if (this.stopping) return;
      say(`   (capture stopped: ${error.message}; restarting it, it resumes at its last acknowledged LSN)`);
      await sleep(1000);
      [this.current, this.running] = this.start();
      await this.running;
    });
    return [capture, running];
  }

  async untilStreaming(): Promise<void> {
    while (this.current.status().role !== 'streaming') await sleep(200);
  }

  /** Stops capture; returns the LSN it acknowledged last. */
  async stop(): Promise<string | null> {
    this.stopping = true;
    await this.current.stop();
    await this.running;
    return this.current.status().durableLsn;
  }
}

/** Each quickstart starts from empty topics and no stored capture position. */
async function resetKafka(): Promise<void> {
  const kafka = createKafka(
    { brokers: process.env.TANDEM_KAFKA_BROKERS!.split(',') },
    'tandem-quickstart',
    createLogger('kafka', 'error'),
  );
  const admin = kafka.admin();
  await admin.connect();
  const stale = (await admin.listTopics()).filter(
    (topic) => topic.startsWith(`${PREFIX}.`) || topic === `__tandem_heartbeat.${PREFIX}`,
  );
  if (stale.length > 0) await admin.deleteTopics({ topics: stale });
  const groups = (await admin.listGroups()).groups
    .map((g) => g.groupId)
    .filter((id) => id.includes(`.${PREFIX}.`));
  if (groups.length > 0) await admin.deleteGroups(groups).catch(() => undefined);
  await admin.disconnect();
}

/**
 * Waits until every projection's checkpoint (in the target database) has passed the end of its
 * topics in Kafka; returns, per projection, the seconds it took to get there.
 */
async function waitForCatchUp(config: TandemConfig): Promise<Map<string, number>> {
  const started = Date.now();
  const admin = createKafka(config.kafka, 'tandem-quickstart', quiet).admin();
  await admin.connect();
  const pool = targetPool(config);
  const caughtUp = new Map<string, number>();
  try {
    const definitions = projectionDefinitions(config);
    while (caughtUp.size < definitions.length) {
      await sleep(500);
      for (const definition of definitions) {
        const ends: PartitionEnd[] = [];
        for (const source of sourcesOf(definition)) {
          const topic = `${config.kafka.topicPrefix}.${source}`;
          for (const o of await admin.fetchTopicOffsets(topic))
            ends.push({ topic, partition: o.partition, low: BigInt(o.low), end: BigInt(o.high) });
        }
        if (lagging(ends, await loadCheckpoints(pool, definition.name)).length > 0)
          caughtUp.delete(definition.name);
        else if (!caughtUp.has(definition.name)) caughtUp.set(definition.name, (Date.now() - started) / 1000);
      }
    }
  } finally {
    await admin.disconnect();
    await pool.end();
  }
  return caughtUp;
}

/** "users 12.0 s, app-state 40.2 s, …" */
function describeCatchUp(caughtUp: Map<string, number>): string {
  return [...caughtUp].map(([projection, s]) => `${projection} ${s.toFixed(1)} s`).join(', ');
}

async function liveLoad(legacy: Client, durationMs: number): Promise<number> {
  const until = Date.now() + durationMs;
  let writes = 0;
  while (Date.now() < until) {
    const i = writes++;
    switch (i % 5) {
      case 0:
        await legacy.query(
          `UPDATE ${SCHEMAS.users}.auth_users SET display_name = 'Renamed ' || $1::int WHERE email = 'user' || $1::int || '@example.com'`,
          [(i % 3500) + 1],
        );
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

/**
 * `tandem serve` for the status page, detached so that it outlives the quickstart (the last run's
 * server is stopped first). Listens on any free port; its log line tells which.
 */
async function startStatusPage(
  dir: string,
  configFile: string,
): Promise<{ url: string; token: string; pidFile: string }> {
  const pidFile = join(dir, 'serve.pid');
  if (existsSync(pidFile)) {
    try {
      process.kill(Number(readFileSync(pidFile, 'utf8')), 'SIGTERM');
    } catch {
      // already gone
    }
  }
  const token = randomBytes(16).toString('hex');
  const logFile = join(dir, 'serve.log');
  const port = process.env.QUICKSTART_PORT ?? '0';
  const child = spawn(
    process.execPath,
    [join(process.cwd(), 'bin', 'tandem.js'), 'serve', '--config', configFile, '--port', port],
    {
      env: serveEnvironment(token),
      stdio: ['ignore', openSync(logFile, 'w'), openSync(logFile, 'a')],
      detached: true,
    },
  );
  child.unref();
  writeFileSync(pidFile, String(child.pid));
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline && child.exitCode === null) {
    const bound = /admin API and status page on (http:\/\/[^"\s]+)/.exec(readFileSync(logFile, 'utf8'));
    if (bound) return { url: `${bound[1]}#token=${token}`, token, pidFile };
    await sleep(200);
  }
  throw new Error(`tandem serve did not start; see ${logFile}`);
}

/**
 * The quickstart's server reads the quickstart's config file alone (the TANDEM_* connection
 * variables would override it) and knows one token, a viewer's.
 */
function serveEnvironment(viewerToken: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, TANDEM_VIEWER_TOKEN: viewerToken };
  for (const name of [
    'TANDEM_SOURCE_URL',
    'TANDEM_TARGET_URL',
    'TANDEM_KAFKA_BROKERS',
    'TANDEM_ADMIN_TOKENS',
    'TANDEM_OPERATOR_TOKEN',
  ])
    delete env[name];
  return env;
}

/** The chat recipe encrypts OAuth tokens at rest; the demo keeps its own key under .tandem/. */
const tokenKeyFile = (dir: string) => join(dir, 'token.key');

function demoTokenKey(dir: string): string {
  const file = tokenKeyFile(dir);
  if (!existsSync(file)) writeFileSync(file, randomBytes(32).toString('hex'), { mode: 0o600 });
  return readFileSync(file, 'utf8').trim();
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

// A connection the source closes under us must not end the story: each service handles its own errors.
process.on('unhandledRejection', (error) => say(`   (warning: ${(error as Error).message})`));

main().then(
  () => process.exit(0),
  (error: Error) => {
    process.stderr.write(`quickstart failed: ${error.message}\n`);
    process.exit(1);
  },
);
