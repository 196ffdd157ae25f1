import { readFileSync } from 'fs';
import { resolve } from 'path';
import type { Kafka } from 'kafkajs';
import { captureNames } from '../../src/contracts/names';
import { SOAK_KAFKA, startSoakKafka } from './soak-services';

/**
 * Faults of the soak's three-broker Kafka cluster (`npm run soak -- --cluster`): kill -9 of the
 * broker that leads the change topic's partitions, of the capture's transaction coordinator, and a
 * rolling restart of every broker. Each waits until every partition is fully replicated again, as
 * an operator would, before it returns.
 */
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const nodePidFile = (node: number) => resolve(SOAK_KAFKA.dir, 'kafka-cluster', `node${node}`, 'kafka.pid');

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function stopNode(node: number, signal: 'SIGKILL' | 'SIGTERM'): Promise<void> {
  const pid = Number(readFileSync(nodePidFile(node), 'utf8').trim());
  process.kill(pid, signal);
  const deadline = Date.now() + (signal === 'SIGKILL' ? 10_000 : 90_000);
  while (alive(pid) && Date.now() < deadline) await sleep(100);
  if (alive(pid)) throw new Error(`Kafka node ${node} (pid ${pid}) did not exit after ${signal}`);
}

/** The node that leads most partitions of `topic`. */
export async function leaderOf(kafka: Kafka, topic: string): Promise<number> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const { topics } = await admin.fetchTopicMetadata({ topics: [topic] });
    const counts = new Map<number, number>();
    for (const partition of topics[0].partitions)
      counts.set(partition.leader, (counts.get(partition.leader) ?? 0) + 1);
    return [...counts].sort((a, b) => b[1] - a[1])[0][0];
  } finally {
    await admin.disconnect();
  }
}

/** Java's String.hashCode, then Kafka's Utils.abs: how a transactional id picks its coordinator's partition. */
export function transactionStatePartition(transactionalId: string, partitions = 50): number {
  let hash = 0;
  for (let i = 0; i < transactionalId.length; i++) hash = (Math.imul(hash, 31) + transactionalId.charCodeAt(i)) | 0;
  const abs = hash === -2147483648 ? 0 : Math.abs(hash);
  return abs % partitions;
}

/** The broker that coordinates capture's Kafka transactions (leads its __transaction_state partition). */
export async function transactionCoordinatorOf(kafka: Kafka, topicPrefix: string, slot: string): Promise<number> {
  const { transactionalId } = captureNames(topicPrefix, slot);
  const admin = kafka.admin();
  await admin.connect();
  try {
    const { topics } = await admin.fetchTopicMetadata({ topics: ['__transaction_state'] });
    const partition = transactionStatePartition(transactionalId, topics[0].partitions.length);
    return topics[0].partitions.find((p) => p.partitionId === partition)!.leader;
  } finally {
    await admin.disconnect();
  }
}

/** Waits until every partition of every topic has its whole replica set in sync again. */
export async function waitFullyReplicated(kafka: Kafka, timeoutMs = 180_000): Promise<number> {
  const started = Date.now();
  const admin = kafka.admin();
  await admin.connect();
  try {
    for (;;) {
      const { topics } = await admin.fetchTopicMetadata({ topics: await admin.listTopics() });
      const lagging = topics.flatMap((t) => t.partitions).filter((p) => p.isr.length < p.replicas.length);
      if (lagging.length === 0) return Date.now() - started;
      if (Date.now() - started > timeoutMs)
        throw new Error(`${lagging.length} partitions still under-replicated after ${timeoutMs / 1000} s`);
      await sleep(1000);
    }
  } finally {
    await admin.disconnect();
  }
}

/** kill -9 of one node, a pause, then `services.sh start` brings it back. */
export async function killAndRestartNode(node: number, pauseMs: number): Promise<void> {
  await stopNode(node, 'SIGKILL');
  await sleep(pauseMs);
  await startSoakKafka();
}

/** Each node in turn: SIGTERM (controlled shutdown), start, wait until fully replicated. */
export async function rollingRestart(kafka: Kafka, log: (m: string) => void): Promise<void> {
  for (let node = 1; node <= SOAK_KAFKA.nodes; node++) {
    await stopNode(node, 'SIGTERM');
    await startSoakKafka();
    const ms = await waitFullyReplicated(kafka);
    log(`rolling restart: node ${node} back, fully replicated ${(ms / 1000).toFixed(1)} s later`);
  }
}
