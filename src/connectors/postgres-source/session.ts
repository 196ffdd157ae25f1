import { Client, type ClientConfig } from 'pg';

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
  await client.connect();
  return client;
}

/** Every value as PostgreSQL's text, without pg-types' global parsers. */
export const RAW_TEXT_TYPES = { getTypeParser: () => (value: string) => value };

export function quoteIdent(identifier: string): string {
  return `"${identifier.replace(/"/g, '""')}"`;
}

export function qualifiedName(schema: string, table: string): string {
  return `${quoteIdent(schema)}.${quoteIdent(table)}`;
}
