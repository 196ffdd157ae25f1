/**
 * The reconciliation benchmark's tables: a legacy `auth_users` of N rows and the users recipe's
 * `users.users` holding exactly what the projector would have written for them, built inside
 * PostgreSQL with generate_series, in databases of the benchmark's own. Both are UNLOGGED (no WAL:
 * the shared cluster's replication slots need not decode gigabytes of bench rows; reads are the same)
 * and kept between runs, recognized by a marker row.
 */
import { createHash } from 'crypto';
import { Client, Pool } from 'pg';
import { ensureTandemSchema } from '../../src/connectors/postgres-target/tandem-schema';
import { applyMigrations } from '../../src/connectors/postgres-target/migrations';
import { USERS_MIGRATIONS } from '../../src/projections/users/users.migrations';
import { databaseUrl } from '../project/support';
import { env } from '../../test/support/services';

const LAYOUT_VERSION = 1;
export const LEGACY_DATABASE = 'bench_reconcile_legacy';
export const targetDatabase = (rows: number) => `bench_reconcile_target_${rows}`;
export const legacySchema = (rows: number) => `s${rows}`;

/** Row g of the legacy table, as SQL expressions of g (the target side derives from the same ones). */
const legacyId = (g: string) => `md5('user' || ${g})::uuid`;
const legacyEmail = (g: string) => `'user' || ${g} || '@example.com'`;
// a third has a display name, a third a blank one (the name falls back to the e-mail's local part), a third none
const legacyDisplayName = (g: string) => `CASE ${g} % 3 WHEN 0 THEN 'User ' || ${g} WHEN 1 THEN '  ' END`;
const legacyInstance = (g: string) => `CASE WHEN ${g} % 5 = 0 THEN 'tenant' || (${g} % 50) END`;
const createdAt = (g: string) => `timestamptz '2024-01-01 00:00:00+00' + ${g} * interval '1 second'`;

/** The users recipe's row for legacy row g (what apply() writes: see users.projection.ts). */
const targetRow = (schema: string, g: string) =>
  `md5('target' || ${g})::uuid, ${legacyId(g)}, ${legacyEmail(g)}, CASE WHEN ${g} % 3 = 0 THEN 'User ' || ${g} ELSE 'user' || ${g} END,
   coalesce(${legacyInstance(g)}, 'root'), 'invite_pending', '{}'::jsonb, ${createdAt(g)},
   '${schema}.auth_users/{"id":"' || ${legacyId(g)} || '"}', 1`;
const TARGET_COLUMNS =
  'id, source_user_id, email, name, instance_name, status, meta, created_at, _source_key, _source_lsn';

async function withClient<T>(url: string, work: (client: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: url, application_name: 'tandem-bench-reconcile' });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

/**
 * INSERTs of at most CHUNK_ROWS rows, each its own transaction, and indexes built CONCURRENTLY (no
 * transaction id while they sort): creating a logical replication slot anywhere in the cluster waits
 * for every transaction that holds an id to end, and other work on the shared cluster creates slots.
 */
const CHUNK_ROWS = 250_000;

async function insertInChunks(
  rows: number,
  insert: (lo: number, hi: number) => Promise<unknown>,
): Promise<void> {
  for (let lo = 1; lo <= rows; lo += CHUNK_ROWS) await insert(lo, Math.min(lo + CHUNK_ROWS - 1, rows));
}

async function ensureDatabase(name: string): Promise<void> {
  await withClient(env.targetUrl(), async (admin) => {
    const { rowCount } = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (!rowCount) await admin.query(`CREATE DATABASE "${name}"`);
  });
}

async function built(client: Client, marker: string, rows: number): Promise<boolean> {
  const { rows: found } = await client.query(`SELECT to_regclass($1) IS NOT NULL AS present`, [marker]);
  if (!found[0].present) return false;
  const { rows: meta } = await client.query(`SELECT rows, version FROM ${marker}`);
  return meta.length === 1 && Number(meta[0].rows) === rows && meta[0].version === LAYOUT_VERSION;
}

