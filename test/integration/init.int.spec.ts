import { mkdtempSync, readFileSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { parse } from 'yaml';
import { isReady, runInit } from '../../src/modules/init/init.service';
import { renderReadiness } from '../../src/modules/init/init-config';
import { validateConfig } from '../../src/modules/config/load-config';
import { ConfigError } from '../../src/shared/errors';
import { env, sql, uniqueName } from '../support/services';
import { TandemProcess } from '../support/capture-process';

/** `tandem init` against the real source: what it writes, what it reports, and that it changes nothing. */
describe('tandem init', () => {
  const schema = uniqueName('init');
  const role = uniqueName('init_reader');
  const password = 'Secret-init-pw-42';
  const folder = mkdtempSync(join(tmpdir(), 'tandem-init-'));
  const asRole = () => {
    const url = new URL(env.sourceUrl());
    url.username = role;
    url.password = password;
    return url.toString();
  };

  beforeAll(async () => {
    await sql(`
      CREATE SCHEMA ${schema};
      CREATE TABLE ${schema}.customers (id bigint PRIMARY KEY, email text NOT NULL);
      CREATE TABLE ${schema}.lines (region text, order_no int, line int, sku text, PRIMARY KEY (region, order_no, line));
      CREATE TABLE ${schema}.audit_log (at timestamptz, message text);
      CREATE TABLE ${schema}.events (at timestamptz, payload jsonb);
      ALTER TABLE ${schema}.events REPLICA IDENTITY FULL;
      CREATE TABLE ${schema}.measures (day date NOT NULL, value int, PRIMARY KEY (day)) PARTITION BY RANGE (day);
      CREATE TABLE ${schema}.measures_2026 PARTITION OF ${schema}.measures FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
      CREATE ROLE ${role} LOGIN PASSWORD '${password}';
      GRANT USAGE ON SCHEMA ${schema} TO ${role};
      GRANT SELECT ON ${schema}.customers TO ${role};
    `);
  });

  afterAll(async () => {
    await sql(`DROP SCHEMA ${schema} CASCADE; DROP OWNED BY ${role}; DROP ROLE ${role}`);
  });

  it('writes a commented tandem.yaml with the tables, a mirror of them and Kafka defaults, and reports per table what capture needs', async () => {
    const out = join(folder, 'tandem.yaml');
    const { readiness } = await runInit({ sourceUrl: env.sourceUrl(), schemas: [schema], targetUrl: env.targetUrl(), brokers: env.brokers(), out });
    const text = readFileSync(out, 'utf8');
    const raw = parse(text);
    expect(raw.source.tables).toEqual([`${schema}.audit_log`, `${schema}.customers`, `${schema}.events`, `${schema}.lines`, `${schema}.measures`]);
    expect(raw.projections).toEqual([{ name: 'legacy', mirror: { tables: raw.source.tables } }]);
    expect(raw.kafka).toEqual({ brokers: env.brokers(), topicPrefix: 'legacy', partitions: 3, replicationFactor: 1 });
    expect(raw.target.url).toBe(env.targetUrl().replace(/:[^:@/]+@/, '@'));
    expect(text).toContain(`- ${schema}.lines`);
    expect(text).toMatch(/# key \(region, order_no, line\)/);
    expect(text).toContain(`# ${schema}.measures_2026 is a partition of ${schema}.measures`);
    // the file is a valid configuration as written
    expect(validateConfig(raw, out).projections).toEqual([{ name: 'legacy', mirror: { tables: raw.source.tables } }]);

    expect(isReady(readiness)).toBe(false); // audit_log has neither a key nor REPLICA IDENTITY FULL
    const report = renderReadiness(readiness);
    expect(report).toContain(`${schema}.customers`);
    expect(report).toMatch(new RegExp(`${schema}\\.audit_log +NOT READY: NO KEY`));
    expect(report).toContain(`fix: ALTER TABLE "${schema}"."audit_log" REPLICA IDENTITY FULL;`);
    expect(report).toMatch(new RegExp(`${schema}\\.events +ready: no key; REPLICA IDENTITY FULL`));
    expect(report).toMatch(new RegExp(`${schema}\\.measures_2026 +skipped: a partition of ${schema}\\.measures`));
    expect(report).toMatch(/wal_level=logical/);
  });

  it('names each missing privilege with its fix, writes no password, and changes nothing on the source', async () => {
    const out = join(folder, 'as-reader.yaml');
    const before = await sql(
      `SELECT (SELECT count(*) FROM pg_publication) AS publications, (SELECT count(*) FROM pg_replication_slots) AS slots,
              (SELECT relreplident FROM pg_class WHERE oid = '${schema}.audit_log'::regclass) AS identity`,
    );
    const { readiness } = await runInit({ sourceUrl: asRole(), schemas: [schema], brokers: ['k:9092'], out });
    const text = readFileSync(out, 'utf8');
    expect(text).not.toContain(password);
    expect(parse(text).source.url).toBe(asRole().replace(`:${password}@`, '@'));
    expect(text).toContain('# target:');

    const report = renderReadiness(readiness);
    expect(report).toContain(`the role ${role} has no REPLICATION privilege`);
    expect(report).toContain(`fix: ALTER ROLE ${role} WITH REPLICATION;`);
    expect(report).toContain(`fix: GRANT SELECT ON "${schema}"."lines" TO ${role};`);
    expect(report).toContain(`fix: -- as its owner: ALTER PUBLICATION tandem_pub ADD TABLE "${schema}"."customers";`);
    expect(readiness.tables.find((t) => t.name === 'customers')!.canSelect).toBe(true);
    expect(await sql(
      `SELECT (SELECT count(*) FROM pg_publication) AS publications, (SELECT count(*) FROM pg_replication_slots) AS slots,
              (SELECT relreplident FROM pg_class WHERE oid = '${schema}.audit_log'::regclass) AS identity`,
    )).toEqual(before);
  });

  it('writes one mirror per schema, each into the schema of the same name', async () => {
    const other = `${schema}_b`;
    await sql(`CREATE SCHEMA ${other}; CREATE TABLE ${other}.customers (id int PRIMARY KEY)`);
    try {
      const out = join(folder, 'two-schemas.yaml');
      await runInit({ sourceUrl: env.sourceUrl(), schemas: [schema, other], brokers: ['k:9092'], out });
      const { projections } = parse(readFileSync(out, 'utf8'));
      expect(projections.map((p: any) => [p.name, p.mirror.tables.length])).toEqual([
        [`legacy-${schema}`, 5],
        [`legacy-${other}`, 1],
      ]);
    } finally {
      await sql(`DROP SCHEMA ${other} CASCADE`);
    }
  });

  it('the command: exit 3 when capture would refuse a table, with every problem in --json; the file written all the same', async () => {
    const out = join(folder, 'cli.yaml');
    const run = new TandemProcess(['init', '--source', env.sourceUrl(), '--schema', schema, '--out', out, '--json']);
    expect(await run.exited).toBe(3);
    const report = JSON.parse(run.stdout);
    expect(report).toMatchObject({ file: out, ready: false, walLevel: 'logical', problems: [] });
    expect(report.tables.filter((t: any) => t.problems.length > 0).map((t: any) => t.name)).toEqual(['audit_log']);
    expect(readFileSync(out, 'utf8')).toContain(`- ${schema}.audit_log`);
    const again = new TandemProcess(['init', '--source', env.sourceUrl(), '--schema', schema, '--out', out]);
    expect(await again.exited).toBe(2);
    expect(again.output).toContain(`--out ${out}: the file exists (use --force to overwrite it)`);
  });

  it('refuses to overwrite a file unless forced, and refuses a schema without tables', async () => {
    const out = join(folder, 'kept.yaml');
    writeFileSync(out, 'mine\n');
    const options = { sourceUrl: env.sourceUrl(), schemas: [schema], brokers: ['k:9092'], out };
    await expect(runInit(options)).rejects.toThrow(`--out ${out}: the file exists (use --force to overwrite it)`);
    expect(readFileSync(out, 'utf8')).toBe('mine\n');
    await runInit({ ...options, force: true });
    expect(readFileSync(out, 'utf8')).toContain('mirror:');

    const empty = runInit({ ...options, out: join(folder, 'none.yaml'), schemas: [`${schema}_nothing`] });
    await expect(empty).rejects.toBeInstanceOf(ConfigError);
    await expect(runInit({ ...options, out: join(folder, 'none.yaml'), schemas: [`${schema}_nothing`] })).rejects.toThrow(/no tables in the schema\(s\) init_.*_nothing/);
  });
});
