import { Client, type ClientConfig } from 'pg';
import { connectNamed } from '../../shared/endpoint';

/**
 * Session settings under which PostgreSQL writes values in the text form the value converter
 * expects, for the snapshot and for the walsender alike.
 */
export const CAPTURE_SESSION_OPTIONS =
  '-c TimeZone=UTC -c DateStyle=ISO,YMD -c IntervalStyle=postgres -c extra_float_digits=3 -c bytea_output=hex';

export function sourceClientConfig(url: string, extra: Partial<ClientConfig> = {}): ClientConfig {
  return { connectionString: url, options: CAPTURE_SESSION_OPTIONS, application_name: 'tandem-capture', ...extra };
}

export async function connectSource(url: string, extra: Partial<ClientConfig> = {}): Promise<Client> {
  const client = new Client(sourceClientConfig(url, extra));
  ignoreIdleErrors(client);
  await connectNamed(client, 'source', url);
  return client;
}

/**
 * A session that breaks while no query runs on it (the source restarted) emits 'error', which would
 * crash the process with a stack trace. Queries in flight, and any later query, still fail with the
 * error, so capture stops with a clear message (the replication stream breaks at the same moment).
 */
export function ignoreIdleErrors(client: Client): void {
  client.on('error', () => undefined);
}

/** Every value as PostgreSQL's text, without pg-types' global parsers. */
export const RAW_TEXT_TYPES = { getTypeParser: () => (value: string) => value };

export function quoteIdent(identifier: string): string {
  return `"${identifier.replace(/"/g, '""')}"`;
}

export function qualifiedName(schema: string, table: string): string {
  return `${quoteIdent(schema)}.${quoteIdent(table)}`;
}
