/**
 * What locating single differences inside the first scan would cost a clean reconciliation (issue 15,
 * BENCHMARKS.md "Reconciliation"): the first-level summary of the benchmark's target table as it is,
 * with the key text computed once (a subquery fence), and with the two more per-bucket sums Σw and
 * Σw·s (w = 14 bits of the row hash + 1, s = the key text's first bytes as a number, a key range).
 * Measured as the server backend's CPU seconds (/proc/<pid>/stat; parallel workers off, so the backend
 * does all the work), which the machine's load disturbs far less than wall time. The server must run
 * on this machine (the local services).
 *
 *   npx ts-node --transpile-only bench/reconcile/locator-cost.ts -- [--rows 1000000] [--repeat 5]
 *   … locator-cost.ts -- --readers [--base <checkout of the code before>]   (the readers' own SQL, A B A B)
 */
import { readFileSync } from 'fs';
import { join } from 'path';
import { Client, Pool } from 'pg';
import { SqlComparisonReader, sharedRowHash } from '../../src/modules/reconciliation/sql-reader';
import { usersProjection } from '../../src/projections/users/users.projection';
import { log } from '../capture/support';
import { loadAverage } from '../project/support';
import { ensureTables } from './data';
import { arg, flag } from '../cli-args';

const rows = Number(arg('rows', '1000000'));
const repeat = Number(arg('repeat', '5'));
/** `--base <dir>`: a checkout of the code before (its sql-reader.ts), measured beside this one's, A B A B. */
const base = arg('base', '');

const key = '(source_user_id)::text';
const values = ['email', 'name', 'instance_name'].map((c) => `(${c})::text`);
const from = `users.users WHERE (_source_key NOT LIKE 'import.%')`;
const rowText = (k: string, v: string[]) =>
  `concat_ws(chr(31), ${[k, ...v.map((value) => `coalesce(${value}, chr(30))`)].join(', ')})`;
const hashOf = (text: string) => `hashtextextended((${text}) COLLATE "C", 0)`;
/** The key text computed once per row, below a fence (OFFSET 0 keeps the planner from flattening it). */
const fenced = `SELECT ${key} AS k, ${values.map((v, i) => `${v} AS c${i}`).join(', ')} FROM ${from} OFFSET 0`;
const fencedRow = rowText('k', values.map((_, i) => `c${i}`));
/** The key text's first n bytes (ASCII) as a big-endian number: the cheapest form found (hex parsing cost twice as much). */
const locator = (n: number) =>
  Array.from({ length: n }, (_, i) => `((ascii(substr(k, ${i + 1}, 1)) & 255)::bigint << ${8 * (n - 1 - i)})`).join(' | ');
const withSums = (s: string) =>
  `SELECT b, count(*), sum(h)::text, sum((h & 16383) + 1)::text, sum(((h & 16383) + 1) * s)::text FROM (SELECT ${hashOf('k')} >> 54 AS b, ${hashOf(fencedRow)} AS h, ${s} AS s FROM (${fenced}) i OFFSET 0) f GROUP BY b`;

const VARIANTS: Array<[string, string]> = [
  ['count(*), sum(hashtextextended(row::text, 0))', `SELECT count(*), sum(hashtextextended(t::text, 0)) FROM users.users t`],
  ['summary now (1,024 buckets)', `SELECT ${hashOf(key)} >> 54 AS b, count(*), sum(${hashOf(rowText(key, values))})::text FROM ${from} GROUP BY 1`],
  ['summary, key text fenced', `SELECT ${hashOf('k')} >> 54, count(*), sum(${hashOf(fencedRow)})::text FROM (${fenced}) i GROUP BY 1`],
  ['+ Σw, Σw·s with s = 0 (the sums alone)', withSums('0::bigint')],
  ['+ Σw, Σw·s, s = 3 key bytes', withSums(locator(3))],
  ['+ Σw, Σw·s, s = 6 key bytes (~1 row per range)', withSums(locator(6))],
];

