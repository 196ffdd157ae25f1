/** Helpers of the projection benchmark: the projector process, topic ends, PostgreSQL backend CPU, psql COPY, clean-up. */
import { execFileSync, spawn } from 'child_process';
import { randomUUID } from 'crypto';
import { readFileSync, statSync } from 'fs';
import { join } from 'path';
import { Client } from 'pg';
import type { Kafka } from 'kafkajs';
import { env, sql } from '../../test/support/services';
import { PG_BIN, TandemChild, log, procStats, seconds, sleep, type ProcStats } from '../capture/support';

export const quoteIdent = (name: string) => `"${name.replace(/"/g, '""')}"`;

/** The environment without the TANDEM_* service addresses: the config file written for a part holds them all. */
export function withoutServiceAddresses(): NodeJS.ProcessEnv {
  const copy = { ...process.env };
  delete copy.TANDEM_SOURCE_URL;
  delete copy.TANDEM_TARGET_URL;
  delete copy.TANDEM_KAFKA_BROKERS;
  return copy;
}

/** `tandem project --projection <name>`, timed from spawn to "projectors running". */
export class Projector extends TandemChild {
  constructor(configFile: string, projection: string, nodeOptions: string[] = []) {
    super(
      ['project', '--config', configFile, '--projection', projection],
      'projectors running',
      nodeOptions,
      withoutServiceAddresses(),
    );
  }

  get runningAt(): number {
    return this.readyAt;
  }

  get atRunning(): ProcStats | null {
    return this.atReady;
  }
}

/**
 * A read_committed consumer of one topic from its beginning: counts the records and keeps the last
 * offset of each partition (what the projector's checkpoints must reach).
 */
export class TopicEnds {
  count = 0;
  bytes = 0;
  readonly lastOffsets = new Map<number, bigint>();
  private readonly groupId = `tandem-bench-${randomUUID()}`;
  private readonly consumer;

  private constructor(
    private readonly kafka: Kafka,
    readonly topic: string,
  ) {
    this.consumer = kafka.consumer({
      groupId: this.groupId,
      readUncommitted: false,
      maxWaitTimeInMs: 100,
      maxBytes: 64 << 20,
      maxBytesPerPartition: 16 << 20,
    });
  }

  static async start(kafka: Kafka, topic: string): Promise<TopicEnds> {
    const ends = new TopicEnds(kafka, topic);
    await ends.consumer.connect();
    await ends.consumer.subscribe({ topic, fromBeginning: true });
    await ends.consumer.run({
      autoCommit: false,
      eachBatch: async ({ batch }) => {
        for (const message of batch.messages) {
          ends.count++;
          ends.bytes += message.value?.length ?? 0;
          const offset = BigInt(message.offset);
          if (offset > (ends.lastOffsets.get(batch.partition) ?? -1n))
            ends.lastOffsets.set(batch.partition, offset);
        }
      },
    });
    return ends;
  }

  /** Waits until `n` records were read; fails when it stalls for `stallMs` or `alive()` turns false. */
  async waitFor(n: number, alive: () => boolean, describe: () => string, stallMs = 180_000): Promise<void> {
    let last = this.count;
    let progressAt = Date.now();
    while (this.count < n) {
      await sleep(100);
      if (this.count !== last) [last, progressAt] = [this.count, Date.now()];
      if (!alive())
        throw new Error(`capture exited with ${this.count}/${n} records in ${this.topic}:\n${describe()}`);
      if (Date.now() - progressAt > stallMs)
        throw new Error(
          `no progress for ${stallMs / 1000} s at ${this.count}/${n} records in ${this.topic}:\n${describe()}`,
        );
    }
    if (this.count > n) throw new Error(`${this.count} records in ${this.topic}, expected ${n}`);
  }

  async stop(): Promise<void> {
    await this.consumer.disconnect();
    const admin = this.kafka.admin();
    await admin.connect();
    await admin.deleteGroups([this.groupId]).catch(() => undefined);
    await admin.disconnect();
  }
}

/**
 * CPU seconds (utime + stime from /proc) of the PostgreSQL backends of one database and application
 * name, sampled while they run: the last value seen per backend, summed. PostgreSQL runs on this
 * machine, so its backends' /proc entries are readable.
 */
export class BackendCpu {
  private readonly cpu = new Map<number, number>();

  constructor(
    private readonly client: Client,
    private readonly database: string,
    private readonly applicationName: string,
  ) {}

