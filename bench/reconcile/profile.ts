/**
 * Where a reconciliation with differences spends its time, step by step, on the benchmark's tables
 * (bench/reconcile/data.ts, 100 differences injected then undone). Each step is timed alone (median of
 * `--repeat`, after one warm-up), next to each side's `count(*)` and its own first-level summary.
 *
 *   npx ts-node --transpile-only bench/reconcile/profile.ts -- [--rows 1000000] [--repeat 3]
 */
import { Pool } from 'pg';
import { usersProjection } from '../../src/projections/users/users.projection';
import { compareLevel, DEFAULT_BUCKET_OPTIONS } from '../../src/modules/reconciliation/bucket-comparison';
import { SqlComparisonReader, sharedRowHash } from '../../src/modules/reconciliation/sql-reader';
import { log } from '../capture/support';
import { loadAverage } from '../project/support';
import { ensureTables, injectDifferences, plannedDifferences, undoDifferences } from './data';
import { arg } from '../cli-args';

const rows = Number(arg('rows', '1000000'));
const repeat = Number(arg('repeat', '3'));
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

async function timed(name: string, work: () => Promise<unknown>): Promise<number> {
  await work();
  const times: number[] = [];
  for (let i = 0; i < repeat; i++) {
    const started = performance.now();
    await work();
    times.push(performance.now() - started);
  }
  const ms = median(times);
  log(`${name.padEnd(58)} ${(ms / 1000).toFixed(3)} s   (load ${loadAverage().join(' / ')})`);
  return ms;
}

async function main(): Promise<void> {
  const tables = await ensureTables(rows, log);
  const legacy = new Pool({ connectionString: tables.legacyUrl, max: 4 });
  const target = new Pool({ connectionString: tables.targetUrl, max: 4 });
  const spec = usersProjection(tables.schema).reconcile![0];
  const placeholders = { source: tables.schema, target: 'users' };
  try {
    const hash = await sharedRowHash(legacy, target);
    const source = new SqlComparisonReader(legacy, spec.source, placeholders, hash);
    const projected = new SqlComparisonReader(target, spec.target, placeholders, hash);
    const all = { bits: 0, ids: null };
    const first = DEFAULT_BUCKET_OPTIONS.firstBits;
    await injectDifferences(tables);
    try {
      await timed('count(*) legacy', () => legacy.query(`SELECT count(*) FROM "${tables.schema}".auth_users`));
      await timed('count(*) target', () => target.query('SELECT count(*) FROM users.users'));
      await timed('first level, legacy alone', () => source.summarize(all, first));
      await timed('first level, target alone', () => projected.summarize(all, first));
      await timed('first level, both at once', () => Promise.all([source.summarize(all, first), projected.summarize(all, first)]));
      const level = compareLevel(await source.summarize(all, first), await projected.summarize(all, first));
      const scope = { bits: first, ids: level.differing.map((d) => d.id) };
      log(`${level.differing.length} differing buckets, ${level.differing.reduce((s, d) => s + d.rows, 0)} rows`);
      for (const [name, side] of [['legacy', source], ['target', projected]] as const) {
        await timed(`rows of the differing buckets, ${name}`, () => side.rows(scope));
        for (const extra of [5, 10])
          await timed(`sub-buckets (+${extra} bits) of the differing buckets, ${name}`, () => side.summarize(scope, first + extra));
      }
      await timed('rows of the differing buckets, both at once', () => Promise.all([source.rows(scope), projected.rows(scope)]));
      const keys = plannedDifferences(rows).map((d) => d.key);
      await timed('100 rows by key, both at once', () => Promise.all([source.rowsByKey(keys), projected.rowsByKey(keys)]));
    } finally {
      await undoDifferences(tables);
    }
  } finally {
    await legacy.end();
    await target.end();
  }
}

main().catch((error) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
