import type { CatalogTable } from '../../src/connectors/postgres-catalog/catalog-reader';
import { validateConfig } from '../../src/modules/config/load-config';
import { ConfigError } from '../../src/shared/errors';
import { normalizeTable } from '../../src/projections/mirror/mirror-config';
import { addColumnSql, createTableSql } from '../../src/projections/mirror/mirror-ddl';
import { buildTableSpec, MirrorSpecError } from '../../src/projections/mirror/mirror-spec';
import { mirrorComparison } from '../../src/projections/mirror/mirror-reconcile';
import { mirrorOperations, targetValue } from '../../src/projections/mirror/mirror-rows';
import { mappingChange } from '../../src/projections/mirror/mirror-projection';
import { referencedColumns, renameColumns } from '../../src/projections/mirror/sql-tokens';
import type { ProjectionEvent } from '../../src/projections/framework/define-projection';

const customers: CatalogTable = {
  schema: 'shop',
  name: 'customers',
  qualified: 'shop.customers',
  partitioned: false,
  columns: [
    { name: 'id', type: 'bigint', nullable: false, default: "nextval('shop.customers_id_seq'::regclass)", position: 1 },
    { name: 'email', type: 'text', nullable: false, default: null, position: 2 },
    { name: 'password_hash', type: 'text', nullable: true, default: null, position: 3 },
    { name: 'tier', type: 'shop.tier', nullable: false, default: "'basic'::shop.tier", position: 4 },
    { name: 'tags', type: 'text[]', nullable: true, default: null, position: 5 },
    { name: 'referrer_id', type: 'bigint', nullable: true, default: null, position: 6 },
    { name: 'score', type: 'integer', nullable: true, default: 'shop.compute_score()', position: 7 },
    { name: 'email_lower', type: 'text', nullable: true, default: 'GENERATED ALWAYS AS (lower(email)) STORED', position: 8 },
  ],
  indexes: [
    { name: 'customers_pkey', definition: 'CREATE UNIQUE INDEX customers_pkey ON shop.customers USING btree (id)', unique: true, constraint: 'customers_pkey' },
    { name: 'customers_email_key', definition: 'CREATE UNIQUE INDEX customers_email_key ON shop.customers USING btree (email)', unique: true, constraint: 'customers_email_key' },
    { name: 'customers_hash', definition: 'CREATE INDEX customers_hash ON shop.customers USING btree (password_hash)', unique: false, constraint: null },
  ],
  constraints: [
    { name: 'customers_pkey', type: 'primary key', definition: 'PRIMARY KEY (id)' },
    { name: 'customers_email_key', type: 'unique', definition: 'UNIQUE (email)' },
    { name: 'customers_email_check', type: 'check', definition: "CHECK ((email ~~ '%@%'::text))" },
    { name: 'customers_referrer_fk', type: 'foreign key', definition: 'FOREIGN KEY (referrer_id) REFERENCES shop.customers(id) ON DELETE SET NULL' },
  ],
};
const mapping = normalizeTable({ from: 'shop.customers', to: 'clients', columns: { email: 'email_address' }, exclude: ['password_hash'], where: "tier <> 'gone'" });
const context = {
  tables: [{ table: customers, mapping }],
  enums: [{ printed: 'shop.tier', name: 'tier', labels: ['basic', 'gold', 'gone'] }],
  sourceSchemas: ['shop'],
};