  async sample(): Promise<void> {
    const { rows } = await this.client.query<{ pid: number }>(
      `SELECT pid FROM pg_stat_activity WHERE datname = $1 AND application_name = $2 AND pid <> pg_backend_pid()`,
      [this.database, this.applicationName],
    );
    for (const { pid } of rows) {
      try {
        this.cpu.set(pid, procStats(pid).cpuSeconds);
      } catch {
        // the backend ended between the query and the read
      }
    }
  }

  get seconds(): number {
    return [...this.cpu.values()].reduce((sum, value) => sum + value, 0);
  }

  get backends(): number {
    return this.cpu.size;
  }
}

/** A URL of the local cluster for `database`. */
export function databaseUrl(database: string): string {
  const url = new URL(env.targetUrl());
  url.pathname = `/${database}`;
  return url.toString();
}

/** Runs psql with a script on stdin; resolves with its stderr (where \warn markers go) or fails with it. */
export function psql(url: string, script: string, onStderr?: (text: string) => void): Promise<string> {
  const child = spawn(join(PG_BIN, 'psql'), ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', url], {
    stdio: ['pipe', 'ignore', 'pipe'],
    env: { ...process.env, PGAPPNAME: 'psql' },
  });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
    onStderr?.(stderr);
  });
  child.stdin.end(script);
  return new Promise((resolve, reject) =>
    child.on('exit', (code) =>
      code === 0 ? resolve(stderr) : reject(new Error(`psql exited ${code}: ${stderr.slice(-2000)}`)),
    ),
  );
}

/** A table of the target: its qualified name, what selects its rows, and the file they are copied through. */
export interface CopyTable {
  name: string;
  qualified: string;
  select: string;
  rows: number;
  file: string;
}

/**
 * The tables of `schema`, parents before children (foreign keys), so that a COPY of each in that
 * order never misses a parent.
 */
export async function tablesInCopyOrder(client: Client, schema: string): Promise<string[]> {
  const { rows } = await client.query<{ name: string; parents: string[] }>(
    `SELECT c.relname::text AS name,
            COALESCE(array_agg(p.relname::text) FILTER (WHERE p.relname IS NOT NULL AND p.oid <> c.oid), '{}')::text[] AS parents
       FROM pg_class c
       JOIN pg_namespace n ON n.oid = c.relnamespace
       LEFT JOIN pg_constraint f ON f.conrelid = c.oid AND f.contype = 'f'
       LEFT JOIN pg_class p ON p.oid = f.confrelid
      WHERE n.nspname = $1 AND c.relkind IN ('r', 'p')
      GROUP BY c.relname ORDER BY c.relname`,
    [schema],
  );
  const ordered: string[] = [];
  const pending = new Map(rows.map((row) => [row.name, new Set(row.parents)]));
  while (pending.size > 0) {
    const ready = [...pending].filter(([, parents]) => [...parents].every((p) => ordered.includes(p)));
    if (ready.length === 0) throw new Error(`foreign-key cycle among ${[...pending.keys()].join(', ')}`);
    for (const [name] of ready) {
      ordered.push(name);
      pending.delete(name);
    }
  }
  return ordered;
}

/** A file's size in bytes, or 0. */
export function fileBytes(file: string): number {
  try {
    return statSync(file).size;
  } catch {
    return 0;
  }
}

/** Drops what a part created in PostgreSQL and Kafka; every step is best effort. */
export async function cleanUp(
  kafka: Kafka,
  part: {
    prefixes: string[];
    slot: string;
    publication: string;
    schema: string;
    databases: Array<{ drop: () => Promise<void> }>;
  },
): Promise<void> {
  await sql('SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1', [
    part.slot,
  ]).catch((e) => log(`drop slot ${part.slot}: ${e.message}`));
  await sql(`DROP PUBLICATION IF EXISTS ${quoteIdent(part.publication)}`).catch(() => undefined);
  await sql(`DROP SCHEMA IF EXISTS ${quoteIdent(part.schema)} CASCADE`).catch((e) =>
    log(`drop schema ${part.schema}: ${e.message}`),
  );
  for (const database of part.databases)
    await database.drop().catch((e) => log(`drop database: ${e.message}`));
  const admin = kafka.admin();
  await admin.connect();
  try {
    const topics = (await admin.listTopics()).filter((t) =>
      part.prefixes.some((prefix) => t.startsWith(`${prefix}.`) || t === `__tandem_heartbeat.${prefix}`),
    );
    if (topics.length > 0)
      await admin.deleteTopics({ topics }).catch((e) => log(`delete topics: ${e.message}`));
    const { groups } = await admin.listGroups();
    const ours = groups
      .map((g) => g.groupId)
      .filter((g) => part.prefixes.some((prefix) => g.includes(`.${prefix}.`)));
    if (ours.length > 0) await admin.deleteGroups(ours).catch(() => undefined);
  } finally {
    await admin.disconnect();
  }
}

