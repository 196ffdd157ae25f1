import type { ClientBase, QueryConfig } from 'pg';

/**
 * Named (prepared) statements for the projector's writes: a chunk's statements have the same text
 * chunk after chunk (the rows travel in one JSON parameter), so each session parses and plans them
 * once instead of for every chunk. Behind a pooler that hands a session's statements to other
 * sessions (PgBouncer in transaction mode before 1.21), `target.preparedStatements: false` turns
 * them off for a pool's sessions (unnamedStatementsFor).
 */
const MAX_NAMED_PER_SESSION = 500;

const namesBySession = new WeakMap<ClientBase, Map<string, string>>();
const unnamedSessions = new WeakSet<ClientBase>();

/** The session sends its statements unnamed (parsed and planned each time). */
export function unnamedStatementsFor(session: ClientBase): void {
  unnamedSessions.add(session);
}

/** The query as the session should send it: named, unless turned off or the session holds many already. */
export function preparedQuery(session: ClientBase, text: string, values: unknown[]): QueryConfig {
  if (unnamedSessions.has(session)) return { text, values };
  let names = namesBySession.get(session);
  if (!names) namesBySession.set(session, (names = new Map()));
  let name = names.get(text);
  if (name === undefined) {
    if (names.size >= MAX_NAMED_PER_SESSION) return { text, values };
    name = `tandem_${names.size + 1}`;
    names.set(text, name);
  }
  return { name, text, values };
}
