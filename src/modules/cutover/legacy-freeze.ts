import type { ClientBase as Client } from 'pg';
import { ident } from '../../connectors/postgres-target/sql';

/**
 * The write freeze of a cutover, per application role (not per database, so that Tandem's own
 * capture session and other tenants of the cluster keep working):
 * `ALTER ROLE <r> SET default_transaction_read_only = on`, then every open session of that role is
 * terminated, so each new session starts read-only and an INSERT/UPDATE/DELETE fails with
 * "cannot execute … in a read-only transaction". Unfreezing resets the setting.
 * A role can still `SET default_transaction_read_only = off` itself: the freeze stops the
 * application, it is not a security boundary against the role's own operators.
 */
export async function freezeRoles(client: Client, roles: string[]): Promise<number> {
  let terminated = 0;
  for (const role of roles) {
    await client.query(`ALTER ROLE ${ident(role)} SET default_transaction_read_only = on`);
    const { rows } = await client.query<{ n: number }>(
      'SELECT count(pg_terminate_backend(pid))::int AS n FROM pg_stat_activity WHERE usename = $1 AND pid <> pg_backend_pid()',
      [role],
    );
    terminated += rows[0].n;
  }
  return terminated;
}

export async function unfreezeRoles(client: Client, roles: string[]): Promise<void> {
  for (const role of roles) await client.query(`ALTER ROLE ${ident(role)} RESET default_transaction_read_only`);
}

/** The roles (of those given) currently frozen. */
export async function frozenRoles(client: Client, roles: string[]): Promise<string[]> {
  const { rows } = await client.query<{ rolname: string }>(
    `SELECT r.rolname FROM pg_db_role_setting s JOIN pg_roles r ON r.oid = s.setrole
      WHERE s.setdatabase = 0 AND r.rolname = ANY($1) AND 'default_transaction_read_only=on' = ANY(s.setconfig)`,
    [roles],
  );
  return rows.map((row) => row.rolname);
}

export async function missingRoles(client: Client, roles: string[]): Promise<string[]> {
  const { rows } = await client.query<{ rolname: string }>('SELECT rolname FROM pg_roles WHERE rolname = ANY($1)', [roles]);
  const present = new Set(rows.map((row) => row.rolname));
  return roles.filter((role) => !present.has(role));
}

export async function currentLsn(client: Client): Promise<string> {
  const { rows } = await client.query<{ lsn: string }>('SELECT pg_current_wal_lsn()::text AS lsn');
  return rows[0].lsn;
}

export async function slotConfirmedLsn(client: Client, slot: string): Promise<string | null> {
  const { rows } = await client.query<{ lsn: string | null }>('SELECT confirmed_flush_lsn::text AS lsn FROM pg_replication_slots WHERE slot_name = $1', [slot]);
  return rows[0]?.lsn ?? null;
}
