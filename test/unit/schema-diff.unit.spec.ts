import type { Catalog, CatalogColumn, CatalogTable } from '../../src/connectors/postgres-catalog/catalog-reader';
import { isExcludedSchema } from '../../src/connectors/postgres-catalog/catalog-reader';
import { diffCatalogs, parseSchemaMap, renameSchemas } from '../../src/modules/schema-diff/schema-diff';
import { renderJson, renderTable, schemaDiffReport } from '../../src/modules/schema-diff/schema-diff.render';

const column = (name: string, type: string, nullable = true, defaultValue: string | null = null, position = 1): CatalogColumn => ({
  name,
  type,
  nullable,
  default: defaultValue,
  position,
});

function table(schema: string, name: string, parts: Partial<Pick<CatalogTable, 'columns' | 'indexes' | 'constraints'>> = {}): CatalogTable {
  return { schema, name, qualified: `${schema}.${name}`, partitioned: false, columns: [], indexes: [], constraints: [], ...parts };
}

const catalog = (schemas: string[], tables: CatalogTable[]): Catalog => ({
  database: 'db',
  serverVersion: '15.8',
  schemas: schemas.map((name) => ({ name, quoted: /^[a-z_][a-z0-9_]*$/.test(name) ? name : `"${name}"` })),
  tables,
});

/** The users table of a legacy schema `s`, as the catalog reader returns it. */
function users(s: string): CatalogTable {
  return table(s, 'users', {
    columns: [
      column('id', 'bigint', false, `nextval('${s}.users_id_seq'::regclass)`),
      column('email', 'text', false),
      column('name', 'character varying(80)'),
      column('org_id', 'bigint'),
    ],
    indexes: [
      { name: 'users_pkey', definition: `CREATE UNIQUE INDEX users_pkey ON ${s}.users USING btree (id)`, unique: true, constraint: 'users_pkey' },
      { name: 'users_email_idx', definition: `CREATE INDEX users_email_idx ON ${s}.users USING btree (lower(email))`, unique: false, constraint: null },
    ],
    constraints: [
      { name: 'users_pkey', type: 'primary key', definition: 'PRIMARY KEY (id)' },
      { name: 'users_org_id_fkey', type: 'foreign key', definition: `FOREIGN KEY (org_id) REFERENCES ${s}.orgs(id)` },
      { name: 'users_email_check', type: 'check', definition: "CHECK ((email ~~ '%@%'::text))" },
    ],
  });
}
const orgs = (s: string) => table(s, 'orgs', { columns: [column('id', 'bigint', false)], constraints: [{ name: 'orgs_pkey', type: 'primary key', definition: 'PRIMARY KEY (id)' }] });

