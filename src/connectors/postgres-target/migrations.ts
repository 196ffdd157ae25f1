import { createHash } from 'crypto';
import type { ClientBase, Pool } from 'pg';
import { MigrationError } from '../../shared/errors';
import { ident } from './sql';
import type { Migration } from '../../contracts/migration';
import { withTransaction } from '../../shared/transaction';

export const checksum = (sql: string) => createHash('sha256').update(sql).digest('hex').slice(0, 16);

/**
 * Applies a projection's pending migrations in order, each in its own transaction with
 * search_path = <schema>, public, and records them in tandem.projection_migrations. An applied
 * migration whose text changed stops start-up: migrations are append-only.
 */
export async function applyMigrations(pool: Pool, projection: string, schema: string, steps: Migration[]): Promise<number[]> {
  return withTransaction(pool, async (client) => {
    const applied: number[] = [];
    await client.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [`tandem.migrate:${projection}`]);
    const done = await client.query<{ version: number; checksum: string }>(
      'SELECT version, checksum FROM tandem.projection_migrations WHERE projection = $1',
      [projection],
    );
    const known = new Map(done.rows.map((row) => [row.version, row.checksum]));
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${ident(schema)}`);
    await client.query(`SET LOCAL search_path = ${ident(schema)}, public`);
    for (const step of [...steps].sort((a, b) => a.version - b.version)) {
      const existing = known.get(step.version);
      if (existing !== undefined) {
        if (existing !== checksum(step.sql)) {
          throw new MigrationError(
            `migration ${step.version} (${step.name}) of projection ${projection} changed after it was applied; add a new migration instead`,
          );
        }
        continue;
      }
      await client.query(step.sql);
      await recordAppliedMigration(client, projection, step.version, step.name, step.sql);
      applied.push(step.version);
    }
    return applied;
  });
}

/**
 * The one writer of tandem.projection_migrations: records a migration as applied (by applyMigrations,
 * or outside it: a mirror's column added while streaming), so that it is not run again.
 */
export async function recordAppliedMigration(db: ClientBase, projection: string, version: number, name: string, sql: string): Promise<void> {
  await db.query(
    `INSERT INTO tandem.projection_migrations (projection, version, name, checksum) VALUES ($1, $2, $3, $4)
     ON CONFLICT (projection, version) DO NOTHING`,
    [projection, version, name, checksum(sql)],
  );
}

/** The projection's migrations count as never applied (a scratch key, or a projection reset). */
export async function forgetMigrations(db: Pool | ClientBase, projection: string): Promise<void> {
  await db.query('DELETE FROM tandem.projection_migrations WHERE projection = $1', [projection]);
}