export interface BenchTables {
  legacyUrl: string;
  targetUrl: string;
  schema: string;
  rows: number;
  /** Whether they were built now (false: reused from an earlier run). */
  fresh: boolean;
}

/** Builds (or finds) the legacy table and its projection for `rows` rows. */
export async function ensureTables(rows: number, log: (message: string) => void): Promise<BenchTables> {
  const schema = legacySchema(rows);
  const legacyUrl = databaseUrl(LEGACY_DATABASE);
  const targetUrl = databaseUrl(targetDatabase(rows));
  await ensureDatabase(LEGACY_DATABASE);
  await ensureDatabase(targetDatabase(rows));
  let fresh = false;
  await withClient(legacyUrl, async (client) => {
    if (await built(client, `"${schema}".bench_built`, rows)) return;
    fresh = true;
    log(`building ${schema}.auth_users (${rows} rows) in ${LEGACY_DATABASE}`);
    await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await client.query(`CREATE SCHEMA "${schema}"`);
    await client.query(`CREATE UNLOGGED TABLE "${schema}".auth_users (id text NOT NULL, email text NOT NULL, display_name text,
      instance_name text, raw_user_meta_data jsonb, encrypted_password text, created_at timestamptz NOT NULL)`);
    await insertInChunks(rows, (lo, hi) =>
      client.query(`INSERT INTO "${schema}".auth_users
        SELECT ${legacyId('g')}::text, ${legacyEmail('g')}, ${legacyDisplayName('g')}, ${legacyInstance('g')}, '{"plan": "free"}', md5(g::text), ${createdAt('g')}
          FROM generate_series(${lo}, ${hi}) g`),
    );
    await client.query(`CREATE UNIQUE INDEX CONCURRENTLY auth_users_pkey ON "${schema}".auth_users (id)`);
    await client.query(
      `ALTER TABLE "${schema}".auth_users ADD CONSTRAINT auth_users_pkey PRIMARY KEY USING INDEX auth_users_pkey`,
    );
    await client.query(`VACUUM ANALYZE "${schema}".auth_users`);
    await client.query(`CREATE TABLE "${schema}".bench_built (rows bigint, version int)`);
    await client.query(`INSERT INTO "${schema}".bench_built VALUES ($1, $2)`, [rows, LAYOUT_VERSION]);
  });
  await withClient(targetUrl, async (client) => {
    if (await built(client, 'public.bench_built', rows)) return;
    fresh = true;
    log(`building users.users (${rows} rows) in ${targetDatabase(rows)}`);
    await client.query(
      'DROP SCHEMA IF EXISTS users CASCADE; DROP SCHEMA IF EXISTS tandem CASCADE; DROP TABLE IF EXISTS public.bench_built',
    );
    const pool = new Pool({ connectionString: targetUrl, max: 1 });
    try {
      await ensureTandemSchema(pool);
      await applyMigrations(pool, 'users', 'users', USERS_MIGRATIONS);
    } finally {
      await pool.end();
    }
    // the recipe's table and indexes, loaded without its indexes and indexed afterwards (same result, faster)
    await client.query(`ALTER TABLE users.users SET UNLOGGED`);
    await client.query(
      `ALTER TABLE users.users DROP CONSTRAINT users_pkey, DROP CONSTRAINT users_source_user_id_key`,
    );
    await client.query(`DROP INDEX users.users_email_key`);
    await insertInChunks(rows, (lo, hi) =>
      client.query(
        `INSERT INTO users.users (${TARGET_COLUMNS}) SELECT ${targetRow(schema, 'g')} FROM generate_series(${lo}, ${hi}) g`,
      ),
    );
    await client.query(`CREATE UNIQUE INDEX CONCURRENTLY users_pkey ON users.users (id)`);
    await client.query(
      `CREATE UNIQUE INDEX CONCURRENTLY users_source_user_id_key ON users.users (source_user_id)`,
    );
    await client.query(
      `ALTER TABLE users.users ADD CONSTRAINT users_pkey PRIMARY KEY USING INDEX users_pkey, ADD CONSTRAINT users_source_user_id_key UNIQUE USING INDEX users_source_user_id_key`,
    );
    await client.query(`CREATE UNIQUE INDEX CONCURRENTLY users_email_key ON users.users (email)`);
    await client.query(`VACUUM ANALYZE users.users`);
    await client.query(`CREATE TABLE public.bench_built (rows bigint, version int)`);
    await client.query(`INSERT INTO public.bench_built VALUES ($1, $2)`, [rows, LAYOUT_VERSION]);
  });
  return { legacyUrl, targetUrl, schema, rows, fresh };
}

