/**
 * Reconciliation benchmark (not a test: nothing here asserts a timing; it does assert that what is
 * found is exactly what was injected, and fails loudly otherwise).
 *
 *   1. reconcile: for each size N, a legacy `auth_users` of N rows and the users recipe's `users.users`
 *      holding exactly their projection (bench/reconcile/data.ts; own databases, kept between runs),
 *      then `ReconciliationService.run` (the code path of `tandem reconcile`, users recipe) clean, and
 *      again with 100 scattered differences injected into the target (34 changed names, 33 deleted
 *      rows, 33 extra rows; all must be found, named exactly, and nothing else). Both databases are
 *      reached through a counting TCP relay (bench/reconcile/wire-counter.ts): bytes each way and
 *      queries sent. Reference, in the same run, right before each reconciliation: `SELECT count(*)`
 *      of the legacy table and of the target table, concurrently (as the comparison reads both sides
 *      at once), after one warm-up; the median of three. The figure is the ratio of the two times.
 *   2. cutover: bench/reconcile/cutover.ts (a cutover under a continuous write load; the write-freeze window).
 *
 *   npm run bench:reconcile -- [--rows 1000000,10000000] [--parts reconcile,cutover] [--drop]
 *                              [--cutover-mode one-process|separate] [--writes 100] [--no-base-reconcile]
 *
 * --drop removes the benchmark's databases afterwards (by default they are kept for the next run).
 */
import { mkdirSync, writeFileSync } from 'fs';
import { join } from 'path';
import { Client } from 'pg';
import { tandemConfigSchema } from '../../src/modules/config/config.schema';
import { ReconciliationService } from '../../src/modules/reconciliation/reconciliation.service';
import type { ReconciliationReport } from '../../src/modules/reconciliation/reconciliation-report';
import { createLogger } from '../../src/shared/logger';
import { env } from '../../test/support/services';
import { ROOT, log, machine } from '../capture/support';
import { loadAverage } from '../project/support';
import { WireCounter } from './wire-counter';
import {
  dropTables,
  ensureTables,
  injectDifferences,
  plannedDifferences,
  undoDifferences,
  type BenchTables,
} from './data';
import { runCutoverUnderLoad, type CutoverFigures, type CutoverMode } from './cutover';
import { arg, flag } from '../cli-args';

const options = {
  rows: arg('rows', '1000000,10000000').split(',').map(Number),
  parts: arg('parts', 'reconcile,cutover').split(','),
  drop: flag('drop'),
  /** cutover: `one-process` (start --commit) or `separate` (start, then commit). */
  cutoverMode: arg('cutover-mode', 'one-process') as CutoverMode,
  /** cutover: the application's write rate before and during the freeze, transactions/s. */
  writes: Number(arg('writes', '100')),
  /** cutover: `--no-base-reconcile` skips the full `tandem reconcile` before the load (the cutover then verifies every row). */
  baseReconcile: !flag('no-base-reconcile'),
};