describe('mirror: the spec of a table from the source catalog', () => {
  const spec = buildTableSpec(customers, mapping, context);

  it('keeps types (an enum of the source schema unqualified, created in the target), NOT NULL and safe defaults', () => {
    expect(spec.columns.map((c) => [c.target, c.type, c.notNull, c.default])).toEqual([
      ['id', 'bigint', true, `nextval('"clients_id_seq"'::regclass)`],
      ['email_address', 'text', true, null],
      ['tier', '"tier"', true, `'basic'::"tier"`],
      ['tags', 'text[]', false, null],
      ['referrer_id', 'bigint', false, null],
      ['score', 'integer', false, null],
      ['email_lower', 'text', false, null],
    ]);
    expect(spec.columns.find((c) => c.source === 'email_lower')!.generated).toBe('lower("email_address")');
    expect(spec.enums).toEqual([{ name: 'tier', labels: ['basic', 'gold', 'gone'] }]);
    expect(spec.notes).toEqual(expect.arrayContaining([expect.stringContaining('default shop.compute_score() refers to an object of the source schema')]));
  });

  it('renames columns in indexes, checks and foreign keys, and leaves out what uses an excluded column', () => {
    expect(spec.indexes).toEqual([{ name: 'customers_email_key', sql: 'CREATE UNIQUE INDEX customers_email_key ON "clients" USING btree ("email_address")' }]);
    expect(spec.notes).toEqual(expect.arrayContaining(['index customers_hash uses excluded column(s) password_hash; left out']));
    expect(spec.checks).toEqual([{ name: 'customers_email_check', sql: `CHECK (("email_address" ~~ '%@%'::text))` }]);
    // the table is filtered: a row may refer to one the filter leaves out, so its foreign keys cannot hold
    expect(spec.foreignKeys).toEqual([]);
    expect(spec.notes).toEqual(expect.arrayContaining([expect.stringContaining('foreign key customers_referrer_fk references a filtered table')]));
    const unfiltered = buildTableSpec(customers, { ...mapping, where: null }, { ...context, tables: [{ table: customers, mapping: { ...mapping, where: null } }] });
    expect(unfiltered.foreignKeys[0].sql).toContain('ALTER TABLE "clients" ADD CONSTRAINT "customers_referrer_fk" FOREIGN KEY ("referrer_id") REFERENCES "clients" ("id") ON DELETE SET NULL NOT VALID;');
    expect(spec.filterColumns).toEqual([{ name: 'tier', type: '"tier"' }]);
  });

  it('renders the target DDL with nullable bookkeeping columns', () => {
    const sql = createTableSql(spec);
    expect(sql).toContain(`CREATE TYPE "tier" AS ENUM ('basic', 'gold', 'gone')`);
    expect(sql).toContain('CREATE SEQUENCE IF NOT EXISTS "clients_id_seq";');
    expect(sql).toContain(`"email_lower" text GENERATED ALWAYS AS (lower("email_address")) STORED`);
    expect(sql).toContain('_source_key text,\n  _source_lsn bigint,');
    expect(sql).toContain('CONSTRAINT "clients_pkey" PRIMARY KEY ("id")');
    expect(sql).toContain('ALTER SEQUENCE "clients_id_seq" OWNED BY "clients"."id";');
    expect(sql).not.toContain('password_hash');
  });

  it('adds a column the source gained NOT NULL only with a default', () => {
    const column = { source: 'c', target: 'c', type: 'text', notNull: true, default: null, identity: false };
    expect(addColumnSql('clients', column, [])).toBe('ALTER TABLE "clients" ADD COLUMN IF NOT EXISTS "c" text;');
    expect(addColumnSql('clients', { ...column, default: "'web'::text" }, [])).toBe(`ALTER TABLE "clients" ADD COLUMN IF NOT EXISTS "c" text NOT NULL DEFAULT 'web'::text;`);
  });

  it('refuses a table without a primary key, an unknown column, and an excluded key column', () => {
    const keyless = { ...customers, constraints: [] };
    expect(() => buildTableSpec(keyless, mapping, context)).toThrow(/no primary key/);
    expect(() => buildTableSpec(customers, { ...mapping, exclude: ['nope'] }, context)).toThrow(new MirrorSpecError('mirror table shop.customers: no column "nope" in the source table (columns: id, email, password_hash, tier, tags, referrer_id, score, email_lower)'));
    expect(() => buildTableSpec(customers, { ...mapping, exclude: ['id'] }, context)).toThrow(/primary-key column "id" cannot be excluded/);
  });

  it('notices a mapping that changed since the table was created', () => {
    expect(mappingChange(spec, mapping)).toBeNull();
    expect(mappingChange(spec, { ...mapping, where: null })).toBe('its row filter');
    expect(mappingChange(spec, { ...mapping, columns: {} })).toBe('its column renames');
  });

  it('derives the reconciliation: target names, excluded columns left out, the filter on the source side', () => {
    const comparison = mirrorComparison(spec);
    expect(comparison.source.from).toBe('{source}."customers"');
    expect(comparison.source.where).toBe("tier <> 'gone'");
    expect(Object.keys(comparison.source.columns)).toEqual(['id', 'email_address', 'tier', 'tags', 'referrer_id', 'score', 'email_lower']);
    expect(comparison.source.columns.email_address).toBe('("email")::text');
    expect(comparison.target.columns.email_address).toBe('("email_address")::text');
    expect(comparison.quarantineKey!({ id: '42' })).toBe('42');
  });
});

