import { userInfo } from 'os';
import type { ClientBase, Pool } from 'pg';

/** Who runs a command: --operator, else $USER, else the OS account. */
export function operatorOf(flag?: string): string {
  const name = flag ?? process.env.USER ?? safeUserName();
  if (!name || name.trim() === '') throw new Error('--operator: cannot tell who is running this; pass --operator NAME');
  return name.trim();
}

function safeUserName(): string | undefined {
  try {
    return userInfo().username;
  } catch {
    return undefined;
  }
}

/** One line of tandem.operator_audit (every cutover transition, replay, backup, restore and rollback). */
export async function audit(
  db: Pool | ClientBase,
  operator: string,
  action: string,
  subject: string,
  details: Record<string, unknown> = {},
  result?: { outcome: 'ok' | 'failed'; error?: string },
): Promise<void> {
  await db.query('INSERT INTO tandem.operator_audit (operator, action, subject, details, outcome, error) VALUES ($1, $2, $3, $4, $5, $6)', [
    operator,
    action,
    subject,
    JSON.stringify(details, (_key, value: unknown) => (typeof value === 'bigint' ? value.toString() : value)),
    result?.outcome ?? null,
    result?.error ?? null,
  ]);
}
