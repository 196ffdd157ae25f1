import 'reflect-metadata';
import { readFileSync } from 'fs';
import type { Server } from 'http';
import type { AddressInfo } from 'net';
import {
  type DynamicModule,
  BadRequestException,
  HttpException,
  PayloadTooLargeException,
  UnauthorizedException,
} from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { ExpressAdapter, type NestExpressApplication } from '@nestjs/platform-express';
import { ConfigError } from '../../shared/errors';
import type { Logger } from '../../shared/logger';
import type { TandemConfig } from '../config/config.schema';
import { AdminAppModule } from './admin-app.module';
import type { AdminTokens } from './auth/admin-tokens';
import { authenticateHeader } from './http/bearer-auth.guard';
import { JobRegistry } from './jobs/job-registry';
import { TARGET_POOL } from './http/audited-action';
import type { Pool } from 'pg';
import { ensureTandemSchema } from '../../connectors/postgres-target/tandem-schema';

/** The largest request body read; a larger one is refused with 413 before it is parsed. */
export const MAX_BODY_BYTES = 64 * 1024;
/**
 * Finite timeouts, so that slow or idle clients cannot hold connections forever. Nothing needs
 * longer: operations that can take minutes (reconcile, replay, cutover start) are jobs.
 */
export const SERVER_TIMEOUTS = { requestTimeoutMs: 60_000, headersTimeoutMs: 20_000, keepAliveTimeoutMs: 5_000 };

export interface RunningAdminServer {
  /** Where it listens, e.g. https://0.0.0.0:8443/. */
  url: string;
  /** The port bound (the one asked for, or a free one for 0). */
  port: number;
  server: Server;
  /** Waits for running jobs, then stops the server, the status sampling and, last, the shared connections. */
  close(): Promise<void>;
}

interface Request {
  method: string;
  headers: Record<string, string | string[] | undefined>;
}
type Next = (error?: unknown) => void;

/**
 * The body parser's errors as answers that say what is wrong and quote nothing of the body (a
 * parser's message may hold a piece of it).
 */
function bodyError(error: unknown): unknown {
  const e = error as { expose?: unknown; status?: unknown; type?: unknown };
  if (e === null || typeof e !== 'object' || e.expose !== true || typeof e.status !== 'number') return error;
  if (e.type === 'entity.too.large')
    return new PayloadTooLargeException(`the request body is larger than ${MAX_BODY_BYTES} bytes`);
  if (e.type === 'entity.parse.failed') return new BadRequestException('the request body is not valid JSON');
  return new HttpException(`the request body cannot be read (${String(e.type ?? 'bad request')})`, e.status);
}

/** The PEM files of admin.tls, read at start-up (an unreadable one names its field, never its content). */
function readTlsFiles(tls: { cert: string; key: string }): { cert: Buffer; key: Buffer } {
  const read = (field: 'cert' | 'key') => {
    try {
      return readFileSync(tls[field]);
    } catch (error) {
      throw new ConfigError(`admin.tls.${field}: cannot read ${tls[field]} (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
    }
  };
  return { cert: read('cert'), key: read('key') };
}

/** Loopback addresses: reachable only from this machine. */
export function isLoopbackHost(host: string): boolean {
  const bare = host.replace(/^\[|\]$/g, '').toLowerCase();
  return bare === 'localhost' || bare === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(bare) || bare === '::ffff:127.0.0.1';
}

/**
 * `tandem serve`'s HTTP server: the admin API, the status page and /metrics. Every response says
 * nosniff and carries a deny-all Content-Security-Policy unless its route sets its own (the status
 * page, report pages); a request with a body is authenticated before the body is read.
 */
export async function startAdminServer(options: {
  config: TandemConfig;
  /** The composition root (TandemModule.forConfig(config)): the services and connections the API uses. */
  root: DynamicModule;
  tokens: AdminTokens;
  port: number;
  host: string;
  logger: Logger;
}): Promise<RunningAdminServer> {
  const tls = options.config.admin.tls;
  const app = await NestFactory.create<NestExpressApplication>(
    AdminAppModule.forRoot(options.root, options.tokens),
    new ExpressAdapter(),
    { logger: false, abortOnError: false, bodyParser: false, ...(tls ? { httpsOptions: readTlsFiles(tls) } : {}) },
  );
  app.getHttpAdapter().getInstance().disable('x-powered-by');
  app.use((_request: Request, response: { setHeader(name: string, value: string): void }, next: Next) => {
    response.setHeader('X-Content-Type-Options', 'nosniff');
    response.setHeader('Content-Security-Policy', "default-src 'none'; frame-ancestors 'none'");
    response.setHeader('Referrer-Policy', 'no-referrer');
    if (tls) response.setHeader('Strict-Transport-Security', 'max-age=31536000');
    next();
  });
  app.use((request: Request, _response: unknown, next: Next) => {
    // Every route that takes a body needs a token: check it before reading a byte of the body.
    if (['GET', 'HEAD', 'OPTIONS'].includes(request.method)) return next();
    const { principal, problem } = authenticateHeader(options.tokens, request.headers.authorization);
    next(principal ? undefined : new UnauthorizedException(problem));
  });
  app.useBodyParser('json', { limit: MAX_BODY_BYTES });
  app.use((error: unknown, _request: Request, _response: unknown, next: Next) => next(bodyError(error)));
  await ensureTandemSchema(app.get<Pool>(TARGET_POOL));
  await app.listen(options.port, options.host);
  const server = app.getHttpServer() as Server;
  server.requestTimeout = SERVER_TIMEOUTS.requestTimeoutMs;
  server.headersTimeout = SERVER_TIMEOUTS.headersTimeoutMs;
  server.keepAliveTimeout = SERVER_TIMEOUTS.keepAliveTimeoutMs;
  server.setTimeout(SERVER_TIMEOUTS.requestTimeoutMs);
  if (!tls && !isLoopbackHost(options.host))
    options.logger.warn(
      { host: options.host },
      'the admin API listens beyond this machine without TLS: bearer tokens cross the network in clear; set admin.tls, put it behind a TLS-terminating proxy, or listen on 127.0.0.1',
    );
  return {
    url: `${tls ? 'https' : 'http'}://${options.host}:${(server.address() as AddressInfo).port}/`,
    port: (server.address() as AddressInfo).port,
    server,
    close: async () => {
      await app.get(JobRegistry).settled();
      await app.close();
    },
  };
}
