/** Debezium's PostgreSQL connector in its embedded engine (DebeziumHarness.java) as a child process. */
import { execFileSync, spawn, type ChildProcess } from 'child_process';
import { mkdirSync, rmSync, writeFileSync } from 'fs';
import { join } from 'path';
import { env } from '../../test/support/services';
import { procStats, ROOT, sleep, type ProcStats } from '../capture/support';

export const PEER_DIR = join(ROOT, '.tandem', 'peer-debezium');
const LIB = join(PEER_DIR, 'lib');
const HARNESS = join(ROOT, 'bench', 'peer-debezium', 'DebeziumHarness.java');

/** Resolves the jars once (cached by the pom's sha256). */
export function installDebezium(): void {
  execFileSync('bash', [join(ROOT, 'bench', 'peer-debezium', 'install.sh')], { stdio: 'inherit' });
}

export function javaVersion(): string {
  return (
    execFileSync('java', ['-version'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).toString() ||
    ''
  );
}

export interface DebeziumSettings {
  /** Slot and engine name; the offsets file is named after it. */
  slot: string;
  publication: string;
  prefix: string;
  /** "schema.table" entries. */
  tables: string[];
  /** Debezium's snapshot.mode: "initial" (snapshot, then stream) or "no_data" (stream only). */
  snapshotMode: 'initial' | 'no_data';
  /** Connector properties beyond the defaults (e.g. skipped.operations). */
  extra?: Record<string, string>;
  partitions?: number;
}

function connectorProperties(settings: DebeziumSettings): Record<string, string> {
  const url = new URL(env.sourceUrl());
  return {
    name: settings.slot,
    'connector.class': 'io.debezium.connector.postgresql.PostgresConnector',
    'offset.storage': 'org.apache.kafka.connect.storage.FileOffsetBackingStore',
    'offset.storage.file.filename': join(PEER_DIR, 'offsets', `${settings.slot}.dat`),
    'offset.flush.interval.ms': '1000',
    'database.hostname': url.hostname,
    'database.port': url.port || '5432',
    'database.user': decodeURIComponent(url.username),
    'database.password': decodeURIComponent(url.password),
    'database.dbname': url.pathname.slice(1),
    'topic.prefix': settings.prefix,
    'plugin.name': 'pgoutput',
    'slot.name': settings.slot,
    'publication.name': settings.publication,
    'publication.autocreate.mode': 'filtered',
    'table.include.list': settings.tables.map((t) => t.replace(/\./g, '\\.')).join(','),
    'snapshot.mode': settings.snapshotMode,
    // Tandem always writes BEGIN/END markers and the transaction block; ask Debezium for the same.
    'provide.transaction.metadata': 'true',
    'converter.schemas.enable': 'false',
    'harness.bootstrap.servers': env.brokers().join(','),
    'harness.partitions': String(settings.partitions ?? 3),
    'harness.replication.factor': '1',
    ...settings.extra,
  };
}

function propertiesText(properties: Record<string, string>): string {
  const escape = (text: string) => text.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
  return Object.entries(properties)
    .map(([key, value]) => `${key}=${escape(value)}`)
    .join('\n');
}

/** The harness as a child process; "ready" is Debezium's "task started" callback. */
export class DebeziumChild {
  readonly child: ChildProcess;
  readonly spawnedAt = Date.now();
  readyAt = 0;
  atReady: ProcStats | null = null;
  output = '';
  private readonly exited: Promise<number | null>;

  constructor(readonly settings: DebeziumSettings) {
    mkdirSync(join(PEER_DIR, 'offsets'), { recursive: true });
    const file = join(PEER_DIR, `${settings.slot}.properties`);
    writeFileSync(file, propertiesText(connectorProperties(settings)), { mode: 0o600 });
    this.child = spawn('java', ['-cp', `${LIB}/*`, HARNESS, file], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const collect = (chunk: Buffer) => {
      this.output += chunk.toString();
      if (this.output.length > 1_000_000) this.output = this.output.slice(-200_000);
      if (!this.readyAt && this.output.includes('[debezium-harness] task started')) {
        this.readyAt = Date.now();
        this.atReady = procStats(this.pid);
      }
    };
    this.child.stdout!.on('data', collect);
    this.child.stderr!.on('data', collect);
    this.exited = new Promise((r) => this.child.on('exit', (code) => r(code)));
  }

  get pid(): number {
    return this.child.pid!;
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  stats(): ProcStats {
    return procStats(this.pid);
  }

  tail(chars = 3000): string {
    return this.output.slice(-chars);
  }

  async waitReady(timeoutMs = 180_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.readyAt) {
      if (!this.running) throw new Error(`Debezium harness exited before its task started:\n${this.tail()}`);
      if (Date.now() > deadline)
        throw new Error(`Debezium harness did not start within ${timeoutMs / 1000} s:\n${this.tail()}`);
      await sleep(100);
    }
  }

  /** Waits until Debezium logs that it streams (after its snapshot, if any). */
  async waitStreaming(timeoutMs = 180_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!/Processing messages|Searching for WAL resume position/.test(this.output)) {
      if (!this.running) throw new Error(`Debezium harness exited before streaming:\n${this.tail()}`);
      if (Date.now() > deadline)
        throw new Error(`Debezium harness did not stream within ${timeoutMs / 1000} s:\n${this.tail()}`);
      await sleep(100);
    }
  }

  async stop(): Promise<void> {
    if (this.running) this.child.kill('SIGTERM');
    await this.exited;
  }

  /** Forgets the stored offsets (the slot is dropped separately). */
  removeOffsets(): void {
    removeDebeziumOffsets(this.settings.slot);
  }
}

export function removeDebeziumOffsets(slot: string): void {
  rmSync(join(PEER_DIR, 'offsets', `${slot}.dat`), { force: true });
  rmSync(join(PEER_DIR, `${slot}.properties`), { force: true });
}
