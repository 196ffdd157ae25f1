import { Client } from 'pg';
import { env, uniqueName } from './services';

/** A fresh target database for one test suite (with pgvector), so suites never see each other's rows. */
export async function createTargetDatabase(base: string): Promise<{ url: string; name: string; drop: () => Promise<void> }> {
  const name = uniqueName(base).toLowerCase();
  const admin = new Client({ connectionString: env.targetUrl() });
  await admin.connect();
  await admin.query(`CREATE DATABASE "${name}"`);
  await admin.end();
  const url = new URL(env.targetUrl());
  url.pathname = `/${name}`;
  const client = new Client({ connectionString: url.toString() });
  await client.connect();
  await client.query('CREATE EXTENSION IF NOT EXISTS vector');
  await client.end();
  return {
    url: url.toString(),
    name,
    drop: async () => {
      const cleanup = new Client({ connectionString: env.targetUrl() });
      await cleanup.connect();
      // a slot of the database (failback's, say) would keep it from being dropped
      await cleanup.query('SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE database = $1 AND NOT active', [name]);
      await cleanup.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      await cleanup.end();
    },
  };
}

export async function targetQuery(url: string, text: string, values: unknown[] = []): Promise<Array<Record<string, any>>> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query(text, values)).rows;
  } finally {
    await client.end();
  }
}
