import { TandemProcess } from './capture-process';

export const OPERATOR_TOKEN = 'op-3f9c2a7d1e8b4c6a9d0e';
export const VIEWER_TOKEN = 'vw-8a1b2c3d4e5f60718293';
export const ADMIN_TOKENS = `alice:operator:${OPERATOR_TOKEN},bob:viewer:${VIEWER_TOKEN}`;

export interface ApiResponse {
  status: number;
  contentType: string;
  text: string;
  json: any;
}

/** `tandem serve` as a child process on a free port, with every response body it gave kept for leak checks. */
export class AdminServer {
  readonly bodies: string[] = [];

  private constructor(
    readonly process: TandemProcess,
    readonly baseUrl: string,
  ) {}

  static async start(
    configFile: string,
    env: Record<string, string> = { TANDEM_ADMIN_TOKENS: ADMIN_TOKENS },
  ): Promise<AdminServer> {
    const child = new TandemProcess(['serve', '--config', configFile, '--port', '0'], env);
    await child.waitForLog(/status page on http:\/\/[^:]+:\d+\//, 240_000);
    const port = /status page on http:\/\/[^:]+:(\d+)\//.exec(child.output)![1];
    return new AdminServer(child, `http://127.0.0.1:${port}`);
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
    return this.process.stop();
  }
}