interface ReconcileFigures {
  rows: number;
  case: 'clean' | '100 differences';
  countMs: number;
  /** Each side's own `count(*), sum(hashtextextended(row::text, 0))`, alone: [legacy, target]. */
  aggregateMs: [number, number];
  wallMs: number;
  compareMs: number;
  reverifyMs: number;
  reverifyRounds: number;
  scans: number;
  bucketsCompared: number;
  rowsFetched: number;
  queries: number;
  bytesToClient: number;
  bytesToServer: number;
  tableBytes: number;
  load: number[];
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

async function timedCounts(tables: BenchTables): Promise<number> {
  const count = async (url: string, text: string) => {
    const client = new Client({ connectionString: url });
    await client.connect();
    try {
      return Number((await client.query(text)).rows[0].n);
    } finally {
      await client.end();
    }
  };
  const once = async () => {
    const started = performance.now();
    const [a, b] = await Promise.all([
      count(tables.legacyUrl, `SELECT count(*) AS n FROM "${tables.schema}".auth_users`),
      count(tables.targetUrl, 'SELECT count(*) AS n FROM users.users'),
    ]);
    if (a < tables.rows - 100 || b < tables.rows - 100)
      throw new Error(`count(*) gave ${a} and ${b}, expected about ${tables.rows}`);
    return performance.now() - started;
  };
  await once();
  return median([await once(), await once(), await once()]);
}

/**
 * The one-side reference: what reading and hashing every row of one table costs PostgreSQL by itself,
 * `count(*), sum(hashtextextended(row::text, 0))`; each side alone, after one warm-up, median of three.
 */
async function timedAggregates(tables: BenchTables): Promise<[number, number]> {
  const timed = async (url: string, table: string) => {
    const client = new Client({ connectionString: url });
    await client.connect();
    try {
      const once = async () => {
        const started = performance.now();
        await client.query(`SELECT count(*), sum(hashtextextended(t::text, 0)) FROM ${table} t`);
        return performance.now() - started;
      };
      await once();
      return median([await once(), await once(), await once()]);
    } finally {
      await client.end();
    }
  };
  return [
    await timed(tables.legacyUrl, `"${tables.schema}".auth_users`),
    await timed(tables.targetUrl, 'users.users'),
  ];
}

async function tableBytes(tables: BenchTables): Promise<number> {
  const size = async (url: string, table: string) => {
    const client = new Client({ connectionString: url });
    await client.connect();
    try {
      return Number((await client.query('SELECT pg_table_size($1::regclass) AS n', [table])).rows[0].n);
    } finally {
      await client.end();
    }
  };
  return (
    (await size(tables.legacyUrl, `"${tables.schema}".auth_users`)) +
    (await size(tables.targetUrl, 'users.users'))
  );
}

async function reconcileOnce(
  tables: BenchTables,
  source: WireCounter,
  target: WireCounter,
): Promise<{ report: ReconciliationReport; wallMs: number }> {
  const config = tandemConfigSchema.parse({
    source: { url: source.relayed(tables.legacyUrl), tables: [`${tables.schema}.auth_users`] },
    kafka: { brokers: env.brokers(), topicPrefix: 'bench_reconcile' },
    target: { url: target.relayed(tables.targetUrl) },
    projections: [{ recipe: 'users', sourceSchema: tables.schema }],
  });
  source.reset();
  target.reset();
  const started = performance.now();
  const [report] = await new ReconciliationService(config, createLogger('tandem-bench', 'warn')).run({
    projection: 'users',
    threshold: 0,
    sample: 1000,
  });
  return { report, wallMs: performance.now() - started };
}

function check(condition: boolean, message: string, report: ReconciliationReport): void {
  if (!condition)
    throw new Error(
      `${message}\nreport: ${JSON.stringify({ ...report, tables: report.tables.map((t) => ({ ...t, sample: t.sample.slice(0, 5) })) }, null, 1)}`,
    );
}

function assertClean(report: ReconciliationReport, rows: number): void {
  const table = report.tables[0];
  check(report.verdict === 'PASS', 'clean tables did not PASS', report);
  check(
    table.sourceCount === rows && table.targetCount === rows && table.matched === rows,
    `clean tables: expected ${rows} rows matched`,
    report,
  );
  check(
    table.missing + table.extra + table.mismatched + table.quarantined === 0,
    'clean tables: differences reported',
    report,
  );
}

function assertDifferences(report: ReconciliationReport, rows: number): void {
  const table = report.tables[0];
  const expected = plannedDifferences(rows).map(({ key, kind, columns }) =>
    columns ? { key, kind, columns } : { key, kind },
  );
  const order = (a: { key: string }, b: { key: string }) => a.key.localeCompare(b.key);
  check(report.verdict === 'FAIL', '100 differences did not FAIL', report);
  check(
    table.mismatched === 34 && table.missing === 33 && table.extra === 33,
    'expected 34 mismatched, 33 missing, 33 extra',
    report,
  );
  check(
    table.matched === rows - 67 && table.sourceCount === rows && table.targetCount === rows,
    `expected ${rows - 67} matched of ${rows} on each side`,
    report,
  );
  check(
    JSON.stringify([...table.sample].sort(order)) === JSON.stringify([...expected].sort(order)),
    'the differences found are not exactly the injected ones',
    report,
  );
}

async function reconcilePart(
  rows: number,
  source: WireCounter,
  target: WireCounter,
): Promise<ReconcileFigures[]> {
  const started = performance.now();
  const tables = await ensureTables(rows, log);
  if (tables.fresh)
    log(`built ${rows} rows per side in ${((performance.now() - started) / 1000).toFixed(0)} s`);
  await undoDifferences(tables); // a run stopped half-way may have left them
  const bytes = await tableBytes(tables);
  const figures: ReconcileFigures[] = [];
  for (const kind of ['clean', '100 differences'] as const) {
    if (kind === '100 differences') await injectDifferences(tables);
    try {
      const countMs = await timedCounts(tables);
      const aggregateMs = await timedAggregates(tables);
      const { report, wallMs } = await reconcileOnce(tables, source, target);
      if (kind === 'clean') assertClean(report, rows);
      else assertDifferences(report, rows);
      const table = report.tables[0];
      figures.push({
        rows,
        case: kind,
        countMs,
        aggregateMs,
        wallMs,
        compareMs: table.compareMs,
        reverifyMs: table.reverifyMs,
        reverifyRounds: table.reverifyRounds,
        scans: table.scans,
        bucketsCompared: table.bucketsCompared,
        rowsFetched: table.rowsFetched,
        queries: source.counts.queries + target.counts.queries,
        bytesToClient: source.counts.bytesToClient + target.counts.bytesToClient,
        bytesToServer: source.counts.bytesToServer + target.counts.bytesToServer,
        tableBytes: bytes,
        load: loadAverage(),
      });
      log(`${rows} rows, ${kind}: ${JSON.stringify(figures.at(-1))}`);
    } finally {
      if (kind === '100 differences') await undoDifferences(tables);
    }
  }
  if (options.drop) await dropTables(rows);
  return figures;
}

const s = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
const kib = (bytes: number) =>
  bytes < 10 * 2 ** 20 ? `${(bytes / 1024).toFixed(1)} KiB` : `${(bytes / 2 ** 20).toFixed(1)} MiB`;
const thousands = (n: number) => Math.round(n).toLocaleString('en-US');

function reconcileTable(figures: ReconcileFigures[]): string {
  const lines = [
    '| rows per side | case | count(*) both sides | one-side aggregate legacy / target | reconcile wall | of which compare / re-verify | rows/s (legacy rows ÷ wall) | ratio wall ÷ count(*) | **ratio wall ÷ slower one-side aggregate** | **ratio wall ÷ clean wall** | scans per side | buckets | rows fetched | queries | bytes server→client / client→server | tables on disk | load (1/5/15 min) |',
    '| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |',
  ];
  for (const f of figures) {
    const clean = figures.find((c) => c.rows === f.rows && c.case === 'clean');
    lines.push(
      `| ${thousands(f.rows)} | ${f.case} | ${s(f.countMs)} | ${s(f.aggregateMs[0])} / ${s(f.aggregateMs[1])} | ${s(f.wallMs)} | ${s(f.compareMs)} / ${s(f.reverifyMs)} (${f.reverifyRounds} rounds) | ${thousands(f.rows / (f.wallMs / 1000))} | ${(f.wallMs / f.countMs).toFixed(1)} | **${(f.wallMs / Math.max(...f.aggregateMs)).toFixed(2)}** | **${clean ? (f.wallMs / clean.wallMs).toFixed(2) : '–'}** | ${f.scans} | ${thousands(f.bucketsCompared)} | ${thousands(f.rowsFetched)} | ${f.queries} | ${kib(f.bytesToClient)} / ${kib(f.bytesToServer)} | ${kib(f.tableBytes)} | ${f.load.join(' / ')} |`,
    );
  }
  return lines.join('\n');
}

function cutoverTable(figures: CutoverFigures): string {
  return [
    '| measure | value |',
    '| --- | --- |',
    `| write load before the freeze (application role, single-row INSERT + UPDATE transactions) | ${thousands(figures.writesPerSecond)} transactions/s over ${s(figures.loadMs)} |`,
    `| legacy rows / projected rows at commit | ${thousands(figures.legacyRows)} / ${thousands(figures.projectedRows)} |`,
    `| **write-freeze window** (freeze → commit, \`freeze_window_ms\`) | **${s(figures.freezeWindowMs)}** |`,
    `| of which frozen → drained / drained → verified (reconciliation) / verified → committed | ${s(figures.drainMs)} / ${s(figures.verifyMs)} / ${s(figures.commitMs)} |`,
    `| verification at the verified gate (a full \`tandem reconcile\` recorded before the load: ${figures.baseReconcileMs ? s(figures.baseReconcileMs) : 'no'}) | ${figures.verification} |`,
    `| commands | ${figures.mode === 'separate' ? '`tandem cutover start`, then `tandem cutover commit`' : '`tandem cutover start --commit`'} |`,
    `| the \`tandem cutover commit\` process (spawn → exit; separate mode only); \`tandem --help\` right after (CLI start-up alone) | ${figures.mode === 'separate' ? s(figures.commitCommandMs) : '–'}; ${s(figures.cliStartupMs)} |`,
    `| writes refused while frozen ("read-only transaction") | ${thousands(figures.refusedWrites)} |`,
    `| load (1/5/15 min) at commit | ${figures.load.join(' / ')} |`,
  ].join('\n');
}

async function main(): Promise<void> {
  const about = await machine();
  log(`machine: ${JSON.stringify(about)}, load ${loadAverage().join(' / ')}`);
  const out: string[] = [
    `Machine: ${about.cpus} vCPU ${about.cpuModel}, ${about.memoryGb} GB, Node ${about.node}, PostgreSQL ${about.postgres}; load at start ${loadAverage().join(' / ')}`,
  ];
  if (options.parts.includes('reconcile')) {
    const source = await WireCounter.start(env.targetUrl());
    const target = await WireCounter.start(env.targetUrl());
    const figures: ReconcileFigures[] = [];
    try {
      for (const rows of options.rows) figures.push(...(await reconcilePart(rows, source, target)));
    } finally {
      await source.close();
      await target.close();
    }
    out.push('', reconcileTable(figures));
  }
  if (options.parts.includes('cutover')) {
    const figures = await runCutoverUnderLoad(log, options.cutoverMode, options.writes, 20_000, 15, options.baseReconcile);
    log(`cutover: ${JSON.stringify(figures)}`);
    out.push('', cutoverTable(figures));
  }
  const text = `${out.join('\n')}\n`;
  const dir = join(ROOT, '.tandem', 'bench');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, `reconcile-${new Date().toISOString().replace(/[:.]/g, '-')}.md`), text);
  process.stdout.write(text);
}

main().catch((error) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
