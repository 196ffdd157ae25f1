/**
 * The quickstart: a small legacy database shaped like the seeds (users and a JSONB app state per
 * user), captured into Kafka while the "application" keeps writing, then the events per topic.
 */
import { mkdirSync, writeFileSync } from 'fs';
import { join } from 'path';
import { Client } from 'pg';
import { stringify } from 'yaml';
import { loadConfig } from '../../src/modules/config/load-config';
import { CaptureService } from '../../src/modules/capture/capture.service';
import { createLogger } from '../../src/shared/logger';
import { createKafka } from '../../src/connectors/kafka/kafka-client';
import { readTopics } from '../../test/support/kafka-reader';

const PREFIX = 'quickstart';
const SLOT = 'tandem_quickstart';
const say = (line: string) => process.stdout.write(`${line}\n`);

async function main(): Promise<void> {
  const sourceUrl = process.env.TANDEM_SOURCE_URL!;
  const legacy = new Client({ connectionString: sourceUrl });
  await legacy.connect();

  say('1. The legacy database: users and one JSONB app state per user (with duplicates, as in seed 002).');
  await legacy.query(`SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1 AND NOT active`, [SLOT]);
  await legacy.query(`DROP SCHEMA IF EXISTS demo CASCADE; CREATE SCHEMA demo`);
  await legacy.query(`CREATE TABLE demo.users (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), email text NOT NULL, display_name text, created_at timestamptz NOT NULL DEFAULT now())`);
  await legacy.query(`CREATE TABLE demo.user_app_state (id bigserial PRIMARY KEY, user_id text NOT NULL, updated_at timestamptz NOT NULL DEFAULT now(), state jsonb NOT NULL)`);
  await legacy.query(`INSERT INTO demo.users (email, display_name) SELECT 'user' || g || '@example.com', CASE WHEN g % 3 = 0 THEN NULL ELSE 'User ' || g END FROM generate_series(1, 2000) g`);
  await legacy.query(`INSERT INTO demo.user_app_state (user_id, state)
    SELECT 'user-' || (g % 1500), jsonb_build_object('orgs', jsonb_build_array(jsonb_build_object('id', 'org-' || g, 'name', 'Org ' || g)),
           'personas', jsonb_build_array(jsonb_build_object('id', 'p-' || g, 'orgId', 'org-' || g, 'name', 'Persona ' || g)))
      FROM generate_series(1, 2000) g`);
  say('   2,000 users and 2,000 app-state rows (500 of them duplicates of an older state).');

  await resetKafka();
  const dir = join(process.cwd(), '.tandem', 'quickstart');
  mkdirSync(dir, { recursive: true });
  const configFile = join(dir, 'tandem.yaml');
  writeFileSync(
    configFile,
    stringify({
      source: { url: sourceUrl, publication: 'tandem_quickstart', slot: SLOT, tables: ['demo.users', 'demo.user_app_state'] },
      kafka: { brokers: process.env.TANDEM_KAFKA_BROKERS!.split(','), topicPrefix: PREFIX, partitions: 3 },
    }),
  );
  say(`\n2. Capture starts (config: ${configFile}): it snapshots both tables, then streams the slot.`);
  const capture = new CaptureService(loadConfig(configFile), createLogger('tandem', 'warn'));
  const running = capture.run();
  while (capture.status().role !== 'streaming') await new Promise((resolve) => setTimeout(resolve, 100));
  say('   Snapshot done; streaming.');

  say('\n3. The application keeps writing: a sign-up, a renamed user, a deleted user, and a new app state.');
  await legacy.query(`INSERT INTO demo.users (email, display_name) VALUES ('newcomer@example.com', 'Newcomer')`);
  await legacy.query(`UPDATE demo.users SET display_name = 'Renamed' WHERE email = 'user1@example.com'`);
  await legacy.query(`DELETE FROM demo.users WHERE email = 'user2@example.com'`);
  await legacy.query(`INSERT INTO demo.user_app_state (user_id, state) VALUES ('user-7', '{"orgs": [], "personas": []}')`);

  const kafka = createKafka(process.env.TANDEM_KAFKA_BROKERS!.split(','), 'tandem-quickstart', createLogger('kafka', 'error'));
  const topics = [`${PREFIX}.demo.users`, `${PREFIX}.demo.user_app_state`, `${PREFIX}.transaction`];
  const records = await readTopics(kafka, topics, (all) => all.filter((r) => r.topic === topics[1]).length >= 2001, { settleMs: 1000 });
  await capture.stop();
  await running;

  say('\n4. What Kafka now holds (read_committed):');
  for (const topic of topics) {
    const mine = records.filter((r) => r.topic === topic);
    const ops = new Map<string, number>();
    for (const r of mine) {
      const op = r.value === null ? 'tombstone' : (r.value.op ?? r.value.status);
      ops.set(op, (ops.get(op) ?? 0) + 1);
    }
    say(`   ${topic.padEnd(32)} ${String(mine.length).padStart(5)} records  (${[...ops].map(([op, n]) => `${op}: ${n}`).join(', ')})`);
  }
  const update = records.find((r) => r.topic === topics[0] && r.value?.op === 'u');
  say('\n   The rename, as a Debezium-compatible change event:');
  say(JSON.stringify(update?.value, null, 2).split('\n').map((line) => `     ${line}`).join('\n'));
  say(`\n5. Capture stopped cleanly at LSN ${capture.status().durableLsn}; a restart resumes exactly there.`);
  await legacy.end();
}

/** Each quickstart starts from empty topics and no stored position. */
async function resetKafka(): Promise<void> {
  const kafka = createKafka(process.env.TANDEM_KAFKA_BROKERS!.split(','), 'tandem-quickstart', createLogger('kafka', 'error'));
  const admin = kafka.admin();
  await admin.connect();
  const stale = (await admin.listTopics()).filter((topic) => topic.startsWith(`${PREFIX}.`) || topic === `__tandem_heartbeat.${PREFIX}`);
  if (stale.length > 0) await admin.deleteTopics({ topics: stale });
  await admin.deleteGroups([`tandem-capture-position.${PREFIX}.${SLOT}`]).catch(() => undefined);
  await admin.disconnect();
}

main().then(
  () => process.exit(0),
  (error: Error) => {
    process.stderr.write(`quickstart failed: ${error.message}\n`);
    process.exit(1);
  },
);
