/**
 * A TCP relay in front of PostgreSQL that counts what crosses the wire: bytes each way and the
 * queries the clients send (simple Query and extended-protocol Parse messages). Clients connect to
 * its port instead of PostgreSQL's; nothing is changed on the way.
 */
import { createServer, connect, type AddressInfo, type Server, type Socket } from 'net';

const SSL_REQUEST = 80877103;
const GSSENC_REQUEST = 80877104;

export interface WireCounts {
  bytesToServer: number;
  bytesToClient: number;
  queries: number;
}

/** Counts the frontend messages of one connection, whatever chunks they arrive in. */
class FrontendMessages {
  private buffer = Buffer.alloc(0);
  private startup = true;

  constructor(private readonly onQuery: () => void) {}

  push(chunk: Buffer): void {
    this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
    for (;;) {
      if (this.startup) {
        if (this.buffer.length < 8) return;
        const length = this.buffer.readInt32BE(0);
        if (this.buffer.length < length) return;
        const code = this.buffer.readInt32BE(4);
        this.startup = code === SSL_REQUEST || code === GSSENC_REQUEST;
        this.buffer = this.buffer.subarray(length);
        continue;
      }
      if (this.buffer.length < 5) return;
      const length = this.buffer.readInt32BE(1) + 1;
      if (this.buffer.length < length) return;
      const type = String.fromCharCode(this.buffer[0]);
      if (type === 'Q' || type === 'P') this.onQuery();
      this.buffer = this.buffer.subarray(length);
    }
  }
}

export class WireCounter {
  readonly counts: WireCounts = { bytesToServer: 0, bytesToClient: 0, queries: 0 };
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();

  private constructor(upstreamHost: string, upstreamPort: number) {
    this.server = createServer((client) => {
      const upstream = connect(upstreamPort, upstreamHost);
      const messages = new FrontendMessages(() => this.counts.queries++);
      this.sockets.add(client).add(upstream);
      client.on('data', (chunk: Buffer) => {
        this.counts.bytesToServer += chunk.length;
        messages.push(chunk);
      });
      upstream.on('data', (chunk: Buffer) => {
        this.counts.bytesToClient += chunk.length;
      });
      client.pipe(upstream);
      upstream.pipe(client);
      const close = () => {
        client.destroy();
        upstream.destroy();
        this.sockets.delete(client);
        this.sockets.delete(upstream);
      };
      client.on('close', close).on('error', close);
      upstream.on('close', close).on('error', close);
    });
  }

  /** Listens on a free port of 127.0.0.1 and relays to the PostgreSQL of `url`. */
  static async start(url: string): Promise<WireCounter> {
    const target = new URL(url);
    const counter = new WireCounter(target.hostname, Number(target.port || 5432));
    await new Promise<void>((resolve) => counter.server.listen(0, '127.0.0.1', resolve));
    return counter;
  }

  /** `url` with its host and port replaced by the relay's. */
  relayed(url: string): string {
    const relayed = new URL(url);
    relayed.hostname = '127.0.0.1';
    relayed.port = String((this.server.address() as AddressInfo).port);
    return relayed.toString();
  }

  reset(): void {
    Object.assign(this.counts, { bytesToServer: 0, bytesToClient: 0, queries: 0 });
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
