import type { ClientBase } from 'pg';
import { preparedQuery, unnamedStatementsFor } from '../../src/connectors/postgres-target/prepared-statements';

const session = () => ({}) as ClientBase;

describe('preparedQuery', () => {
  it('gives a text the same name in a session, another text another name, and each session its own names', () => {
    const [a, b] = [session(), session()];
    const first = preparedQuery(a, 'INSERT 1', [1]);
    expect(first).toEqual({ name: 'tandem_1', text: 'INSERT 1', values: [1] });
    expect(preparedQuery(a, 'INSERT 2', []).name).toBe('tandem_2');
    expect(preparedQuery(a, 'INSERT 1', [2])).toEqual({ name: 'tandem_1', text: 'INSERT 1', values: [2] });
    expect(preparedQuery(b, 'INSERT 2', []).name).toBe('tandem_1');
  });

  it('sends texts unnamed once a session holds 500, and always for a session turned unnamed', () => {
    const busy = session();
    for (let n = 0; n < 500; n++) preparedQuery(busy, `SELECT ${n}`, []);
    expect(preparedQuery(busy, 'SELECT 0', []).name).toBe('tandem_1');
    expect(preparedQuery(busy, 'SELECT 500', [])).toEqual({ text: 'SELECT 500', values: [] });
    const pooled = session();
    unnamedStatementsFor(pooled);
    expect(preparedQuery(pooled, 'INSERT 1', [1])).toEqual({ text: 'INSERT 1', values: [1] });
  });
});
