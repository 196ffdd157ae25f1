/**
 * App-state projection CPU without Kafka (not a test: nothing here asserts a timing): the demo's
 * change events applied in-process to a fresh target database as the live sink applies them
 * (chunked as the pipeline chunks, one target transaction per chunk with its checkpoint), then the
 * same rows loaded with psql \copy into another fresh database. Reports CPU seconds per 1,000 events
 * of this process (decode + plan + send) and of each side's PostgreSQL backend, which the machine's
 * other load changes far less than wall-clock time.
 *
 *   bash scripts/with-services.sh node -r ts-node/register/transpile-only bench/project/apply-cpu.ts [--users 1000] [--by-statement]
 *
 * --by-statement: each statement executed on its own with the backend's CPU read around it, summed
 * per statement kind (table and operation).
 * --rounds N: project N times, each into a fresh target; the figures are the last round's (warm).
 * --profile FILE: a V8 CPU profile (.cpuprofile) of the last round's projection only.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'fs';
import { Session } from 'inspector';
import { tmpdir } from 'os';
import { join } from 'path';
import { Client, Pool } from 'pg';
import { appStateRecords } from './app-state-records';
import { BackendCpu, loadAverage, psql, quoteIdent, tablesInCopyOrder } from './support';
import { procStats } from '../capture/support';
import { arg } from '../cli-args';
import { createTargetDatabase } from '../../test/support/target-db';
import { RECIPES } from '../../src/projections/recipes';
import { applyBatch, batchOperations } from '../../src/projections/framework/batch-applier';
import { decodeItem } from '../../src/projections/pipeline/decoder';
import { chunkByTransaction, MAX_CHUNK_BYTES } from '../../src/projections/pipeline/chunker';
import { planStatements } from '../../src/connectors/postgres-target/row-writer';
import { ensureTandemSchema } from '../../src/connectors/postgres-target/tandem-schema';
import { applyMigrations } from '../../src/connectors/postgres-target/migrations';

const users = Number(arg('users', '1000'));
const byStatement = process.argv.includes('--by-statement');
const rounds = Number(arg('rounds', '1'));
const profileFile = arg('profile', '');
const prefix = 'bench';
const definition = RECIPES['app-state'].projection({ sourceSchema: 'public', env: process.env });
const topic = `${prefix}.public.user_app_state`;

async function preparedDatabase(base: string) {
  const database = await createTargetDatabase(base);
  const pool = new Pool({ connectionString: database.url, max: 1, idleTimeoutMillis: 0, application_name: 'tandem-apply-cpu' });
  await ensureTandemSchema(pool);
  await applyMigrations(pool, definition.name, definition.schema, definition.migrations);
  const { rows } = await pool.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
  return { database, pool, backendPid: rows[0].pid };
}

const cpuOf = (usage: NodeJS.CpuUsage) => (usage.user + usage.system) / 1e6;

async function project(records: ReturnType<typeof appStateRecords>) {
  const { database, pool, backendPid } = await preparedDatabase('bench_apply_cpu');
  const perKind = new Map<string, number>();
  const started = Date.now();
  const processStart = process.cpuUsage();
  const backendStart = procStats(backendPid).cpuSeconds;
  const items = records.map((record) => decodeItem(definition, prefix, record));
  for (const chunk of chunkByTransaction(items, 2000, MAX_CHUNK_BYTES)) {
    const last = chunk[chunk.length - 1].record;
    if (!byStatement) {
      await applyBatch(pool, definition, chunk, [{ topic, partition: 0, offset: last.offset, commitLsn: 0n }]);
      continue;
    }
    const client = await pool.connect();
    try {
      await client.query('BEGIN');
      for (const statement of planStatements(definition.name, definition.schema, batchOperations(definition, chunk))) {
        const kind = statement.text.replace(/\$\d+/g, '$').slice(0, 60);
        const before = procStats(backendPid).cpuSeconds;
        await client.query(statement.text, statement.values);
        perKind.set(kind, (perKind.get(kind) ?? 0) + procStats(backendPid).cpuSeconds - before);
      }
      await client.query('COMMIT');
    } finally {
      client.release();
    }
  }
  const result = {
    seconds: (Date.now() - started) / 1000,
    processCpu: cpuOf(process.cpuUsage(processStart)),
    backendCpu: procStats(backendPid).cpuSeconds - backendStart,
    perKind,
  };
  return { result, database, pool };
}

/** The projected rows exported, then loaded with \copy in one transaction into a fresh database (the bench's reference). */
async function copyReference(source: Client, sourceUrl: string) {
  const dir = mkdtempSync(join(tmpdir(), 'tandem-apply-cpu-'));
  const tables = (await tablesInCopyOrder(source, definition.schema)).map((name) => ({
    select: `SELECT * FROM ${quoteIdent(definition.schema)}.${quoteIdent(name)}`,
    qualified: `${quoteIdent(definition.schema)}.${quoteIdent(name)}`,
    file: join(dir, `${name}.copy`),
  }));
  tables.push({ select: `SELECT * FROM tandem.id_map WHERE projection = 'app-state'`, qualified: 'tandem.id_map', file: join(dir, 'id_map.copy') });
  let rows = 0;
  for (const table of tables) rows += Number((await source.query(`SELECT count(*) AS n FROM (${table.select}) t`)).rows[0].n);
  const { database, pool } = await preparedDatabase('bench_apply_cpu_copy');
  await pool.end();
  const poll = new Client({ connectionString: database.url });
  await poll.connect();
  try {
    await psql(sourceUrl, tables.map((t) => `\\copy (${t.select}) TO '${t.file}'`).join('\n'));
    const backends = new BackendCpu(poll, database.name, 'psql');
    const started = Date.now();
    const running = psql(database.url, ['BEGIN;', ...tables.map((t) => `\\copy ${t.qualified} FROM '${t.file}'`), 'COMMIT;', 'SELECT pg_sleep(0.5);'].join('\n'));
    let finished = false;
    void running.finally(() => (finished = true)).catch(() => undefined);
    while (!finished) {
      await backends.sample();
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    await running;
    return { rows, seconds: (Date.now() - started) / 1000 - 0.5, backendCpu: backends.seconds };
  } finally {
    await poll.end();
    await database.drop();
    rmSync(dir, { recursive: true, force: true });
  }
}

function post<T>(session: Session, method: string): Promise<T> {
  return new Promise((resolve, reject) => session.post(method, (error, value) => (error ? reject(error) : resolve(value as T))));
}

/** project() under the V8 profiler, its profile written to profileFile. */
async function profiled(records: ReturnType<typeof appStateRecords>) {
  const session = new Session();
  session.connect();
  await post(session, 'Profiler.enable');
  await post(session, 'Profiler.start');
  const projected = await project(records);
  const { profile } = await post<{ profile: unknown }>(session, 'Profiler.stop');
  writeFileSync(profileFile, JSON.stringify(profile));
  session.disconnect();
  return projected;
}

async function main() {
  const records = appStateRecords(users, topic);
  const loadBefore = loadAverage();
  for (let round = 1; round < rounds; round++) {
    const warm = await project(records);
    await warm.pool.end();
    await warm.database.drop();
  }
  const { result, database, pool } = profileFile ? await profiled(records) : await project(records);
  await pool.end();
  const source = new Client({ connectionString: database.url });
  await source.connect();
  try {
    const copy = await copyReference(source, database.url);
    const per1k = (seconds: number) => ((seconds / records.length) * 1000).toFixed(2);
    const lines = [
      `${records.length} app-state events -> ${copy.rows} target rows; load average ${loadBefore.join(' ')} before, ${loadAverage().join(' ')} after`,
      `projector process CPU s per 1,000 events (decode, plan, send): ${per1k(result.processCpu)}`,
      `its backend's CPU s per 1,000 events: ${per1k(result.backendCpu)}${byStatement ? ' (statement by statement)' : ''}`,
      `COPY's backend CPU s for the same rows, per 1,000 events: ${per1k(copy.backendCpu)}`,
      `wall: apply ${result.seconds.toFixed(1)} s (${Math.round(copy.rows / result.seconds)} rows/s), COPY ${copy.seconds.toFixed(1)} s (${Math.round(copy.rows / copy.seconds)} rows/s): ratio ${(copy.seconds / result.seconds).toFixed(3)}`,
      ...[...result.perKind].sort((a, b) => b[1] - a[1]).map(([kind, cpu]) => `  ${per1k(cpu)} s/1k events  ${kind}`),
    ];
    process.stdout.write(`${lines.join('\n')}\n`);
  } finally {
    await source.end();
    await database.drop();
  }
}

main().catch((error) => {
  process.stderr.write(`${(error as Error).stack}\n`);
  process.exit(1);
});
