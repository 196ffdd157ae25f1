/**
 * What one of capture's Kafka transactions costs, by the records it carries (not a test). Commits
 * `--commits` transactions of each size through TransactionalProducer, as capture does: records of
 * about a backfill row's size spread over 3 partitions, and a position record whose offset is
 * committed for a group in the same transaction. Prints the median and p90 commit time and the
 * requests each commit sent (kafkajs's request events, in order, with the median of each kind).
 *
 *   node -r ts-node/register/transpile-only bench/backfill/commit-cost.ts [--sizes 1,100,1000,5000] [--commits 21]
 */
import { loadavg } from 'os';
import { Kafka, logLevel } from '../../src/connectors/kafka/kafkajs';
import { TransactionalProducer } from '../../src/connectors/kafka/transactional-producer';
import { CHANGE_TOPIC_CONFIG, COMPACTED_TOPIC_CONFIG, ensureTopics } from '../../src/connectors/kafka/topic-admin';
import { arg } from '../cli-args';

const sizes = arg('sizes', '1,100,1000,5000').split(',').map(Number);
const commits = Number(arg('commits', '21'));

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];

async function main() {
  const kafka = new Kafka({ clientId: 'commit-cost', brokers: process.env.TANDEM_KAFKA_BROKERS!.split(','), logLevel: logLevel.NOTHING });
  const id = Date.now().toString(36);
  const topic = `commit_cost_${id}`;
  const state = `commit_cost_state_${id}`;
  await ensureTopics(kafka, [{ topic, partitions: 3, config: CHANGE_TOPIC_CONFIG }, { topic: state, partitions: 1, config: COMPACTED_TOPIC_CONFIG }], 1);
  const producer = new TransactionalProducer(kafka, `commit_cost_${id}`);
  await producer.connect();
  const requests: Array<{ api: string; ms: number }> = [];
  const inner = (producer as any).producer;
  inner.on(inner.events.REQUEST, (e: { payload: { apiName: string; duration: number } }) => requests.push({ api: e.payload.apiName, ms: e.payload.duration }));
  const value = JSON.stringify({ before: null, after: { id: 1, amount: 12345, note: 'x'.repeat(60), created_at: '2024-01-01T00:00:00Z' }, source: { version: '1', connector: 'postgresql', snapshot: 'incremental', lsn: 123456789 }, op: 'r', ts_ms: 1 });
  process.stdout.write(`| records | commit median | p90 | requests per commit (median ms each) | load |\n| --- | --- | --- | --- | --- |\n`);
  for (const size of sizes) {
    const times: number[] = [];
    let sequence = '';
    const byApi = new Map<string, number[]>();
    for (let i = 0; i < commits; i++) {
      const records = Array.from({ length: size }, (_, k) => ({ topic, key: String(k * 7919 + i), value }));
      requests.length = 0;
      const started = Date.now();
      await producer.commit(records, { topic: state, key: 'state', value: 'x'.repeat(2000), groupId: `commit_cost_${id}` });
      times.push(Date.now() - started);
      sequence = requests.map((r) => r.api).join(', ');
      for (const r of requests) byApi.set(r.api, [...(byApi.get(r.api) ?? []), r.ms]);
    }
    times.sort((a, b) => a - b);
    const each = [...byApi].map(([api, ms]) => `${api} ${percentile(ms.sort((a, b) => a - b), 50)}`).join(', ');
    process.stdout.write(`| ${size} | ${percentile(times, 50)} ms | ${percentile(times, 90)} ms | ${sequence.split(', ').length}: ${each} | ${loadavg()[0].toFixed(1)} |\n`);
  }
  await producer.disconnect();
  const admin = kafka.admin();
  await admin.connect();
  await admin.deleteTopics({ topics: [topic, state] }).catch(() => undefined);
  await admin.disconnect();
  process.exit(0);
}

main().catch((error) => {
  process.stderr.write(`${error.stack ?? error}\n`);
  process.exit(1);
});
