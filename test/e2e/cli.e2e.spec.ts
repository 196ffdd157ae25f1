import { spawn } from 'child_process';
import { mkdtempSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join, resolve } from 'path';
import { stringify } from 'yaml';
import { z } from 'zod';
import { dropSlot, env, eventually, sql, uniqueName } from '../support/services';
import { createTargetDatabase } from '../support/target-db';
import { cliCommand, useCompiledCli } from '../support/cli-entry';

const ROOT = resolve(__dirname, '..', '..');

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * The real `tandem` binary as a user's shell runs it: bin/tandem.js on the sources, or under npm test
 * the same CLI compiled once (bin/tandem.js would compile the TypeScript again in every child).
 */
function tandem(
  args: string[],
  options: { env?: Record<string, string>; until?: Promise<unknown> } = {},
): { done: Promise<Run>; stop: () => void; output: () => string } {
  const environment: NodeJS.ProcessEnv = {
    ...process.env,
    TANDEM_FROM_SOURCE: '1',
    TANDEM_LOG_LEVEL: 'info',
    ...options.env,
  };
  // The config files hold every address: the test runner's own service variables must not override them.
  delete environment.TANDEM_SOURCE_URL;
  delete environment.TANDEM_TARGET_URL;
  delete environment.TANDEM_KAFKA_BROKERS;
  const child = spawn(
    process.execPath,
    [...(useCompiledCli() ? cliCommand() : [join(ROOT, 'bin/tandem.js')]), ...args],
    {
      cwd: ROOT,
      env: environment,
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk) => (stderr += chunk.toString()));
  // 'close', not 'exit': on a busy machine the exit can come before the last output has been read
  const done = new Promise<Run>((resolvePromise) =>
    child.on('close', (code) => resolvePromise({ code, stdout, stderr })),
  );
  return { done, stop: () => child.kill('SIGTERM'), output: () => stdout + stderr };
}

const run = (...args: string[]) => tandem(args).done;

/** Mirrors src/modules/status/pipeline-status.ts: what `tandem status --json` promises scripts. */
const count = z.number().int().nonnegative();
const lsn = z.string().regex(/^[0-9A-F]+\/[0-9A-F]+$/);
const iso = z.string().refine((value) => !Number.isNaN(Date.parse(value)), 'ISO 8601 time');
const pipelineStatus = z.strictObject({
  readAt: iso,
  kafka: z.strictObject({ reachable: z.boolean(), error: z.string().nullable() }),
  source: z.array(
    z.strictObject({
      slot: z.string(),
      publication: z.string(),
      state: z.enum(['streaming', 'idle', 'missing']),
      lagBytes: count.nullable(),
      lagSeconds: z.number().nonnegative().nullable(),
      retainedWalBytes: count.nullable(),
      confirmedFlushLsn: lsn.nullable(),
      eventsPerSecond: z.number().nonnegative().nullable(),
    }),
  ),
  projections: z.array(
    z.strictObject({
      projection: z.string(),
      state: z.enum(['running', 'caught-up', 'stalled', 'not-started', 'unknown']),
      lagEvents: count.nullable(),
      lagSeconds: z.number().nonnegative().nullable(),
      eventsPerSecond: z.number().nonnegative().nullable(),
      checkpointLsn: lsn.nullable(),
      partitions: z.array(
        z.strictObject({
          topic: z.string(),
          partition: count,
          offset: z.number().int().min(-1),
          endOffset: count.nullable(),
          lag: count.nullable(),
        }),
      ),
      quarantined: count,
      newestQuarantineReasons: z.array(z.strictObject({ id: count, reason: z.string(), at: iso })),
    }),
  ),
  lastReconciliations: z.array(
    z.strictObject({
      id: count,
      projection: z.string(),
      verdict: z.enum(['PASS', 'FAIL']),
      mismatchRatio: z.number(),
      sourceLsn: lsn,
      finishedAt: iso,
    }),
  ),
  backfills: z.array(
    z.strictObject({
      id: z.string(),
      table: z.string(),
      where: z.string().nullable(),
      origin: z.string(),
      status: z.string(),
      rowsRead: count,
      rowsEmitted: count,
      chunksDone: count,
      chunksLeft: count.nullable(),
      rowsPerSecond: z.number().nonnegative().nullable(),
      requestedAt: iso,
      error: z.string().nullable(),
    }),
  ),
  failback: z
    .strictObject({
      cutoverId: count,
      state: z.string(),
      slot: z.strictObject({
        name: z.string(),
        active: z.boolean(),
        behindBytes: count.nullable(),
        confirmedLsn: lsn.nullable(),
      }),
      projections: z.array(
        z.strictObject({
          projection: z.string(),
          behindRecords: count,
          appliedLsn: lsn.nullable(),
          quarantined: count,
        }),
      ),
      caughtUp: z.boolean(),
    })
    .nullable(),
  cutover: z
    .strictObject({
      id: count,
      state: z.enum(['parallel', 'frozen', 'drained', 'verified', 'committed', 'aborted']),
      freezeLsn: lsn.nullable(),
      operator: z.string(),
      updatedAt: iso,
      history: z.array(z.object({ state: z.string(), at: z.string(), reason: z.string().optional() })),
    })
    .nullable(),
});

