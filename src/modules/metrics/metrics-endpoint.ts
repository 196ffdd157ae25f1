import { createServer, type Server } from 'http';
import type { AddressInfo } from 'net';
import type { AppliedBatch } from '../../projections/pipeline/live-sink';
import { TandemMetrics } from './tandem-metrics';

/**
 * `tandem project --metrics-port`: the projector's own in-process metrics (batch apply latency, events
 * applied) on GET /metrics. Plain node:http, on 127.0.0.1 unless told otherwise, no token: it exposes
 * counts and timings only, no data.
 */
export class MetricsEndpoint {
  readonly metrics = new TandemMetrics();
  private server: Server | null = null;

  readonly onBatchApplied = (batch: AppliedBatch): void => {
    this.metrics.batchApplySeconds.observe({ projection: batch.projection }, batch.seconds);
    this.metrics.eventsApplied.inc({ projection: batch.projection }, batch.applied);
  };

  async listen(port: number, host: string): Promise<number> {
    const server = createServer((request, response) => {
      if (request.method !== 'GET' || request.url?.split('?')[0] !== '/metrics') {
        response.writeHead(404).end();
        return;
      }
      this.metrics.registry.metrics().then(
        (text) => response.writeHead(200, { 'Content-Type': this.metrics.registry.contentType }).end(text),
        () => response.writeHead(500).end(),
      );
    });
    this.server = server;
    await new Promise<void>((resolve, reject) =>
      server.once('error', reject).listen(port, host, () => resolve()),
    );
    return (server.address() as AddressInfo).port;
  }

  async close(): Promise<void> {
    const server = this.server;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