export async function dropTables(rows: number): Promise<void> {
  await withClient(env.targetUrl(), async (admin) => {
    await admin.query(`DROP DATABASE IF EXISTS "${targetDatabase(rows)}" WITH (FORCE)`);
  });
  await withClient(databaseUrl(LEGACY_DATABASE), (client) =>
    client.query(`DROP SCHEMA IF EXISTS "${legacySchema(rows)}" CASCADE`),
  );
}

const uuidOfMd5 = (text: string) =>
  createHash('md5')
    .update(text)
    .digest('hex')
    .replace(/^(.{8})(.{4})(.{4})(.{4})(.{12})$/, '$1-$2-$3-$4-$5');

export interface ExpectedDifference {
  key: string;
  kind: 'missing' | 'extra' | 'mismatched';
  columns?: Record<string, [string, string]>;
}

/**
 * 100 differences scattered over the table (row g = (i + ½)·N/100 for i = 0..99): a third of the
 * rows renamed in the target, a third deleted from it, a third extra rows that no legacy row has.
 */
export function plannedDifferences(rows: number): Array<ExpectedDifference & { g: number; i: number }> {
  return Array.from({ length: 100 }, (_, i) => {
    const g = Math.floor(((i + 0.5) * rows) / 100) + 1;
    if (i % 3 === 0) {
      const name = g % 3 === 0 ? `User ${g}` : `user${g}`;
      return {
        g,
        i,
        key: uuidOfMd5(`user${g}`),
        kind: 'mismatched' as const,
        columns: { name: [name, `Changed ${i}`] as [string, string] },
      };
    }
    if (i % 3 === 1) return { g, i, key: uuidOfMd5(`user${g}`), kind: 'missing' as const };
    return { g, i, key: uuidOfMd5(`extra${i}`), kind: 'extra' as const };
  });
}

/** Writes the planned differences into the target (undo() puts it back). */
export async function injectDifferences(tables: BenchTables): Promise<void> {
  await withClient(tables.targetUrl, async (client) => {
    await client.query('BEGIN');
    for (const d of plannedDifferences(tables.rows)) {
      if (d.kind === 'mismatched')
        await client.query(`UPDATE users.users SET name = $2 WHERE source_user_id = $1`, [
          d.key,
          d.columns!.name[1],
        ]);
      else if (d.kind === 'missing')
        await client.query(`DELETE FROM users.users WHERE source_user_id = $1`, [d.key]);
      else {
        await client.query(
          `INSERT INTO users.users (${TARGET_COLUMNS}) VALUES (md5('extra-target' || $2::int)::uuid, $1, 'extra' || $2::int || '@example.com',
             'Ghost', 'root', 'invite_pending', '{}', now(), $3, 1)`,
          [d.key, d.i, `${tables.schema}.auth_users/{"id":"${d.key}"}`],
        );
      }
    }
    await client.query('COMMIT');
  });
}

/** Puts the target back to exactly the projection of the legacy rows (idempotent). */
export async function undoDifferences(tables: BenchTables): Promise<void> {
  await withClient(tables.targetUrl, async (client) => {
    await client.query('BEGIN');
    for (const d of plannedDifferences(tables.rows)) {
      if (d.kind === 'extra')
        await client.query(`DELETE FROM users.users WHERE source_user_id = $1`, [d.key]);
      else {
        await client.query(`DELETE FROM users.users WHERE source_user_id = $1`, [d.key]);
        await client.query(
          `INSERT INTO users.users (${TARGET_COLUMNS}) SELECT ${targetRow(tables.schema, '$1::bigint')}`,
          [d.g],
        );
      }
    }
    await client.query('COMMIT');
  });
}
