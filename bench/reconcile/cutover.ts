/**
 * The write-freeze window of a cutover under load: a legacy `auth_users` (users recipe) in a schema
 * of its own, `tandem capture` and `tandem project` running, and the application role writing
 * continuously (two connections, each an INSERT of a new user and an UPDATE of an existing one per
 * transaction, 100 transactions/s in all by default) when an operator runs `tandem cutover plan`,
 * then `start --commit` (or `start` and `commit`, two processes: mode `separate`), as from a terminal. The window is the cutover's own record, freeze → commit; the
 * writers keep trying while frozen and count the refused writes. Everything is dropped afterwards.
 */
import { readFileSync, writeFileSync } from 'fs';
import { Client } from 'pg';
import { parse, stringify } from 'yaml';
import { TandemProcess, writeConfig } from '../../test/support/capture-process';
import { createTargetDatabase, targetQuery } from '../../test/support/target-db';
import { dropSlot, env, eventually, sql, uniqueName } from '../../test/support/services';
import { loadAverage } from '../project/support';

export interface CutoverFigures {
  legacyRows: number;
  projectedRows: number;
  loadMs: number;
  writesPerSecond: number;
  freezeWindowMs: number;
  drainMs: number;
  verifyMs: number;
  commitMs: number;
  /** Wall time of `tandem --help` in the same moment: what a CLI process takes to start on this machine now. */
  cliStartupMs: number;
  /** Wall time of the `tandem cutover commit` process (start-up, re-checks, backup, record). */
  commitCommandMs: number;
  refusedWrites: number;
  mode: CutoverMode;
  /** What the cutover's verified gate compared: the rows changed since the recorded clean reconciliation, or every row. */
  verification: string;
  /** Wall time of the full `tandem reconcile` recorded before the load (0 when not asked). */
  baseReconcileMs: number;
  load: number[];
}

const READ_ONLY = '25006';
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The application: keeps writing (at most `rate` transactions/s in all) until stopped; a freeze turns its writes into refusals. */
class ApplicationWriter {
  committed = 0;
  refused = 0;
  private running = true;
  private readonly loops: Promise<void>[];

  constructor(
    private readonly url: string,
    private readonly schema: string,
    rows: number,
    connections: number,
    private readonly rate: number,
  ) {
    this.loops = Array.from({ length: connections }, (_, n) => this.loop(n, rows, connections));
  }

  private async loop(n: number, rows: number, connections: number): Promise<void> {
    let i = 0;
    const interval = (1000 * connections) / this.rate;
    let due = Date.now();
    while (this.running) {
      const client = new Client({ connectionString: this.url });
      client.on('error', () => undefined); // a freeze terminates the role's sessions
      try {
        await client.connect();
        while (this.running) {
          due += interval;
          if (due > Date.now()) await sleep(due - Date.now());
          else due = Date.now(); // behind: no burst to catch up
          i++;
          await client.query('BEGIN');
          await client.query(
            `INSERT INTO "${this.schema}".auth_users (id, email) VALUES (gen_random_uuid()::text, $1)`,
            [`live${n}-${i}@example.com`],
          );
          await client.query(`UPDATE "${this.schema}".auth_users SET display_name = $1 WHERE email = $2`, [
            `Live ${i}`,
            `user${((i * 7919 + n) % rows) + 1}@example.com`,
          ]);
          await client.query('COMMIT');
          this.committed++;
        }
      } catch (error) {
        if ((error as { code?: string }).code === READ_ONLY) {
          this.refused++;
          await sleep(20);
        } else if (this.running) await sleep(50); // terminated by the freeze: connect again
      } finally {
        await client.end().catch(() => undefined);
      }
    }
  }

  async stop(): Promise<void> {
    this.running = false;
    await Promise.all(this.loops);
  }
}

async function cli(config: string, ...args: string[]): Promise<{ record: Record<string, any>; output: string }> {
  const run = new TandemProcess(['cutover', ...args, '--config', config, '--json', '--operator', 'bench']);
  const code = await run.exited;
  if (code !== 0)
    throw new Error(`tandem cutover ${args.join(' ')} exited ${code}:\n${run.output.slice(-3000)}`);
  return { record: JSON.parse(run.stdout), output: run.output };
}

/** A full, clean `tandem reconcile` recorded: the base the cutover's incremental verification counts changes from. */
async function recordFullReconcile(config: string): Promise<number> {
  const started = Date.now();
  const run = new TandemProcess(['reconcile', '--config', config, '--threshold', '0', '--json']);
  const code = await run.exited;
  if (code !== 0) throw new Error(`tandem reconcile exited ${code}:\n${run.output.slice(-3000)}`);
  return Date.now() - started;
}

/** Which verification the cutover's log says ran (incremental-verify.ts logs one or the other, with why). */
function verificationOf(output: string): string {
  const incremental = /^.*verifying the rows changed since the last clean reconciliation.*$/m.exec(output);
  if (incremental) {
    const keys = /"changedKeys":(\d+)/.exec(incremental[0]) ?? /changedKeys[=: ]+(\d+)/.exec(incremental[0]);
    const planMs = /"planMs":(\d+)/.exec(incremental[0]);
    return `incremental (${keys ? `${keys[1]} changed keys` : 'changed keys only'}${planMs ? `, their keys read from Kafka in ${(Number(planMs[1]) / 1000).toFixed(2)} s` : ''})`;
  }
  const full = /^.*verifying every row.*$/m.exec(output);
  if (!full) return 'unknown (no verification logged)';
  const reason = /"reason":"([^"]*)"/.exec(full[0]);
  return `full${reason ? ` (${reason[1]})` : ''}`;
}

