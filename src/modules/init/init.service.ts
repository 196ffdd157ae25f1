import { existsSync, writeFileSync } from 'fs';
import { Client } from 'pg';
import { readCatalogWith } from '../../connectors/postgres-catalog/catalog-reader';
import { ConfigError } from '../../shared/errors';
import { readCaptureReadiness, type SourceReadiness } from './capture-readiness';
import { renderInitConfig } from './init-config';

export interface InitOptions {
  sourceUrl: string;
  /** Only these schemas (default: every schema but the system ones and tandem). */
  schemas?: string[];
  targetUrl?: string;
  brokers: string[];
  publication?: string;
  out: string;
  force?: boolean;
}

export interface InitResult {
  file: string;
  readiness: SourceReadiness;
}

/**
 * `tandem init`: reads the source catalog in a read-only session (nothing on the source changes)
 * and writes a commented tandem.yaml. Refuses to overwrite a file unless `force`.
 */
export async function runInit(options: InitOptions): Promise<InitResult> {
  if (existsSync(options.out) && !options.force) throw new ConfigError(`--out ${options.out}: the file exists (use --force to overwrite it)`);
  const publication = options.publication ?? 'tandem_pub';
  const client = new Client({
    connectionString: options.sourceUrl,
    application_name: 'tandem-init',
    // every transaction of this session is read-only, whatever a query would try
    options: '-c default_transaction_read_only=on',
  });
  client.on('error', () => undefined);
  await client.connect();
  try {
    const catalog = await readCatalogWith(client, { schemas: options.schemas });
    const tables = catalog.tables.map((t) => ({ schema: t.schema, name: t.name }));
    if (tables.length === 0) {
      const where = options.schemas?.length ? `the schema(s) ${options.schemas.join(', ')}` : 'any schema';
      throw new ConfigError(`--source: no tables in ${where} of the database ${catalog.database}`);
    }
    const readiness = await readCaptureReadiness(client, tables, publication);
    const schemas = [...new Set(tables.map((t) => t.schema))];
    const text = renderInitConfig({
      database: catalog.database,
      serverVersion: catalog.serverVersion,
      schemas,
      sourceUrl: options.sourceUrl,
      targetUrl: options.targetUrl,
      brokers: options.brokers,
      publication,
      readiness,
    });
    writeFileSync(options.out, text, { flag: options.force ? 'w' : 'wx' });
    return { file: options.out, readiness };
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** True when capture would start on this source as it is. */
export function isReady(readiness: SourceReadiness): boolean {
  return readiness.problems.length === 0 && readiness.tables.every((t) => t.problems.length === 0);
}