describe('tandem CLI: help', () => {
  it('answers --help for every command with its description and options, exit 0', async () => {
    const top = await run('--help');
    expect(top.code).toBe(0);
    const commands = [...top.stdout.matchAll(/^ {2}([a-z-]+)(?: \[options\]| \[command\]|\s)/gm)]
      .map((m) => m[1])
      .filter((c) => c !== 'help');
    expect(commands).toEqual(
      expect.arrayContaining([
        'init',
        'capture',
        'import',
        'project',
        'reconcile',
        'schema-diff',
        'cutover',
        'replay',
        'backup',
        'rollback',
        'dlq',
        'status',
      ]),
    );
    const documented = [
      'init',
      'capture',
      'import',
      'project',
      'reconcile',
      'schema-diff',
      'cutover',
      'replay',
      'backup',
      'rollback',
      'dlq',
      'status',
    ];
    const subcommands: Record<string, string[]> = {
      cutover: ['plan', 'start', 'commit', 'abort', 'status'],
      backup: ['list', 'restore'],
      dlq: ['list', 'redrive'],
      failback: ['start', 'status', 'stop'],
    };
    const paths = commands.flatMap((command) =>
      (subcommands[command] ?? [null]).map((sub) => (sub ? [command, sub] : [command])),
    );
    const pending = [...paths];
    const failures: string[] = [];
    // four at a time: each is a Node process compiling the CLI
    await Promise.all(
      Array.from({ length: 4 }, async () => {
        for (let path = pending.shift(); path; path = pending.shift()) {
          const help = await run(...path, '--help');
          const text = help.stdout;
          if (help.code !== 0) failures.push(`${path.join(' ')}: exit ${help.code}`);
          if (!/Usage: tandem /.test(text)) failures.push(`${path.join(' ')}: no usage line`);
          if (documented.includes(path[0]) && !/Examples:/.test(text))
            failures.push(`${path.join(' ')}: no examples`);
          // schema-diff and init take database URLs; init writes the config file
          if (!['schema-diff', 'init'].includes(path.join(' ')) && !/--config <file>/.test(text))
            failures.push(`${path.join(' ')}: does not name --config`);
        }
      }),
    );
    expect(failures).toEqual([]);
  }, 900_000); // some twenty Node processes, on a busy 2-core machine
});

