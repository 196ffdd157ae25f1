import type { Server } from 'http';
import { Writable } from 'stream';
import { ensureTandemSchema } from '../../src/connectors/postgres-target/tandem-schema';
import { startAdminServer } from '../../src/modules/admin/admin-server';
import { TandemModule } from '../../src/app/tandem.module';
import { AdminTokens } from '../../src/modules/admin/auth/admin-tokens';
import { loadConfig } from '../../src/modules/config/load-config';
import { targetPool } from '../../src/modules/core/target-pool';
import { createLogger } from '../../src/shared/logger';
import { TandemProcess } from './capture-process';
import { awaiting } from './awaiting';

export const OPERATOR_TOKEN = 'op-3f9c2a7d1e8b4c6a9d0e';
export const VIEWER_TOKEN = 'vw-8a1b2c3d4e5f60718293';
export const ADMIN_TOKENS = `alice:operator:${OPERATOR_TOKEN},bob:viewer:${VIEWER_TOKEN}`;

export interface ApiResponse {
  status: number;
  contentType: string;
  text: string;
  json: any;
}

/** `tandem serve` (a child process, or in this process) on a free port, with every response body it gave kept for leak checks. */
export class AdminServer {
  readonly bodies: string[] = [];

  private constructor(
    readonly baseUrl: string,
    private readonly stopServer: () => Promise<number | null>,
    /** In process: the server's log lines (JSON) as they are written. */
    readonly log: string[] = [],
    private readonly httpServer: Server | null = null,
  ) {}

  /** In process: the Node HTTP server's timeouts. */
  timeouts() {
    const server = this.httpServer!;
    return {
      requestTimeout: server.requestTimeout,
      headersTimeout: server.headersTimeout,
      keepAliveTimeout: server.keepAliveTimeout,
    };
  }

  /** The same server `tandem serve` runs, started in the test's own process. */
  static async inProcess(configFile: string, host = '127.0.0.1'): Promise<AdminServer> {
    const config = loadConfig(configFile, {}); // the file holds every address, like the child processes get it
    const pool = targetPool(config);
    await ensureTandemSchema(pool).finally(() => pool.end());
    const log: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        log.push(...chunk.toString('utf8').split('\n').filter(Boolean));
        done();
      },
    });
    const logger = createLogger('tandem-test', 'info', sink);
    const tokens = AdminTokens.of([
      { name: 'alice', role: 'operator', token: OPERATOR_TOKEN },
      { name: 'bob', role: 'viewer', token: VIEWER_TOKEN },
    ]);
    const running = await startAdminServer({ config, root: TandemModule.forConfig(config), tokens, port: 0, host, logger });
    const stop = async () => {
      await running.close();
      return 0;
    };
    const scheme = config.admin.tls ? 'https' : 'http';
    return new AdminServer(`${scheme}://127.0.0.1:${running.port}`, stop, log, running.server);
  }

  static async start(
    configFile: string,
    env: Record<string, string> = { TANDEM_ADMIN_TOKENS: ADMIN_TOKENS },
  ): Promise<AdminServer> {
    const child = new TandemProcess(['serve', '--config', configFile, '--port', '0'], env);
    await child.waitForLog(/status page on http:\/\/[^:]+:\d+\//, 240_000);
    const port = /status page on http:\/\/[^:]+:(\d+)\//.exec(child.output)![1];
    return new AdminServer(`http://127.0.0.1:${port}`, () => child.stop());
  }

  async call(
    method: string,
    path: string,
    options: { token?: string | null; body?: unknown; rawBody?: string } = {},
  ): Promise<ApiResponse> {
    const headers: Record<string, string> = {};
    if (options.token) headers.authorization = `Bearer ${options.token}`;
    if (options.body !== undefined || options.rawBody !== undefined)
      headers['content-type'] = 'application/json';
    const response = await fetch(`${this.baseUrl}${path}`, {
      method: method.toUpperCase(),
      headers,
      body: options.rawBody ?? (options.body === undefined ? undefined : JSON.stringify(options.body)),
    });
    const text = await response.text();
    this.bodies.push(text);
    let json: any = null;
    try {
      json = JSON.parse(text);
    } catch {
      // HTML, metrics text
    }
    return { status: response.status, contentType: response.headers.get('content-type') ?? '', text, json };
  }

  get = (path: string, token: string | null = VIEWER_TOKEN) => this.call('get', path, { token });
  post = (path: string, body: unknown, token: string | null = OPERATOR_TOKEN) =>
    this.call('post', path, { token, body });

  stop(): Promise<number | null> {
    return this.stopServer();
  }

  /** Polls a job started with 202 until it has finished. */
  job(id: string, timeoutMs = 240_000): Promise<any> {
    return awaiting(`job ${id} to finish`, this.pollJob(id, timeoutMs));
  }

  private async pollJob(id: string, timeoutMs: number): Promise<any> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const response = await this.get(`/api/jobs/${id}`);
      if (response.status !== 200) throw new Error(`GET /api/jobs/${id}: ${response.status} ${response.text}`);
      if (response.json.state !== 'running') return response.json;
      if (Date.now() > deadline) throw new Error(`job ${id} still running after ${timeoutMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
}
