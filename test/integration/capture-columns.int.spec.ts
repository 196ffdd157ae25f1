import { createHmac } from 'crypto';
import { readFileSync, writeFileSync } from 'fs';
import { Pool } from 'pg';
import { parse, stringify } from 'yaml';
import { changeEvents, readTopics } from '../support/kafka-reader';
import { TandemProcess, writeConfig } from '../support/capture-process';
import { requestBackfill } from '../support/backfill';
import type { ReadRecord } from '../support/kafka-reader';
import { dropSlot, env, sql, testKafka, uniqueName } from '../support/services';
import { createTargetDatabase } from '../support/target-db';
import { columnPolicyOf } from '../../src/modules/config/column-policy';
import { loadConfig } from '../../src/modules/config/load-config';
import { compareByBuckets } from '../../src/modules/reconciliation/bucket-comparison';
import { applyColumnRules } from '../../src/modules/reconciliation/column-rules';
import { SqlComparisonReader } from '../../src/modules/reconciliation/sql-reader';
import type { TableComparison } from '../../src/projections/framework/define-reconciliation';

const KEY = 'mask-key-for-tests-0123456789abcdef';
const backfilled = (records: ReadRecord[]) =>
  changeEvents(records).filter((record) => record.value.source.snapshot === 'incremental');
const hmac = (text: string) => createHmac('sha256', Buffer.from(KEY)).update(text).digest('hex');

/** source.columns: what capture sends to Kafka for excluded and masked columns, and how reconcile compares them. */
describe('capture: excluded and masked columns', () => {
  const name = uniqueName('cols');
  const table = `${name}_people`;
  const topic = `${name}.public.${table}`;
  let config: string;
  let capture: TandemProcess;

  beforeAll(async () => {
    await sql(`CREATE TABLE public.${table} (id int PRIMARY KEY, email text, ssn text, city text)`);
    await sql(`INSERT INTO public.${table} VALUES (1, 'ann@example.com', '111-22-3333', 'Oslo'), (2, 'bob@example.com', NULL, 'Rome')`);
    config = writeConfig({ prefix: name, slot: name, publication: name, tables: [`public.${table}`] });
    const raw = parse(readFileSync(config, 'utf8'));
    raw.source.columns = { [`public.${table}`]: { exclude: ['ssn'], mask: ['email'] } };
    raw.source.maskKeyEnv = 'TANDEM_TEST_MASK_KEY';
    writeFileSync(config, stringify(raw));
    capture = new TandemProcess(['capture', '--config', config], { TANDEM_TEST_MASK_KEY: KEY });
    await capture.waitForLog(/streaming changes/, 240_000);
  }, 300_000);

  afterAll(async () => {
    await capture?.stop();
    await dropSlot(name);
    await sql(`DROP TABLE IF EXISTS public.${table}`);
  });

  it('never sends an excluded column, and sends a masked one as its keyed hash, in the snapshot and the stream', async () => {
    await sql(`INSERT INTO public.${table} VALUES (3, 'ann@example.com', '999-88-7777', 'Lima')`);
    await sql(`UPDATE public.${table} SET city = 'Bergen', ssn = '000-00-0000' WHERE id = 1`);
    const records = await readTopics(testKafka(), [topic], (all) => changeEvents(all).length >= 4);
    const events = changeEvents(records).map((r) => r.value);
    const rows = events.map((e) => e.after).sort((a, b) => a.id - b.id || a.city.localeCompare(b.city));
    expect(rows).toEqual([
      { id: 1, email: hmac('ann@example.com'), city: 'Bergen' },
      { id: 1, email: hmac('ann@example.com'), city: 'Oslo' },
      { id: 2, email: hmac('bob@example.com'), city: 'Rome' },
      { id: 3, email: hmac('ann@example.com'), city: 'Lima' },
    ]);
    expect(events.map((e) => e.op).sort()).toEqual(['c', 'r', 'r', 'u']);
    const text = JSON.stringify(records.map((r) => r.value));
    for (const secret of ['ann@example.com', 'bob@example.com', '111-22-3333', '999-88-7777', '000-00-0000', KEY])
      expect(text).not.toContain(secret);
    expect(capture.output).not.toContain(KEY);
  });

  it('applies the same rules to a backfill of the table while capture streams', async () => {
    await requestBackfill(loadConfig(config, {}), `public.${table}`);
    const records = await readTopics(testKafka(), [topic], (all) => backfilled(all).length >= 3);
    const rows = backfilled(records).map((r) => r.value.after).sort((a, b) => a.id - b.id);
    expect(rows).toEqual([
      { id: 1, email: hmac('ann@example.com'), city: 'Bergen' },
      { id: 2, email: hmac('bob@example.com'), city: 'Rome' },
      { id: 3, email: hmac('ann@example.com'), city: 'Lima' },
    ]);
    const text = JSON.stringify(records.map((r) => r.value));
    for (const secret of ['ann@example.com', 'bob@example.com', '111-22-3333', '999-88-7777', '000-00-0000'])
      expect(text).not.toContain(secret);
  });

  it('stops capture naming the variable when the masking key is missing (exit 2)', async () => {
    const keyless = new TandemProcess(['capture', '--config', config], {});
    expect(await keyless.exited).toBe(2);
    expect(keyless.output).toMatch(/source\.maskKeyEnv: the environment variable TANDEM_TEST_MASK_KEY is not set/);
  });

  it('reconciles a masked column masked (PostgreSQL computes the same HMAC) and skips the excluded one', async () => {
    // A target as a 1:1 projection of the captured events writes it: masked e-mails, no ssn.
    const target = await createTargetDatabase('cols');
    const targetPool = new Pool({ connectionString: target.url });
    const sourcePool = new Pool({ connectionString: env.sourceUrl() });
    try {
      await targetPool.query('CREATE SCHEMA people; CREATE TABLE people.people (id int PRIMARY KEY, email text, ssn text, city text)');
      const legacy = await sql(`SELECT id, email, city FROM public.${table}`);
      for (const row of legacy)
        await targetPool.query('INSERT INTO people.people VALUES ($1, $2, NULL, $3)', [row.id, hmac(row.email), row.city]);
      const comparison: TableComparison = {
        name: 'people',
        sourceTable: `public.${table}`,
        source: { from: `{source}.${table}`, key: 'id::text', columns: { email: 'email', ssn: 'ssn', city: 'city' } },
        target: { from: '{target}.people', key: 'id::text', columns: { email: 'email', ssn: 'ssn', city: 'city' } },
      };
      const compare = async (ruled: ReturnType<typeof applyColumnRules>) =>
        compareByBuckets(
          new SqlComparisonReader(sourcePool, ruled.source, { source: 'public', target: 'people' }, 'md5', ruled.sourceParams),
          new SqlComparisonReader(targetPool, ruled.target, { source: 'public', target: 'people' }, 'md5'),
        );
      const rules = columnPolicyOf(loadConfig(config, {}), { TANDEM_TEST_MASK_KEY: KEY }).of('public', table);
      const honoured = await compare(applyColumnRules(comparison, rules));
      expect(honoured.differences).toEqual([]);
      expect(honoured.matched).toBe(legacy.length);
      expect(applyColumnRules(comparison, rules).notCompared).toEqual([{ column: 'ssn', reason: 'ssn is excluded at capture' }]);
      // Without the rules every row differs: the comparison above is not vacuous.
      const plain = await compare(applyColumnRules(comparison, null));
      expect(plain.differences.filter((d) => d.kind === 'mismatched')).toHaveLength(legacy.length);
    } finally {
      await targetPool.end();
      await sourcePool.end();
      await target.drop();
    }
  });
});