describe('schema diff (pure)', () => {
  it('finds nothing between equal schemas, also under a schema map (qualified names renamed)', () => {
    const same = diffCatalogs(catalog(['app'], [users('app'), orgs('app')]), catalog(['app'], [users('app'), orgs('app')]));
    expect(same).toMatchObject({ tablesCompared: 2, differences: [], schemas: [{ source: 'app', target: 'app' }] });
    const mapped = diffCatalogs(catalog(['legacy'], [users('legacy'), orgs('legacy')]), catalog(['app'], [users('app'), orgs('app')]), [
      { source: 'legacy', target: 'app' },
    ]);
    expect(mapped.differences).toEqual([]);
    expect(mapped.tablesCompared).toBe(2);
  });

  it('reports each kind of difference exactly once, with both sides', () => {
    const source = users('legacy');
    const target = users('app');
    target.columns = [
      column('id', 'bigint', false, `nextval('app.users_id_seq'::regclass)`),
      column('email', 'character varying(255)', false), // type changed
      column('name', 'character varying(80)', false), // nullability changed
      // org_id missing
      column('created_at', 'timestamp with time zone', false, 'now()'), // new
    ];
    target.indexes = [target.indexes[0]]; // users_email_idx missing
    target.constraints = target.constraints.filter((c) => c.name !== 'users_email_check'); // check missing (the FK stays: its column is gone, but the diff does not guess)
    const result = diffCatalogs(catalog(['legacy'], [source, orgs('legacy'), table('legacy', 'audit_log')]), catalog(['app'], [target, table('app', 'settings')]), [
      { source: 'legacy', target: 'app' },
    ]);
    expect(result.differences).toEqual([
      { kind: 'missing_table', sourceTable: 'legacy.audit_log', targetTable: 'app.audit_log', name: null, source: '0 columns', target: null },
      { kind: 'missing_table', sourceTable: 'legacy.orgs', targetTable: 'app.orgs', name: null, source: '1 columns', target: null },
      { kind: 'new_table', sourceTable: null, targetTable: 'app.settings', name: null, source: null, target: '0 columns' },
      { kind: 'missing_column', sourceTable: 'legacy.users', targetTable: 'app.users', name: 'org_id', source: 'bigint NULL', target: null },
      {
        kind: 'new_column',
        sourceTable: 'legacy.users',
        targetTable: 'app.users',
        name: 'created_at',
        source: null,
        target: 'timestamp with time zone NOT NULL DEFAULT now()',
      },
      { kind: 'type_changed', sourceTable: 'legacy.users', targetTable: 'app.users', name: 'email', source: 'text', target: 'character varying(255)' },
      { kind: 'nullability_changed', sourceTable: 'legacy.users', targetTable: 'app.users', name: 'name', source: 'NULL', target: 'NOT NULL' },
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
        name: 'users_email_check',
        source: "CHECK: CHECK ((email ~~ '%@%'::text))",
        target: null,
      },
    ]);
    expect(result.counts).toMatchObject({ missing_table: 2, new_table: 1, missing_column: 1, new_column: 1, type_changed: 1, nullability_changed: 1, missing_index: 1, missing_constraint: 1, index_changed: 0 });
    expect(result.tablesCompared).toBe(1);
  });

  it('pairs indexes and constraints by definition, whatever their names; same name, other definition is "changed"', () => {
    const source = users('app');
    const target = users('app');
    target.indexes = [
      target.indexes[0],
      { name: 'idx_users_lower_email', definition: 'CREATE INDEX idx_users_lower_email ON app.users USING btree (lower(email))', unique: false, constraint: null },
      { name: 'users_name_idx', definition: 'CREATE INDEX users_name_idx ON app.users USING btree (name)', unique: false, constraint: null },
    ];
    source.indexes.push({ name: 'users_name_idx', definition: 'CREATE UNIQUE INDEX users_name_idx ON app.users USING btree (name)', unique: true, constraint: null });
    target.constraints = target.constraints.map((c) =>
      c.name === 'users_org_id_fkey' ? { ...c, definition: 'FOREIGN KEY (org_id) REFERENCES app.orgs(id) ON DELETE CASCADE' } : c,
    );
    const { differences } = diffCatalogs(catalog(['app'], [source]), catalog(['app'], [target]));
    expect(differences.map((d) => [d.kind, d.name])).toEqual([
      ['index_changed', 'users_name_idx'],
      ['constraint_changed', 'users_org_id_fkey'],
    ]);
    expect(differences[0]).toMatchObject({ source: expect.stringContaining('UNIQUE INDEX'), target: 'CREATE INDEX users_name_idx ON app.users USING btree (name)' });
  });

  it('compares a constraint-backed index only as its constraint (one missing primary key is one difference)', () => {
    const target = users('app');
    target.indexes = target.indexes.filter((i) => i.name !== 'users_pkey');
    target.constraints = target.constraints.filter((c) => c.name !== 'users_pkey');
    const { differences } = diffCatalogs(catalog(['app'], [users('app')]), catalog(['app'], [target]));
    expect(differences).toEqual([
      { kind: 'missing_constraint', sourceTable: 'app.users', targetTable: 'app.users', name: 'users_pkey', source: 'PRIMARY KEY: PRIMARY KEY (id)', target: null },
    ]);
  });

  it('reports default changes after renaming mapped schemas', () => {
    const target = users('app');
    target.columns[0] = column('id', 'bigint', false, null);
    const { differences } = diffCatalogs(catalog(['legacy'], [users('legacy')]), catalog(['app'], [target]), [{ source: 'legacy', target: 'app' }]);
    expect(differences).toEqual([
      {
        kind: 'default_changed',
        sourceTable: 'legacy.users',
        targetTable: 'app.users',
        name: 'id',
        source: "nextval('legacy.users_id_seq'::regclass)",
        target: null,
      },
    ]);
  });

  it('without a map, pairs every schema by name: a schema on one side only is all missing or all new', () => {
    const result = diffCatalogs(catalog(['a', 'b'], [orgs('a'), orgs('b')]), catalog(['a', 'c'], [orgs('a'), orgs('c')]));
    expect(result.schemas).toEqual([
      { source: 'a', target: 'a' },
      { source: 'b', target: 'b' },
      { source: 'c', target: 'c' },
    ]);
    expect(result.differences.map((d) => [d.kind, d.sourceTable, d.targetTable])).toEqual([
      ['missing_table', 'b.orgs', 'b.orgs'],
      ['new_table', null, 'c.orgs'],
    ]);
  });

  it('renames schema qualifiers only where they qualify a name', () => {
    const renames = [{ from: 'legacy', to: 'app' }];
    expect(renameSchemas('FOREIGN KEY (a) REFERENCES legacy.users(id)', renames)).toBe('FOREIGN KEY (a) REFERENCES app.users(id)');
    expect(renameSchemas('legacy.mood[]', renames)).toBe('app.mood[]');
    expect(renameSchemas('CHECK ((my_legacy.x > 0))', renames)).toBe('CHECK ((my_legacy.x > 0))');
    expect(renameSchemas('x."legacy".y', renames)).toBe('x."legacy".y');
    expect(renameSchemas('REFERENCES "Old Schema".t(id)', [{ from: '"Old Schema"', to: 'app' }])).toBe('REFERENCES app.t(id)');
  });

  it('parses --schema-map pairs and refuses bad ones', () => {
    expect(parseSchemaMap(undefined)).toBeNull();
    expect(parseSchemaMap(['legacy=app', 'shared', 'a=b,c=d'])).toEqual([
      { source: 'legacy', target: 'app' },
      { source: 'shared', target: 'shared' },
      { source: 'a', target: 'b' },
      { source: 'c', target: 'd' },
    ]);
    expect(() => parseSchemaMap(['a=b=c'])).toThrow('"a=b=c" is not legacy=target');
    expect(() => parseSchemaMap(['=b'])).toThrow('not legacy=target');
    expect(() => parseSchemaMap(['a=b', 'a=c'])).toThrow('source schema "a" is mapped twice');
    expect(() => parseSchemaMap(['a=x', 'b=x'])).toThrow('target schema "x" is mapped twice');
    expect(() => parseSchemaMap(['public=tandem'], isExcludedSchema)).toThrow('"tandem" is a system schema');
    expect(() => parseSchemaMap(['pg_catalog'], isExcludedSchema)).toThrow('system schema');
  });

  it('excludes system schemas and Tandem\'s own', () => {
    for (const name of ['pg_catalog', 'information_schema', 'pg_toast', 'pg_temp_3', 'pg_toast_temp_3', 'tandem']) expect(isExcludedSchema(name)).toBe(true);
    for (const name of ['public', 'app', 'tandem_app', 'legacy']) expect(isExcludedSchema(name)).toBe(false);
  });

  it('renders a terminal table and a JSON document', () => {
    const target = users('app');
    target.columns = target.columns.filter((c) => c.name !== 'org_id');
    const result = diffCatalogs(catalog(['app'], [users('app')]), catalog(['app'], [target]));
    const info = { url: 'postgres://tandem:***@db:5432/legacy', database: 'legacy', serverVersion: '15.8' };
    const report = schemaDiffReport(result, info, { ...info, database: 'target' });
    const text = renderTable(report);
    expect(text).toContain('missing column  app.users  org_id');
    expect(text).toContain('1 difference(s) in 1 table(s) compared: 1 missing column.');
    const json = JSON.parse(renderJson(report));
    expect(Object.keys(json)).toEqual(['source', 'target', 'schemas', 'tablesCompared', 'identical', 'total', 'counts', 'differences']);
    expect(json).toMatchObject({ identical: false, total: 1, counts: { missing_column: 1, new_column: 0 } });
    expect(json.differences[0]).toEqual({ kind: 'missing_column', sourceTable: 'app.users', targetTable: 'app.users', name: 'org_id', source: 'bigint NULL', target: null });

    const none = schemaDiffReport(diffCatalogs(catalog(['app'], [users('app')]), catalog(['app'], [users('app')])), info, info);
    expect(renderTable(none)).toContain('No differences: 1 table(s) compared.');
    expect(JSON.parse(renderJson(none))).toMatchObject({ identical: true, total: 0, differences: [] });
  });
});
