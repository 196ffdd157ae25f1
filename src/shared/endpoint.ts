import type { Client, Pool } from 'pg';
import { EndpointError, type Endpoint } from './errors';
import { displayUrl } from './redact';

/** Connects a client, naming the endpoint in a failure. */
export async function connectNamed(client: Client, endpoint: Endpoint, url: string): Promise<void> {
  try {
    await client.connect();
  } catch (error) {
    throw new EndpointError(endpoint, displayUrl(url), error);
  }
}

/**
 * Makes the pool's connection failures (every query opens connections through connect) name the
 * endpoint: `target (postgres://tandem@db:5432/app): connect ECONNREFUSED …` instead of a bare address.
 */
export function namePoolEndpoint<T extends Pool>(pool: T, endpoint: Endpoint, url: string): T {
  const connect = pool.connect.bind(pool) as (callback?: (...args: unknown[]) => void) => unknown;
  const name = (error: unknown) =>
    error instanceof EndpointError ? error : new EndpointError(endpoint, displayUrl(url), error);
  (pool as unknown as { connect: unknown }).connect = (callback?: (error: unknown, ...rest: unknown[]) => void) => {
    if (callback) return connect((error: unknown, ...rest: unknown[]) => callback(error ? name(error) : error, ...rest));
    return (connect() as Promise<unknown>).catch((error: unknown) => {
      throw name(error);
    });
  };
  return pool;
}

/** kafkajs errors (connection, retries exhausted, protocol) carry no hint that they concern Kafka. */
export function nameKafkaError(error: unknown): unknown {
  if (error instanceof EndpointError || !(error instanceof Error) || !error.name.startsWith('KafkaJS')) return error;
  return new EndpointError('kafka', null, error);
}
