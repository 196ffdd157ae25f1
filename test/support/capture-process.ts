import { spawn, type ChildProcess } from 'child_process';
import { mkdtempSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join, resolve } from 'path';
import { stringify } from 'yaml';
import { cliCommand } from './cli-entry';
import { awaiting } from './awaiting';

const ROOT = resolve(__dirname, '..', '..');

export interface CaptureTestConfig {
  prefix: string;
  slot: string;
  publication: string;
  tables: string[];
  chunkSize?: number;
  parallelism?: number;
  snapshotMode?: 'initial' | 'never';
  heartbeatIntervalMs?: number;
  maxBatchEvents?: number;
  maxBatchBytes?: number;
  maxBatchDelayMs?: number;
  targetUrl?: string;
  projections?: Array<{ recipe: string; sourceSchema?: string }>;
  projectorBatchEvents?: number;
}

export function writeConfig(config: CaptureTestConfig): string {
  const dir = mkdtempSync(join(tmpdir(), 'tandem-test-'));
  const file = join(dir, 'tandem.yaml');
  writeFileSync(
    file,
    stringify({
      source: {
        url: process.env.TANDEM_SOURCE_URL,
        publication: config.publication,
        slot: config.slot,
        tables: config.tables,
        snapshot: { mode: config.snapshotMode ?? 'initial', chunkSize: config.chunkSize ?? 5000, parallelism: config.parallelism ?? 2 },
        heartbeatIntervalMs: config.heartbeatIntervalMs ?? 1000,
      },
      kafka: {
        brokers: process.env.TANDEM_KAFKA_BROKERS!.split(','),
        topicPrefix: config.prefix,
        partitions: 3,
      },
      capture: {
        maxBatchEvents: config.maxBatchEvents ?? 5000,
        ...(config.maxBatchBytes ? { maxBatchBytes: config.maxBatchBytes } : {}),
        maxBatchDelayMs: config.maxBatchDelayMs ?? 50,
        statusIntervalMs: 1000,
      },
      ...(config.targetUrl ? { target: { url: config.targetUrl } } : {}),
      projections: config.projections ?? [],
      projector: { maxBatchEvents: config.projectorBatchEvents ?? 2000 },
    }),
  );
  return file;
}

/** A `tandem` CLI child process, with its output collected. */
export class TandemProcess {
  readonly child: ChildProcess;
  /** stdout and stderr as they came. */
  output = '';
  /** stdout alone (command output such as --json). */
  stdout = '';
  private readonly exit: Promise<number | null>;

  /** `cwd`: where it runs (default: the repository; a user's own folder for the e2e of examples). */
  constructor(
    private readonly args: string[],
    extraEnv: Record<string, string> = {},
    cwd = ROOT,
  ) {
    this.child = spawn(process.execPath, [...cliCommand(), ...args], {
      cwd,
      // The config files tests write hold every address; the environment must not override them.
      env: { ...withoutServiceAddresses(process.env), TANDEM_LOG_LEVEL: 'info', ...extraEnv },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child.stdout!.on('data', (chunk) => {
      this.output += chunk.toString();
      this.stdout += chunk.toString();
    });
    this.child.stderr!.on('data', (chunk) => (this.output += chunk.toString()));
    // 'close', not 'exit': the exit can come before the last output has been read.
    this.exit = new Promise((resolvePromise) => this.child.on('close', (code) => resolvePromise(code)));
  }

  /** The exit code once the process has ended (awaiting it names the command, should the test time out). */
  get exited(): Promise<number | null> {
    return awaiting(`tandem ${this.args.join(' ')} to exit`, this.exit);
  }

  static capture(configFile: string, ...extra: string[]): TandemProcess {
    return new TandemProcess(['capture', '--config', configFile, ...extra]);
  }

  /** The default deadline is for liveness only (a snapshot on a loaded 2-core CI machine is slow). */
  waitForLog(pattern: RegExp, timeoutMs = 180_000): Promise<void> {
    return awaiting(`tandem ${this.args[0]} to log ${pattern}`, this.pollLog(pattern, timeoutMs));
  }

  private async pollLog(pattern: RegExp, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!pattern.test(this.output)) {
      if (this.child.exitCode !== null)
        throw new Error(`tandem exited (${this.child.exitCode}) before logging ${pattern}:\n${this.output}`);
      if (Date.now() > deadline)
        throw new Error(`tandem did not log ${pattern} within ${timeoutMs} ms:\n${this.output.slice(-3000)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  static project(configFile: string, ...extra: string[]): TandemProcess {
    return new TandemProcess(['project', '--config', configFile, ...extra]);
  }

  kill9(): Promise<number | null> {
    this.child.kill('SIGKILL');
    return this.exited;
  }

  async stop(): Promise<number | null> {
    if (this.child.exitCode !== null) return this.child.exitCode;
    this.child.kill('SIGTERM');
    return this.exited;
  }
}

function withoutServiceAddresses(environment: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const copy = { ...environment };
  delete copy.TANDEM_SOURCE_URL;
  delete copy.TANDEM_TARGET_URL;
  delete copy.TANDEM_KAFKA_BROKERS;
  return copy;
}