describe('tandem CLI against a running pipeline', () => {
  const name = uniqueName('cli');
  // Trust authentication accepts any password, so this one is used by every connection and must never be printed.
  const password = `pw-${name}-Zq9`;
  const withPassword = (url: string) => {
    const parsed = new URL(url);
    parsed.password = password;
    return parsed.toString();
  };
  let target: Awaited<ReturnType<typeof createTargetDatabase>>;
  let configFile: string;
  let capture: ReturnType<typeof tandem>;
  let projector: ReturnType<typeof tandem>;
  const everything: string[] = [];
  const remember = (result: Run) => {
    everything.push(result.stdout, result.stderr);
    return result;
  };

  const writeYaml = (document: unknown) => {
    const file = join(mkdtempSync(join(tmpdir(), 'tandem-cli-')), 'tandem.yaml');
    writeFileSync(file, stringify(document));
    return file;
  };
  const config = () => ({
    source: {
      url: withPassword(env.sourceUrl()),
      slot: name,
      publication: name,
      tables: [`${name}.auth_users`],
      heartbeatIntervalMs: 1000,
    },
    kafka: { brokers: env.brokers(), topicPrefix: name, partitions: 2 },
    target: { url: withPassword(target.url) },
    projections: [{ recipe: 'users', sourceSchema: name }],
    capture: { statusIntervalMs: 1000 },
  });

  beforeAll(async () => {
    target = await createTargetDatabase('cli');
    await sql(`CREATE SCHEMA ${name}`);
    await sql(`CREATE TABLE ${name}.auth_users (id text PRIMARY KEY, email text NOT NULL, display_name text, instance_name text,
               raw_user_meta_data jsonb, encrypted_password text, created_at timestamptz NOT NULL DEFAULT now())`);
    await sql(
      `INSERT INTO ${name}.auth_users (id, email) SELECT gen_random_uuid()::text, 'u' || g || '@example.com' FROM generate_series(1, 50) g`,
    );
    await sql(`INSERT INTO ${name}.auth_users (id, email) VALUES ('not-a-uuid', 'bad@example.com')`);
    configFile = writeYaml(config());
    capture = tandem(['capture', '--config', configFile]);
    await eventually(
      async () => /streaming changes/.test(capture.output()),
      420_000,
      'capture to stream',
    ).catch((error) => {
      throw new Error(`${error.message}\n${capture.output().slice(-3000)}`);
    });
    projector = tandem(['project', '--config', configFile]);
  }, 600_000);

  afterAll(async () => {
    capture?.stop();
    projector?.stop();
    await Promise.all([capture?.done, projector?.done]);
    await dropSlot(name);
    await target?.drop();
  });

  it('status --json prints exactly the PipelineStatus document', async () => {
    const status = await eventually(
      async () => {
        const result = remember(await run('status', '--config', configFile, '--json', '--window', '1'));
        expect(result.code).toBe(0);
        const parsed = pipelineStatus.parse(JSON.parse(result.stdout));
        return (
          parsed.projections[0].state === 'caught-up' && parsed.projections[0].quarantined === 1 && parsed
        );
      },
      120_000,
      'status to show the users projection caught up',
    );
    expect(status.source[0]).toMatchObject({ slot: name, publication: name, state: 'streaming' });
    expect(status.projections[0].newestQuarantineReasons[0].reason).toContain('not a valid uuid');
  });

  it('status without --json prints the table', async () => {
    const result = remember(await run('status', '--config', configFile, '--window', '0'));
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/SOURCE SLOT\s+PUBLICATION\s+STATE/);
    expect(result.stdout).toMatch(new RegExp(`^${name}\\s+${name}\\s+streaming`, 'm'));
    expect(result.stdout).toMatch(/^users\s+(caught-up|running)/m);
  });

  it('dlq list --json and backup list --json print arrays scripts can read', async () => {
    const dlq = remember(await run('dlq', 'list', '--config', configFile, '--json'));
    expect(dlq.code).toBe(0);
    const entries = z
      .array(
        z.object({
          id: count,
          projection: z.literal('users'),
          topic: z.string(),
          partition: count,
          offset: z.string(),
          reason: z.string(),
          status: z.literal('quarantined'),
        }),
      )
      .parse(JSON.parse(dlq.stdout));
    expect(entries).toHaveLength(1);
    const backups = remember(await run('backup', 'list', '--config', configFile, '--json'));
    expect(backups.code).toBe(0);
    expect(JSON.parse(backups.stdout)).toEqual([]);
  });

  it('schema-diff --json of a database against itself: identical, exit 0', async () => {
    const result = remember(
      await run(
        'schema-diff',
        '--source',
        withPassword(target.url),
        '--target',
        withPassword(target.url),
        '--json',
      ),
    );
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ identical: true, total: 0, differences: [] });
  });

  it('capture --dry-run --json shows the plan and creates nothing; a missing table exits 3', async () => {
    const result = remember(await run('capture', '--config', configFile, '--dry-run', '--json'));
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({
      slot: { name, exists: true },
      publication: { name, exists: true },
      tables: [{ table: `${name}.auth_users`, topic: `${name}.${name}.auth_users`, keyColumns: ['id'] }],
    });
    const missing = config();
    missing.source.tables = [`${name}.no_such_table`];
    missing.source.slot = `${name}_x`;
    const refused = remember(await run('capture', '--config', writeYaml(missing), '--dry-run'));
    expect(refused.code).toBe(3);
    expect(refused.stderr).toContain(`source table ${name}.no_such_table does not exist`);
    expect(await sql('SELECT 1 FROM pg_replication_slots WHERE slot_name = $1', [`${name}_x`])).toEqual([]);
  });

  it('a refused command exits with its documented code and says why', async () => {
    const commit = remember(await run('cutover', 'commit', '--config', configFile));
    expect(commit.code).toBe(8);
    expect(commit.stderr).toContain('no cutover recorded yet');
    const badWatch = remember(await run('status', '--config', configFile, '--watch', '0'));
    expect(badWatch.code).toBe(2);
    expect(badWatch.stderr).toContain('--watch');
  });

  it('an invalid configuration exits 2 naming each field, never its value', async () => {
    const broken = config();
    (broken.kafka as { brokers: string[] }).brokers = ['no-port-here'];
    (broken.source as { slot: string }).slot = 'Not An Identifier';
    const result = remember(await run('status', '--config', writeYaml(broken)));
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('kafka.brokers.0: must be host:port');
    expect(result.stderr).toContain('source.slot: must be a lower-case PostgreSQL identifier');
    const missing = remember(await run('status', '--config', '/nonexistent/tandem.yaml'));
    expect(missing.code).toBe(2);
  });

  it('an unreachable database fails with exit 1 and a message without the password', async () => {
    const broken = config();
    broken.source.url = withPassword(env.sourceUrl().replace(/\/[^/]*$/, '/no_such_database'));
    const result = remember(await run('status', '--config', writeYaml(broken)));
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('no_such_database');
  });

  it('no line any command, capture or the projector printed contains the password', async () => {
    await sql(
      `INSERT INTO ${name}.auth_users (id, email) SELECT gen_random_uuid()::text, 'late' || g || '@example.com' FROM generate_series(1, 20) g`,
    );
    await eventually(
      async () =>
        /"msg":"capture status"/.test(capture.output()) && /projectors running/.test(projector.output()),
      60_000,
      'logs',
    );
    capture.stop();
    projector.stop();
    const [captured, projected] = await Promise.all([capture.done, projector.done]);
    const lines = [...everything, captured.stdout, captured.stderr, projected.stdout, projected.stderr]
      .join('\n')
      .split('\n');
    expect(lines.length).toBeGreaterThan(20);
    expect(
      lines.filter((line) => line.includes(password) || line.includes(encodeURIComponent(password))),
    ).toEqual([]);
    const exits = { capture: captured.code, project: projected.code };
    if (exits.capture !== 0 || exits.project !== 0) {
      throw new Error(
        `stopped with ${JSON.stringify(exits)}:\n${captured.stderr.slice(-2000)}\n${projected.stderr.slice(-2000)}`,
      );
    }
  });
});
