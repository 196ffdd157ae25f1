import { mkdtempSync, mkdirSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { loadConfig } from '../../src/modules/config/load-config';
import { projectionDefinitions } from '../../src/modules/projection/projection.service';
import { ConfigError } from '../../src/shared/errors';

/** A folder outside the repository, with no node_modules: 'tandem' must resolve to the running Tandem. */
const folder = mkdtempSync(join(tmpdir(), 'tandem-modules-'));

function write(relative: string, text: string): string {
  const file = join(folder, relative);
  mkdirSync(join(file, '..'), { recursive: true });
  writeFileSync(file, text);
  return file;
}

function configWith(projections: string, name = 'tandem.yaml'): string {
  return write(
    name,
    `source: { url: postgres://u@h/db, tables: [shop.orders] }
kafka: { brokers: ['k:9092'], topicPrefix: shop }
projections:
${projections}
`,
  );
}

const ORDERS_TS = `
import { defineProjection, z, type ProjectionEvent, type RowOperation } from 'tandem';
import { cents } from './money';

interface Options { currency: string }
const order = z.object({ id: z.number(), total: z.string() });

export default (options: Options) => {
  if (typeof options.currency !== 'string') throw new Error('options.currency: expected a currency code');
  return defineProjection<z.infer<typeof order>>({
    name: 'orders',
    schema: 'orders_model',
    migrations: [{ version: 1, name: 'orders', sql: 'CREATE TABLE orders (id int PRIMARY KEY, cents bigint, currency text)' }],
    input: { 'shop.orders': order },
    apply(event: ProjectionEvent<z.infer<typeof order>>): RowOperation[] {
      if (!event.after) return [];
      return [{ op: 'upsert', table: 'orders', key: ['id'], row: { id: event.after.id, cents: cents(event.after.total), currency: options.currency } }];
    },
  });
};
`;

describe('module projections (projections: - { name, module, options })', () => {
  beforeAll(() => {
    write('projections/money.ts', `export const cents = (amount: string): number => Math.round(Number(amount) * 100);\n`);
    write('projections/orders.ts', ORDERS_TS);
  });

  it('loads a TypeScript module that imports only tandem and its own helper, named by the config entry, given its options', () => {
    const config = loadConfig(configWith(`  - { name: orders-model, module: ./projections/orders.ts, options: { currency: EUR } }`));
    const [definition] = projectionDefinitions(config);
    expect(definition.name).toBe('orders-model');
    expect(definition.schema).toBe('orders_model');
    const input = definition.input['shop.orders'].parse({ id: 7, total: '12.34' });
    const operations = definition.apply({
      source: 'shop.orders', op: 'c', before: null, after: input, key: '{"id":7}', commitLsn: 1n, commitTimeMs: 0, transactionId: null,
      position: { topic: 'shop.shop.orders', partition: 0, offset: '0' },
    } as never);
    expect(operations).toEqual([{ op: 'upsert', table: 'orders', key: ['id'], row: { id: 7, cents: 1234, currency: 'EUR' } }]);
  });

  it('resolves the module from the config file’s folder, not the working directory', () => {
    const config = loadConfig(configWith(`  - { name: orders-model, module: ./projections/orders.ts, options: { currency: EUR } }`, 'nested/../tandem2.yaml'));
    const entry = config.projections[0] as { module: string };
    expect(entry.module).toBe(join(folder, 'projections', 'orders.ts'));
  });

  it('loads an ES module (.mjs) and a CommonJS module (.js) exporting a projection object', () => {
    write(
      'esm/p.mjs',
      `import { defineProjection, z } from 'tandem';
export default defineProjection({ name: 'x', migrations: [], input: { 'shop.orders': z.object({}) }, apply: () => [] });\n`,
    );
    write(
      'cjs/p.js',
      `const { defineProjection, z } = require('tandem');
module.exports = defineProjection({ name: 'y', migrations: [], input: { 'shop.orders': z.object({}) }, apply: () => [] });\n`,
    );
    const config = loadConfig(configWith(`  - { name: esm, module: ./esm/p.mjs }\n  - { name: cjs, module: ./cjs/p.js }`));
    const definitions = projectionDefinitions(config);
    expect(definitions.map((d) => [d.name, d.schema])).toEqual([['esm', 'x'], ['cjs', 'y']]);
  });

  it("resolves 'tandem/…' subpaths by package.json exports, and refuses the others", () => {
    write(
      'subpaths/p.ts',
      `import { defineProjection, z } from 'tandem';
import { insert } from 'tandem/testing';
import { name } from 'tandem/package.json';
const sample = insert('shop.orders', { id: 1 });
export default defineProjection({ name, migrations: [], input: { [sample.source]: z.object({}) }, apply: () => [] });\n`,
    );
    write('subpaths/internal.ts', `import { RECIPES } from 'tandem/projections/recipes';\nexport default RECIPES;\n`);
    const config = loadConfig(configWith(`  - { name: subpaths, module: ./subpaths/p.ts }`));
    expect(projectionDefinitions(config)[0]).toMatchObject({ schema: 'tandem', input: { 'shop.orders': expect.anything() } });
    const internal = loadConfig(configWith(`  - { name: internal, module: ./subpaths/internal.ts }`));
    expect(() => projectionDefinitions(internal)).toThrow(/failed to load: 'tandem\/projections\/recipes' is not exported by tandem/);
  });

  it('stops with the path and the reason when the module does not compile, throws, or exports something else', () => {
    const cases: Array<[string, string, RegExp]> = [
      ['bad/syntax.js', 'module.exports = {{;', /failed to load: .*Unexpected token/],
      ['bad/throws.ts', `throw new Error('no database here');`, /failed to load: no database here/],
      ['bad/missing-import.ts', `import { nothing } from './nowhere';\nexport default nothing;`, /failed to load: Cannot find module '\.\/nowhere'/],
      ['bad/other.ts', `export default { hello: 'world' };`, /must be a projection made with defineProjection.*apply: expected a function/],
      ['bad/none.ts', `export const p = 1;`, /it has no default export/],
      ['bad/options.ts', `export default (o: { currency?: string }) => { if (!o.currency) throw new Error('options.currency: required'); };`, /options\.currency: required/],
    ];
    for (const [file, text, reason] of cases) {
      const path = write(file, text);
      const config = loadConfig(configWith(`  - { name: bad, module: ./${file} }`));
      let error: unknown;
      try {
        projectionDefinitions(config);
      } catch (caught) {
        error = caught;
      }
      expect(error).toBeInstanceOf(ConfigError);
      expect((error as Error).message).toContain(`projection module ${path}`);
      expect((error as Error).message).toMatch(reason);
    }
    const config = loadConfig(configWith(`  - { name: gone, module: ./not-there.ts }`));
    expect(() => projectionDefinitions(config)).toThrow(`projection module ${join(folder, 'not-there.ts')}: no such file`);
  });

  it('rejects an unknown key of an entry naming the key, and an entry of no kind or of two', () => {
    const invalid = (projections: string) => () => loadConfig(configWith(projections));
    expect(invalid(`  - { name: a, module: ./a.ts, option: {} }`)).toThrow(/projections\.0: .*"option"/);
    expect(invalid(`  - { recipe: users, schema: x }`)).toThrow(/projections\.0: .*"schema"/);
    expect(invalid(`  - { name: a }`)).toThrow(/projections\.0: give one of: recipe, module/);
    expect(invalid(`  - { recipe: users, name: a, module: ./a.ts }`)).toThrow(/projections\.0: give only one of recipe, module/);
    expect(invalid(`  - { name: a, module: ./a.py }`)).toThrow(/projections\.0\.module: must name a \.ts, \.js or \.mjs file/);
    expect(invalid(`  - { name: Bad Name, module: ./a.ts }`)).toThrow(/projections\.0\.name: must start with a lower-case letter/);
    expect(invalid(`  - { name: users, module: ./a.ts }\n  - { recipe: users }`)).toThrow(/projections\.1: the name "users" is already used by projections\.0/);
  });
});

describe('examples/shop/tandem.yaml', () => {
  it('is a valid configuration: a mirror beside the module, whose module loads from the example folder', () => {
    const config = loadConfig(join(__dirname, '..', '..', 'examples', 'shop', 'tandem.yaml'), {});
    expect(config.projections.map((entry) => ('name' in entry ? entry.name : entry.recipe))).toEqual(['shop-mirror', 'orders-model']);
    const [mirror, orders] = projectionDefinitions(config);
    expect([mirror.name, mirror.schema]).toEqual(['shop-mirror', 'shop']);
    expect([orders.name, orders.schema, Object.keys(orders.input)]).toEqual(['orders-model', 'sales', ['shop.orders']]);
  });
});
