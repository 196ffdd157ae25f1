import { spawn, type ChildProcess } from 'child_process';
import { createWriteStream, type WriteStream } from 'fs';
import { join, resolve } from 'path';

const ROOT = resolve(__dirname, '..', '..');

export interface ExitRecord {
  process: string;
  code: number | null;
  signal: string | null;
  /** The soak killed it on purpose (kill -9 or stop). */
  intended: boolean;
  /** The last error line it printed, for unexpected exits. */
  lastError: string | null;
  at: string;
}

/**
 * A `tandem` child process kept running the way a supervisor (systemd, Kubernetes) would: when it
 * exits on its own it is started again after a short pause. Every exit is recorded with its code
 * and its last error line; output goes to one log file per start.
 */
export class Supervised {
  private child: ChildProcess | null = null;
  private starts = 0;
  private intendedExit = false;
  private restartTimer: NodeJS.Timeout | null = null;
  private tail = '';
  private exitedPromise: Promise<void> = Promise.resolve();
  autoRestart = true;
  readonly exits: ExitRecord[] = [];
  /** Output of the current run. */
  output = '';

  constructor(
    readonly name: string,
    private readonly args: string[],
    private readonly logDir: string,
    private readonly onUnexpectedExit: (record: ExitRecord) => void = () => undefined,
  ) {}

  get running(): boolean {
    return this.child !== null && this.child.exitCode === null && this.child.signalCode === null;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  get restarts(): number {
    return Math.max(0, this.starts - 1);
  }

  start(): void {
    if (this.running) return;
    if (this.restartTimer) clearTimeout(this.restartTimer);
    this.restartTimer = null;
    this.starts += 1;
    this.intendedExit = false;
    this.output = '';
    this.tail = '';
    const log: WriteStream = createWriteStream(
      join(this.logDir, `${this.name}-${String(this.starts).padStart(3, '0')}.log`),
    );
    const child = spawn(
      process.execPath,
      ['-r', 'ts-node/register/transpile-only', join(ROOT, 'src/cli/main.ts'), ...this.args],
      {
        cwd: ROOT,
        env: withoutServiceAddresses({ ...process.env, TANDEM_LOG_LEVEL: 'info' }),
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    this.child = child;
    const collect = (chunk: Buffer) => {
      const text = chunk.toString();
      log.write(text);
      this.output = (this.output + text).slice(-200_000);
      this.tail = (this.tail + text).slice(-20_000);
    };
    child.stdout!.on('data', collect);
    child.stderr!.on('data', collect);
    this.exitedPromise = new Promise((resolveExit) =>
      child.on('exit', (code, signal) => {
        log.end();
        const record: ExitRecord = {
          process: this.name,
          code,
          signal,
          intended: this.intendedExit,
          lastError: this.intendedExit ? null : lastErrorLine(this.tail),
          at: new Date().toISOString(),
        };
        this.exits.push(record);
        if (this.child === child) this.child = null;
        if (!record.intended) {
          this.onUnexpectedExit(record);
          if (this.autoRestart) this.restartTimer = setTimeout(() => this.start(), 1000);
        }
        resolveExit();
      }),
    );
  }

  async kill9(): Promise<void> {
    if (!this.running) return;
    this.intendedExit = true;
    this.child!.kill('SIGKILL');
    await this.exitedPromise;
  }

  async stop(timeoutMs = 60_000): Promise<number | null> {
    if (this.restartTimer) clearTimeout(this.restartTimer);
    this.restartTimer = null;
    if (!this.running) return this.exits.at(-1)?.code ?? null;
    this.intendedExit = true;
    const child = this.child!;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    await this.exitedPromise;
    clearTimeout(timer);
    return this.exits.at(-1)?.code ?? null;
  }

  /** Resolves when the current run has exited (on its own or killed). */
  waitForExit(): Promise<void> {
    return this.exitedPromise;
  }

  async waitForLog(pattern: RegExp, timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (!pattern.test(this.output)) {
      if (Date.now() > deadline) return false;
      await new Promise((r) => setTimeout(r, 100));
    }
    return true;
  }
}

/**
 * Why a process ended: the CLI's own `tandem: …` message if it printed one, else an uncaught
 * exception's `Error: …` line, else its last error log line.
 */
function lastErrorLine(output: string): string | null {
  const lines = output.split('\n').filter((line) => line.trim() !== '');
  const cli = [...lines].reverse().find((line) => line.startsWith('tandem: '));
  if (cli) return cli.slice(0, 500);
  const uncaught = [...lines].reverse().find((line) => /^\w*Error: /.test(line));
  if (uncaught) return `uncaught ${uncaught.slice(0, 500)}`;
  for (let i = lines.length - 1; i >= 0; i--) {
    try {
      const parsed = JSON.parse(lines[i]) as { level?: string; msg?: string; err?: { message?: string } };
      if (parsed.level === 'error' || parsed.level === 'fatal')
        return `${parsed.msg ?? ''} ${parsed.err?.message ?? ''}`.trim().slice(0, 500);
    } catch {
      // not a log line
    }
  }
  return lines.at(-1)?.slice(0, 500) ?? null;
}

function withoutServiceAddresses(environment: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const copy = { ...environment };
  delete copy.TANDEM_SOURCE_URL;
  delete copy.TANDEM_TARGET_URL;
  delete copy.TANDEM_KAFKA_BROKERS;
  return copy;
}
