import { TandemProcess } from '../support/capture-process';
import { createTargetDatabase, targetQuery } from '../support/target-db';

/**
 * `tandem schema-diff` against two real databases: a legacy one (schema `legacy`) and a new one
 * (schema `app`, plus Tandem's own `tandem` schema, which is never compared), first equal, then with
 * one difference of each kind made by DDL, each reported exactly once; JSON shape; exit codes.
 */
describe('tandem schema-diff', () => {
  let source: Awaited<ReturnType<typeof createTargetDatabase>>;
  let target: Awaited<ReturnType<typeof createTargetDatabase>>;

  const ddl = (s: string) => `
    CREATE SCHEMA ${s};
    CREATE TYPE ${s}.mood AS ENUM ('ok', 'meh');
    CREATE TABLE ${s}.orgs (id bigserial PRIMARY KEY, name text NOT NULL UNIQUE);
    CREATE TABLE ${s}.users (
      id bigserial PRIMARY KEY,
      org_id bigint REFERENCES ${s}.orgs (id) ON DELETE CASCADE,
      email text NOT NULL,
      nickname varchar(40),
      mood ${s}.mood,
      age integer,
      created_at timestamptz NOT NULL DEFAULT now(),
      CONSTRAINT users_age_check CHECK (age >= 0)
    );
    CREATE INDEX users_email_idx ON ${s}.users (lower(email));
    CREATE INDEX users_org_idx ON ${s}.users (org_id) WHERE org_id IS NOT NULL;
    CREATE TABLE ${s}.audit_log (id bigint PRIMARY KEY, message text);`;

  const schemaDiff = async (...args: string[]) => {
    const run = new TandemProcess(['schema-diff', '--source', source.url, '--target', target.url, ...args]);
    const code = await run.exited;
    return { code, stdout: run.stdout, output: run.output };
  };

  beforeAll(async () => {
    [source, target] = await Promise.all([createTargetDatabase('sdiff_src'), createTargetDatabase('sdiff_dst')]);
    await targetQuery(source.url, ddl('legacy'));
    await targetQuery(target.url, `${ddl('app')}
      CREATE SCHEMA IF NOT EXISTS tandem; CREATE TABLE tandem.checkpoints_copy (id int PRIMARY KEY);`);
  });

  afterAll(async () => {
    await Promise.all([source?.drop(), target?.drop()]);
  });

  it('finds no difference between equal schemas under a schema map (exit 0), and never prints a password', async () => {
    const { code, stdout, output } = await schemaDiff('--schema-map', 'legacy=app');
    expect(output).not.toMatch(/:tandem@/);
    expect(code).toBe(0);
    expect(stdout).toContain('No differences: 3 table(s) compared.');
    expect(stdout).toContain('schemas: legacy→app');
    const { host } = new URL(source.url);
    expect(stdout).toContain(`source: postgres://tandem:***@${host}/sdiff_src`);
  });

  it('without a map pairs schemas by name (tandem is never compared)', async () => {
    const { code, stdout } = await schemaDiff('--json');
    expect(code).toBe(7);
    const report = JSON.parse(stdout);
    expect(report.schemas).toEqual([
      { source: 'app', target: 'app' },
      { source: 'legacy', target: 'legacy' },
      { source: 'public', target: 'public' },
    ]);
    expect(report.differences.map((d: any) => `${d.kind} ${d.sourceTable ?? d.targetTable}`).sort()).toEqual([
      'missing_table legacy.audit_log',
      'missing_table legacy.orgs',
      'missing_table legacy.users',
      'new_table app.audit_log',
      'new_table app.orgs',
      'new_table app.users',
    ]);
  });

  it('reports a missing table, a new table, a missing column, a type change, a nullability change, a missing index and a missing constraint, each exactly once (exit 7)', async () => {
    await targetQuery(
      target.url,
      `DROP TABLE app.audit_log;
       CREATE TABLE app.settings (key text PRIMARY KEY, value jsonb);
       ALTER TABLE app.users DROP COLUMN nickname;
       ALTER TABLE app.users ALTER COLUMN age TYPE bigint;
       ALTER TABLE app.users ALTER COLUMN email DROP NOT NULL;
       DROP INDEX app.users_email_idx;
       ALTER TABLE app.users DROP CONSTRAINT users_age_check;`,
    );
    const [json, text] = await Promise.all([schemaDiff('--schema-map', 'legacy=app', '--json'), schemaDiff('--schema-map', 'legacy=app')]);
    expect(json.code).toBe(7);
    const report = JSON.parse(json.stdout);
    expect(Object.keys(report)).toEqual(['source', 'target', 'schemas', 'tablesCompared', 'identical', 'total', 'counts', 'differences']);
    expect(report).toMatchObject({
      source: { url: expect.stringContaining('tandem:***@'), database: source.name, serverVersion: expect.stringMatching(/^\d+/) },
      target: { database: target.name },
      schemas: [{ source: 'legacy', target: 'app' }],
      tablesCompared: 2,
      identical: false,
      total: 7,
    });
    expect(report.differences).toEqual([
      { kind: 'missing_table', sourceTable: 'legacy.audit_log', targetTable: 'app.audit_log', name: null, source: '2 columns', target: null },
      { kind: 'new_table', sourceTable: null, targetTable: 'app.settings', name: null, source: null, target: '2 columns' },
      { kind: 'missing_column', sourceTable: 'legacy.users', targetTable: 'app.users', name: 'nickname', source: 'character varying(40) NULL', target: null },
      { kind: 'type_changed', sourceTable: 'legacy.users', targetTable: 'app.users', name: 'age', source: 'integer', target: 'bigint' },
      { kind: 'nullability_changed', sourceTable: 'legacy.users', targetTable: 'app.users', name: 'email', source: 'NOT NULL', target: 'NULL' },
      {
        kind: 'missing_index',
        sourceTable: 'legacy.users',
        targetTable: 'app.users',
        name: 'users_email_idx',
        source: 'CREATE INDEX users_email_idx ON legacy.users USING btree (lower(email))',
        target: null,
      },
      {
        kind: 'missing_constraint',
        sourceTable: 'legacy.users',
        targetTable: 'app.users',
        name: 'users_age_check',
        source: 'CHECK: CHECK ((age >= 0))',
        target: null,
      },
    ]);
    const nonZero = Object.fromEntries(Object.entries(report.counts).filter(([, n]) => n !== 0));
    expect(nonZero).toEqual({ missing_table: 1, new_table: 1, missing_column: 1, type_changed: 1, nullability_changed: 1, missing_index: 1, missing_constraint: 1 });

    expect(text.code).toBe(7);
    expect(text.stdout).toMatch(/missing table\s+legacy\.audit_log → app\.audit_log/);
    expect(text.stdout).toMatch(/type changed\s+legacy\.users → app\.users\s+age\s+integer\s+bigint/);
    expect(text.stdout).toContain(
      '7 difference(s) in 2 table(s) compared: 1 missing table, 1 new table, 1 missing column, 1 type changed, 1 nullability changed, 1 missing index, 1 missing constraint.',
    );
    expect(text.output).not.toMatch(/:tandem@/);
  });

  it('refuses a schema map naming Tandem\'s own schema or a malformed pair (exit 2)', async () => {
    const [tandem, malformed] = await Promise.all([schemaDiff('--schema-map', 'legacy=tandem'), schemaDiff('--schema-map', 'legacy=app=x')]);
    expect(tandem.code).toBe(2);
    expect(tandem.output).toContain('"tandem" is a system schema or Tandem\'s own');
    expect(malformed.code).toBe(2);
    expect(malformed.output).toContain('is not legacy=target');
  });
});