/** The 1-, 5- and 15-minute load averages: other work on the machine shows here. */
export function loadAverage(): number[] {
  return readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).map(Number);
}

/**
 * Copies every committed record of `from` into `to` (same partition, key, value, headers and
 * timestamp, and the same record batches) inside ONE Kafka transaction, so that a read_committed
 * reader of `to` sees nothing until the commit and then everything at once. Resolves with the moment
 * the commit returned.
 */
export async function copyInOneTransaction(
  kafka: Kafka,
  from: string,
  to: string,
  expected: number,
): Promise<{ committedAt: number; seconds: number; perPartition: Map<number, number> }> {
  const started = Date.now();
  const producer = kafka.producer({
    transactionalId: `tandem-bench-copy-${randomUUID()}`,
    idempotent: true,
    maxInFlightRequests: 1,
    transactionTimeout: 900_000,
  });
  await producer.connect();
  const transaction = await producer.transaction();
  const groupId = `tandem-bench-${randomUUID()}`;
  const consumer = kafka.consumer({
    groupId,
    readUncommitted: false,
    maxWaitTimeInMs: 100,
    maxBytes: 64 << 20,
    maxBytesPerPartition: 16 << 20,
  });
  let copied = 0;
  const perPartition = new Map<number, number>();
  const state: { failure: Error | null } = { failure: null };
  try {
    await consumer.connect();
    await consumer.subscribe({ topic: from, fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachBatch: async ({ batch }) => {
        try {
          // one send per source record batch: the copy keeps capture's batch sizes (what a fetch returns)
          const groups = new Map<string, typeof batch.messages>();
          for (const message of batch.messages) {
            const first = String(
              (message as unknown as { batchContext?: { firstOffset?: string } }).batchContext?.firstOffset ??
                '',
            );
            groups.set(first, [...(groups.get(first) ?? []), message]);
          }
          for (const messages of groups.values()) {
            await transaction.send({
              topic: to,
              acks: -1,
              messages: messages.map((m) => ({
                partition: batch.partition,
                key: m.key,
                value: m.value,
                headers: m.headers,
                timestamp: m.timestamp,
              })),
            });
            copied += messages.length;
            perPartition.set(batch.partition, (perPartition.get(batch.partition) ?? 0) + messages.length);
          }
        } catch (error) {
          state.failure = error as Error;
        }
      },
    });
    let last = -1;
    let progressAt = Date.now();
    while (copied < expected && !state.failure) {
      await sleep(100);
      if (copied !== last) [last, progressAt] = [copied, Date.now()];
      if (Date.now() - progressAt > 120_000)
        throw new Error(`copy to ${to}: no progress for 120 s at ${copied}/${expected}`);
    }
    if (state.failure) throw state.failure;
    await consumer.stop();
    if (copied !== expected) throw new Error(`copy to ${to}: ${copied} records, expected ${expected}`);
    await transaction.commit();
    const committedAt = Date.now();
    return { committedAt, seconds: seconds(committedAt - started), perPartition };
  } catch (error) {
    await transaction.abort().catch(() => undefined);
    throw error;
  } finally {
    await consumer.disconnect().catch(() => undefined);
    await producer.disconnect().catch(() => undefined);
    const admin = kafka.admin();
    await admin.connect();
    await admin.deleteGroups([groupId]).catch(() => undefined);
    await admin.disconnect();
  }
}

/** Waits until the consumer group has `members` members and is Stable. */
export async function waitForGroup(
  kafka: Kafka,
  groupId: string,
  members = 1,
  timeoutMs = 60_000,
): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const { groups } = await admin.describeGroups([groupId]);
      if (groups[0]?.state === 'Stable' && groups[0].members.length === members) return;
      if (Date.now() > deadline)
        throw new Error(
          `consumer group ${groupId} not stable within ${timeoutMs / 1000} s: ${JSON.stringify(groups[0]?.state)}`,
        );
      await sleep(250);
    }
  } finally {
    await admin.disconnect();
  }
}

const CLOCK_TICKS = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;

/** CPU seconds the whole machine has spent busy (all cores: user, nice, system, irq, softirq, steal) since boot. */
export function machineBusySeconds(): number {
  const [, user, nice, system, , , irq, softirq, steal] = readFileSync('/proc/stat', 'utf8')
    .split('\n')[0]
    .trim()
    .split(/\s+/)
    .map(Number);
  return (user + nice + system + irq + softirq + steal) / CLOCK_TICKS;
}