/**
 * `separate`: `tandem cutover start`, then `tandem cutover commit` (two processes, as before
 * `--commit` existed); `one-process`: `tandem cutover start --commit`.
 */
export type CutoverMode = 'separate' | 'one-process';

export async function runCutoverUnderLoad(
  log: (message: string) => void,
  mode: CutoverMode = 'one-process',
  writesPerSecond = 100,
  rows = 20_000,
  loadSeconds = 15,
  /** Record a full `tandem reconcile` before the load, so the cutover verifies only the rows changed since. */
  baseReconcile = true,
): Promise<CutoverFigures> {
  const name = uniqueName('bench_cut');
  const schema = name;
  const role = `${name}_app`;
  const target = await createTargetDatabase('bench_cut');
  let capture: TandemProcess | null = null;
  let projector: TandemProcess | null = null;
  let writer: ApplicationWriter | null = null;
  try {
    await sql(`CREATE SCHEMA ${schema}`);
    await sql(`CREATE TABLE ${schema}.auth_users (id text PRIMARY KEY, email text NOT NULL, display_name text, instance_name text,
               raw_user_meta_data jsonb, encrypted_password text, created_at timestamptz NOT NULL DEFAULT now())`);
    await sql(`CREATE INDEX ON ${schema}.auth_users (email)`);
    await sql(`INSERT INTO ${schema}.auth_users (id, email, display_name)
               SELECT gen_random_uuid()::text, 'user' || g || '@example.com', 'User ' || g FROM generate_series(1, ${rows}) g`);
    await sql(`CREATE ROLE ${role} LOGIN PASSWORD 'app'`);
    await sql(`GRANT USAGE ON SCHEMA ${schema} TO ${role}`);
    await sql(`GRANT SELECT, INSERT, UPDATE, DELETE ON ${schema}.auth_users TO ${role}`);
    const appUrl = new URL(env.sourceUrl());
    appUrl.username = role;
    appUrl.password = 'app';
    const config = writeConfig({
      prefix: name,
      slot: name,
      publication: name,
      tables: [`${schema}.auth_users`],
      targetUrl: target.url,
      projections: [{ recipe: 'users', sourceSchema: schema }],
    });
    writeFileSync(
      config,
      stringify({ ...parse(readFileSync(config, 'utf8')), cutover: { applicationRoles: [role] } }),
    );
    capture = TandemProcess.capture(config);
    await capture.waitForLog(/streaming changes/, 600_000); // a slot waits for every open write transaction of the cluster
    projector = TandemProcess.project(config);
    const projected = async () =>
      Number(
        (await targetQuery(target.url, 'SELECT count(*) AS n FROM users.users').catch(() => [{ n: 0 }]))[0].n,
      );
    await eventually(async () => (await projected()) === rows, 180_000, `${rows} users projected`);

    const baseReconcileMs = baseReconcile ? await recordFullReconcile(config) : 0;
    log(
      `cutover: ${rows} users projected${baseReconcile ? `, full reconcile recorded (${baseReconcileMs} ms)` : ''}; application writing for ${loadSeconds} s, then plan, start, commit`,
    );
    writer = new ApplicationWriter(appUrl.toString(), schema, rows, 2, writesPerSecond);
    const loadStarted = Date.now();
    await sleep(loadSeconds * 1000);
    const writesBefore = writer.committed;
    const loadMs = Date.now() - loadStarted;
    await cli(config, 'plan');
    let record: Record<string, any>;
    let output: string;
    let commitCommandMs = 0;
    if (mode === 'separate') {
      ({ output } = await cli(config, 'start'));
      const commitStarted = Date.now();
      ({ record } = await cli(config, 'commit'));
      commitCommandMs = Date.now() - commitStarted;
    } else ({ record, output } = await cli(config, 'start', '--commit'));
    const verification = verificationOf(output);
    log(`cutover: verification ${verification}`);
    const helpStarted = Date.now();
    await new TandemProcess(['--help']).exited;
    const cliStartupMs = Date.now() - helpStarted;
    if (record.state !== 'committed') throw new Error(`cutover ended ${record.state}: ${record.reason}`);
    const at = (state: string) =>
      Date.parse(record.history.find((h: { state: string }) => h.state === state).at);
    const load = loadAverage();
    await sleep(500);
    await writer.stop();
    const refusedWrites = writer.refused;
    writer = null;
    const [{ n: legacyRows }] = await sql(`SELECT count(*)::int AS n FROM ${schema}.auth_users`);
    return {
      legacyRows,
      projectedRows: await projected(),
      loadMs,
      writesPerSecond: writesBefore / (loadMs / 1000),
      freezeWindowMs: record.freezeWindowMs,
      drainMs: at('drained') - at('frozen'),
      verifyMs: at('verified') - at('drained'),
      commitMs: at('committed') - at('verified'),
      cliStartupMs,
      commitCommandMs,
      refusedWrites,
      mode,
      verification,
      baseReconcileMs,
      load,
    };
  } finally {
    await writer?.stop();
    await projector?.stop();
    await capture?.stop();
    await dropSlot(name).catch(() => undefined);
    await sql(`ALTER ROLE ${role} RESET ALL`).catch(() => undefined);
    await sql(`DROP OWNED BY ${role}`).catch(() => undefined);
    await sql(`DROP ROLE IF EXISTS ${role}`).catch(() => undefined);
    await sql(`DROP SCHEMA IF EXISTS ${schema} CASCADE`).catch(() => undefined);
    await sql(`DROP PUBLICATION IF EXISTS ${name}`).catch(() => undefined);
    await target.drop();
  }
}