const cpuSeconds = (pid: number) => {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
};

async function main(): Promise<void> {
  const tables = await ensureTables(rows, log);
  const client = new Client({ connectionString: tables.targetUrl });
  await client.connect();
  try {
    const pid = (await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0].pid;
    await client.query('SET max_parallel_workers_per_gather = 0; SET enable_sort = off');
    const times = new Map<string, number[]>();
    for (let round = 0; round <= repeat; round++)
      for (const [name, sql] of VARIANTS) {
        const before = cpuSeconds(pid);
        await client.query(sql);
        if (round > 0) times.set(name, [...(times.get(name) ?? []), cpuSeconds(pid) - before]);
      }
    for (const [name, values] of times) {
      const sorted = [...values].sort((a, b) => a - b);
      log(`${name.padEnd(50)} ${sorted[Math.floor(sorted.length / 2)].toFixed(2)} CPU s  [${values.map((v) => v.toFixed(2)).join(' ')}]`);
    }
    log(`load ${loadAverage().join(' / ')}`);
  } finally {
    await client.end();
  }
}

interface Summarizer {
  summarize(scope: { bits: number; ids: null }, bits: number, locate?: boolean): Promise<unknown>;
}

/**
 * The readers themselves (the SQL `tandem reconcile` sends for a clean first level), on each side:
 * `--base`'s reader (A), this one's without and with the locator sums (B), alternated in every round.
 */
async function readers(tables: Awaited<ReturnType<typeof ensureTables>>): Promise<void> {
  const spec = usersProjection(tables.schema).reconcile![0];
  const placeholders = { source: tables.schema, target: 'users' };
  // One connection each, parallel workers off: the backend does all the work of a summary.
  const pools = [tables.legacyUrl, tables.targetUrl].map(
    (url) => new Pool({ connectionString: url, max: 1, options: '-c max_parallel_workers_per_gather=0' }),
  );
  try {
    const hash = await sharedRowHash(pools[0], pools[1]);
    const Before = base
      ? ((await import(join(base, 'src/modules/reconciliation/sql-reader'))) as { SqlComparisonReader: typeof SqlComparisonReader }).SqlComparisonReader
      : null;
    const sides = [
      ['legacy', pools[0], spec.source],
      ['target', pools[1], spec.target],
    ] as const;
    const all = { bits: 0, ids: null };
    const times = new Map<string, number[]>();
    for (const [sideName, pool, side] of sides) {
      const pid = (await pool.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0].pid;
      const variants: Array<[string, () => Promise<unknown>]> = [];
      const now = new SqlComparisonReader(pool, side, placeholders, hash) as Summarizer;
      if (Before) {
        const before = new Before(pool, side, placeholders, hash) as Summarizer;
        variants.push([`${sideName}: A (--base) summary`, () => before.summarize(all, 10)]);
      }
      variants.push([`${sideName}: B summary, key text fenced`, () => now.summarize(all, 10, false)]);
      variants.push([`${sideName}: B summary + locator sums`, () => now.summarize(all, 10, true)]);
      for (let round = 0; round <= repeat; round++)
        for (const [name, run] of variants) {
          const cpu = cpuSeconds(pid);
          await run();
          if (round > 0) times.set(name, [...(times.get(name) ?? []), cpuSeconds(pid) - cpu]);
        }
    }
    for (const [name, values] of times) {
      const sorted = [...values].sort((a, b) => a - b);
      log(`${name.padEnd(50)} ${sorted[Math.floor(sorted.length / 2)].toFixed(2)} CPU s  [${values.map((v) => v.toFixed(2)).join(' ')}]`);
    }
    log(`load ${loadAverage().join(' / ')}`);
  } finally {
    await Promise.all(pools.map((pool) => pool.end()));
  }
}

(flag('readers') ? ensureTables(rows, log).then(readers) : main()).catch((error) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