describe('mirror: rows', () => {
  const spec = buildTableSpec(customers, mapping, context);
  const event = (op: ProjectionEvent<Record<string, unknown>>['op'], before: Record<string, unknown> | null, after: Record<string, unknown> | null) =>
    ({ source: 'shop.customers', op, before, after, key: null, commitLsn: 1n, commitTimeMs: 0, transactionId: null, position: { topic: 't', partition: 0, offset: 0n } }) as ProjectionEvent<Record<string, unknown>>;

  it('upserts renamed, without excluded or generated columns; deletes by key; TRUNCATE deletes all', () => {
    expect(mirrorOperations(spec, event('c', null, { id: '1', email: 'a@b', password_hash: 'x', tier: 'gold', email_lower: 'a@b' }))).toEqual([
      { op: 'upsert', table: 'clients', key: ['id'], row: { id: '1', email_address: 'a@b', tier: 'gold' } },
    ]);
    expect(mirrorOperations(spec, event('d', { id: '1', email: null }, null))).toEqual([{ op: 'delete', table: 'clients', match: { id: '1' } }]);
    expect(mirrorOperations(spec, event('t', null, null))).toEqual([{ op: 'delete', table: 'clients', match: {} }]);
  });

  it('gives json documents and bytea in the forms the target takes; leaves the TOAST placeholder alone', () => {
    expect(targetValue('jsonb', '{"a": 1}')).toEqual({ a: 1 });
    expect(targetValue('bytea', '3q2+7w==')).toBe('\\xdeadbeef');
    expect(targetValue('jsonb', '__debezium_unavailable_value')).toBe('__debezium_unavailable_value');
    expect(targetValue('text[]', ['a', null])).toEqual(['a', null]);
    expect(targetValue('jsonb[]', ['{"a": 1}', null])).toEqual([{ a: 1 }, null]);
    expect(targetValue('bytea[][]', [['3q2+7w==']])).toEqual([['\\xdeadbeef']]);
    expect(targetValue('numeric(12,2)', '12.30')).toBe('12.30');
  });

  it('leaves out a generated column the source gained after the first rows', () => {
    const grown = { ...spec, columns: [...spec.columns] };
    const row = { id: '2', email: 'c@d', password_hash: 'y', tier: 'gold', email_lower: 'c@d', score_twice: 4 };
    expect(mirrorOperations(grown, event('c', null, row))[0]).toMatchObject({ row: { id: '2', email_address: 'c@d', tier: 'gold', score_twice: 4 } });
    grown.columns.push({ ...grown.columns[0], source: 'score_twice', target: 'score_twice', generated: 'score * 2' });
    expect(mirrorOperations(grown, event('c', null, row))[0]).toMatchObject({ row: { id: '2', email_address: 'c@d', tier: 'gold' } });
    expect((mirrorOperations(grown, event('c', null, row))[0] as { row: object }).row).not.toHaveProperty('score_twice');
  });
});

describe('mirror: SQL identifiers', () => {
  it('finds and renames column references, not functions, types, qualified names or literals', () => {
    const sql = `lower(email) = 'email' AND x.email IS NULL AND email::text <> "email" AND tier::shop.tier IS NOT NULL`;
    expect(referencedColumns(sql, ['email', 'lower', 'tier', 'text'])).toEqual(['email', 'tier']);
    expect(renameColumns(sql, new Map([['email', 'mail']]), (n) => `"${n}"`)).toBe(
      `lower("mail") = 'email' AND x.email IS NULL AND "mail"::text <> "mail" AND tier::shop.tier IS NOT NULL`,
    );
  });
});

describe('mirror: configuration', () => {
  const base = () => ({ source: { url: 'postgres://u@h/db', tables: ['shop.customers'] }, kafka: { brokers: ['k:1'], topicPrefix: 'p' } });

  it('accepts the short and long table forms', () => {
    const config = validateConfig(
      { ...base(), projections: [{ name: 'shop', mirror: { tables: ['shop.orders', { from: 'shop.customers', to: 'clients', where: 'deleted_at IS NULL' }] } }] },
      'f',
    );
    expect(config.projections[0]).toMatchObject({ name: 'shop', mirror: { tables: ['shop.orders', { from: 'shop.customers', to: 'clients' }] } });
  });

  it('names an unknown key and a missing name', () => {
    const unknown = () => validateConfig({ ...base(), projections: [{ name: 'shop', mirror: { tables: [{ from: 'shop.a', renames: {} }] } }] }, 'f');
    expect(unknown).toThrow(ConfigError);
    expect(unknown).toThrow(/renames/);
    expect(() => validateConfig({ ...base(), projections: [{ mirror: { tables: ['shop.a'] } }] }, 'f')).toThrow(/projections\.0\.name/);
  });
});
