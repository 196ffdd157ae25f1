/** Helpers of the capture benchmark: the capture process, a counting consumer, /proc sampling, the machine. */
import { execFileSync, spawn, type ChildProcess } from 'child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'fs';
import { cpus, tmpdir, totalmem } from 'os';
import { join, resolve } from 'path';
import { randomUUID } from 'crypto';
import { stringify } from 'yaml';
import type { Kafka } from 'kafkajs';
import { env, sql } from '../../test/support/services';

export const ROOT = resolve(__dirname, '..', '..');
export const PG_BIN = process.env.PG_BIN ?? '/usr/lib/postgresql/15/bin';
export const CLOCK_TICKS = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;

export const log = (message: string) =>
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}\n`);
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
export const seconds = (ms: number) => ms / 1000;

/** Names of one benchmark part: table, Tandem's slot, publication and topic prefix. */
export function names(part: string) {
  const base = `bench_capture_${part}_${Date.now().toString(36)}`;
  return {
    table: base,
    slot: `${base}_slot`,
    publication: `${base}_pub`,
    prefix: base,
    topic: `${base}.public.${base}`,
  };
}

/** In public, whatever the search path: a legacy database that holds a `tandem` schema (failback's) puts "$user" first. */
export async function createTable(table: string): Promise<void> {
  await sql(
    `CREATE TABLE public.${table} (id bigint PRIMARY KEY, user_id text, amount numeric(38,10), note text, created_at timestamptz)`,
  );
}

/** Rows lo..hi as one INSERT (one transaction). */
export function insertRange(table: string, lo: number, hi: number): string {
  return `INSERT INTO public.${table} SELECT g, 'user_' || (g % 10000), g * 1.2345, md5(g::text), now() - g * interval '1 second' FROM generate_series(${lo}, ${hi}) g`;
}

export async function currentLsn(): Promise<string> {
  return (await sql('SELECT pg_current_wal_lsn()::text AS lsn'))[0].lsn;
}

/** A capture config with the product's defaults (batches of 5,000 events, 50 ms batch delay). */
export function writeCaptureConfig(n: ReturnType<typeof names>): string {
  const file = join(mkdtempSync(join(tmpdir(), 'tandem-bench-')), 'tandem.yaml');
  writeFileSync(
    file,
    stringify({
      source: {
        url: env.sourceUrl(),
        publication: n.publication,
        slot: n.slot,
        tables: [`public.${n.table}`],
      },
      kafka: { brokers: env.brokers(), topicPrefix: n.prefix, partitions: 3 },
    }),
  );
  return file;
}

export interface ProcStats {
  cpuSeconds: number;
  rssMb: number;
  peakRssMb: number;
}

/** CPU seconds (utime + stime) and resident memory (VmRSS, peak VmHWM) of a running process. */
export function procStats(pid: number): ProcStats {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' '); // fields[0] is field 3 (state)
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
  return {
    cpuSeconds: (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS,
    rssMb: kb('VmRSS') / 1024,
    peakRssMb: kb('VmHWM') / 1024,
  };
}

/** `tandem capture` as a child process (node options such as --cpu-prof allowed), timed from spawn to "streaming changes". */
let compiled: string | null = null;

/**
 * The CLI compiled once per benchmark run into .tandem/bench-dist, as `npm run build` ships it: the
 * children measured then start as a deployed Tandem does, without ts-node compiling the sources.
 */
export function compiledCli(): string {
  // A CLI compiled beforehand (`npx tsc -p tsconfig.build.json --outDir DIR`, DIR inside the clone for its node_modules, then DIR/cli/main.js):
  // on a loaded machine the compile alone takes minutes.
  if (!compiled && process.env.TANDEM_BENCH_CLI_JS) compiled = process.env.TANDEM_BENCH_CLI_JS;
  if (!compiled) {
    const outDir = join(ROOT, '.tandem', 'bench-dist');
    log(`compiling the CLI into ${outDir}`);
    rmSync(outDir, { recursive: true, force: true });
    execFileSync(
      join(ROOT, 'node_modules', '.bin', 'tsc'),
      ['-p', join(ROOT, 'tsconfig.build.json'), '--outDir', outDir],
      {
        stdio: 'inherit',
      },
    );
    compiled = join(outDir, 'cli', 'main.js');
  }
  return compiled;
}

/**
 * A `tandem` CLI child process (node options such as --cpu-prof allowed), with its output kept and
 * the moment it logged `readyMessage` (and its /proc figures then) recorded.
 */
export class TandemChild {
  readonly child: ChildProcess;
  readonly spawnedAt = Date.now();
  output = '';
  readyAt = 0;
  atReady: ProcStats | null = null;
  private readonly exited: Promise<number | null>;
  private readonly ready: Promise<void>;

  constructor(
    private readonly args: string[],
    private readonly readyMessage: string,
    nodeOptions: string[] = [],
    environment: NodeJS.ProcessEnv = process.env,
  ) {
    this.child = spawn(process.execPath, [...nodeOptions, compiledCli(), ...args], {
      cwd: ROOT,
      env: { ...environment, TANDEM_LOG_LEVEL: 'info' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.exited = new Promise((r) => this.child.on('exit', (code) => r(code)));
    this.ready = new Promise((resolveReady, reject) => {
      const collect = (chunk: Buffer) => {
        this.output += chunk.toString();
        if (this.output.length > 1_000_000) this.output = this.output.slice(-200_000); // quarantine warnings may be many
        if (this.readyAt || !this.output.includes(`"${readyMessage}"`)) return;
        this.readyAt = Date.now();
        this.atReady = procStats(this.pid);
        resolveReady();
      };
      this.child.stdout!.on('data', collect);
      this.child.stderr!.on('data', collect);
      void this.exited.then((code) =>
        reject(new Error(`tandem ${args[0]} exited (${code}) before "${readyMessage}":\n${this.tail()}`)),
      );
    });
    this.ready.catch(() => undefined);
  }

  get pid(): number {
    return this.child.pid!;
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  waitReady(timeoutMs = 120_000): Promise<void> {
    return Promise.race([
      this.ready,
      sleep(timeoutMs).then(() =>
        Promise.reject(
          new Error(
            `tandem ${this.args[0]} did not log "${this.readyMessage}" within ${timeoutMs / 1000} s:\n${this.tail()}`,
          ),
        ),
      ),
    ]);
  }

  stats(): ProcStats {
    return procStats(this.pid);
  }

  tail(chars = 3000): string {
    return this.output.slice(-chars);
  }

  /** SIGTERM; the command finishes its work in progress and must exit 0. */
  async stop(): Promise<void> {
    if (this.running) this.child.kill('SIGTERM');
    const code = await this.exited;
    if (code !== 0) throw new Error(`tandem ${this.args[0]} exited ${code} on SIGTERM:\n${this.tail()}`);
  }
}

/** `tandem capture`, timed from spawn to "streaming changes". */
export class Capture extends TandemChild {
  constructor(configFile: string, nodeOptions: string[] = []) {
    super(['capture', '--config', configFile], 'streaming changes', nodeOptions);
  }

  get streamingAt(): number {
    return this.readyAt;
  }

  get atStreaming(): ProcStats | null {
    return this.atReady;
  }

  waitStreaming(): Promise<void> {
    return this.waitReady();
  }
}

/** A read_committed consumer counting the records of one topic from its beginning. */
export class TopicCounter {
  count = 0;
  bytes = 0;
  firstAt = 0;
  lastAt = 0;
  private readonly groupId = `tandem-bench-${randomUUID()}`;
  private readonly consumer;

  private constructor(
    private readonly kafka: Kafka,
    private readonly topic: string,
    private readonly onMessage?: (timestampMs: number, value: Buffer, receivedAtMs: number) => void,
  ) {
    this.consumer = kafka.consumer({
      groupId: this.groupId,
      readUncommitted: false,
      maxWaitTimeInMs: 20,
      maxBytes: 64 << 20,
      maxBytesPerPartition: 16 << 20,
    });
  }

  /** Resolves once the consumer has joined its group and is assigned the topic. */
  static async start(
    kafka: Kafka,
    topic: string,
    onMessage?: (timestampMs: number, value: Buffer, receivedAtMs: number) => void,
  ): Promise<TopicCounter> {
    const counter = new TopicCounter(kafka, topic, onMessage);
    const joined = new Promise<void>((r) =>
      counter.consumer.on(counter.consumer.events.GROUP_JOIN, () => r()),
    );
    await counter.consumer.connect();
    await counter.consumer.subscribe({ topic, fromBeginning: true });
    await counter.consumer.run({
      autoCommit: false,
      eachBatch: async ({ batch }) => {
        if (batch.messages.length === 0) return;
        const now = Date.now();
        if (counter.count === 0) counter.firstAt = now;
        counter.lastAt = now;
        counter.count += batch.messages.length;
        for (const message of batch.messages) {
          counter.bytes += message.value?.length ?? 0;
          if (counter.onMessage && message.value)
            counter.onMessage(Number(message.timestamp), message.value, now);
        }
      },
    });
    await joined;
    return counter;
  }

  /** Resolves with the time the count reached `n`; fails when it stalls for `stallMs` or `alive()` turns false. */
  async waitFor(n: number, alive: () => boolean, describe: () => string, stallMs = 120_000): Promise<number> {
    let last = this.count;
    let progressAt = Date.now();
    while (this.count < n) {
      await sleep(20);
      if (this.count !== last) [last, progressAt] = [this.count, Date.now()];
      if (!alive())
        throw new Error(`capture exited with ${this.count}/${n} events in ${this.topic}:\n${describe()}`);
      if (Date.now() - progressAt > stallMs)
        throw new Error(
          `no progress for ${stallMs / 1000} s at ${this.count}/${n} events in ${this.topic}:\n${describe()}`,
        );
    }
    return this.lastAt;
  }

  async stop(): Promise<void> {
    await this.consumer.disconnect();
    const admin = this.kafka.admin();
    await admin.connect();
    await admin.deleteGroups([this.groupId]).catch(() => undefined);
    await admin.disconnect();
  }
}

/** Wall-clock seconds pg_recvlogical takes to decode the slot up to `endLsn` (pgoutput, protocol 1). */
export function timeRecvlogical(slot: string, publication: string, endLsn: string): Promise<number> {
  const args = [
    '-d',
    env.sourceUrl(),
    '--slot',
    slot,
    '--start',
    '--endpos',
    endLsn,
    '-o',
    'proto_version=1',
    '-o',
    `publication_names=${publication}`,
    '-f',
    '/dev/null',
    '--no-loop',
  ];
  const started = process.hrtime.bigint();
  const child = spawn(join(PG_BIN, 'pg_recvlogical'), args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (chunk) => (stderr += chunk.toString()));
  return new Promise((resolveTime, reject) =>
    child.on('exit', (code) => {
      const elapsed = Number(process.hrtime.bigint() - started) / 1e9;
      if (code === 0) resolveTime(elapsed);
      else reject(new Error(`pg_recvlogical exited ${code}: ${stderr}`));
    }),
  );
}

/** Drops what a part created in PostgreSQL and Kafka; every step is best effort. */
export async function cleanUp(
  kafka: Kafka,
  n: ReturnType<typeof names>,
  extra: { slots?: string[]; publications?: string[] } = {},
): Promise<void> {
  for (const slot of [n.slot, ...(extra.slots ?? [])]) {
    await sql('SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1', [
      slot,
    ]).catch((e) => log(`drop slot ${slot}: ${e.message}`));
  }
  for (const publication of [n.publication, ...(extra.publications ?? [])])
    await sql(`DROP PUBLICATION IF EXISTS ${publication}`).catch(() => undefined);
  await sql(`DROP TABLE IF EXISTS ${n.table}`).catch(() => undefined);
  const admin = kafka.admin();
  await admin.connect();
  try {
    const existing = new Set(await admin.listTopics());
    const topics = [n.topic, `${n.prefix}.transaction`, `__tandem_heartbeat.${n.prefix}`].filter((t) =>
      existing.has(t),
    );
    await admin.deleteTopics({ topics }).catch((e) => log(`delete topics: ${e.message}`));
    await admin.deleteGroups([`tandem-capture-position.${n.prefix}.${n.slot}`]).catch(() => undefined);
  } finally {
    await admin.disconnect();
  }
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

export async function machine() {
  const libs = [join(ROOT, '.tandem', 'kafka', 'lib'), join(ROOT, '.tandem', 'kafka')].filter((dir) =>
    existsSync(dir),
  );
  const kafkaJar = libs.flatMap((dir) => readdirSync(dir)).find((f) => /^kafka_[\d.]+-[\d.]+\.jar$/.test(f));
  return {
    cpus: cpus().length,
    cpuModel:
      /model name\s*:\s*(.*)/.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? cpus()[0]?.model ?? '?',
    memoryGb: Math.floor(totalmem() / 2 ** 30), // as `free -g` shows it
    node: process.version,
    postgres: (await sql('SHOW server_version'))[0].server_version as string,
    kafka: kafkaJar ? /-([\d.]+)\.jar$/.exec(kafkaJar)![1] : 'unknown',
  };
}
