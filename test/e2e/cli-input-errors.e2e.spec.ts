import { mkdtempSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { stringify } from 'yaml';
import { TandemProcess } from '../support/capture-process';
import { env, sql, uniqueName } from '../support/services';

/** Bad input as a user types it: every mistake exits 2 naming it; an unreachable service is named. */
const name = uniqueName('inputs');
const password = 'Pw-not-for-logs';
const withPassword = (url: string) => url.replace('//tandem:tandem@', `//tandem:${password}@`);
const closedPort = '127.0.0.1:5999';

function configFile(overrides: (config: Record<string, any>) => void = () => undefined): string {
  const config: Record<string, any> = {
    source: { url: env.sourceUrl(), slot: name, publication: name, tables: [`public.${name}`] },
    kafka: { brokers: env.brokers(), topicPrefix: name },
    target: { url: env.targetUrl() },
    projections: [{ recipe: 'users' }],
  };
  overrides(config);
  const file = join(mkdtempSync(join(tmpdir(), 'tandem-inputs-')), 'tandem.yaml');
  writeFileSync(file, stringify(config));
  return file;
}

async function run(...args: string[]): Promise<{ code: number | null; output: string }> {
  const child = new TandemProcess(args);
  const code = await child.exited;
  return { code, output: child.output };
}

beforeAll(async () => {
  await sql(`CREATE TABLE public.${name} (id int PRIMARY KEY)`);
});

describe('tandem CLI: bad input exits 2 and says what is wrong', () => {
  it('a typo in the configuration names the key and the key it most likely meant, at any level', async () => {
    const file = configFile((config) => {
      config.source.snapshot = { chunksize: 10 };
      config.projection = config.projections;
    });
    const result = await run('capture', '--config', file, '--dry-run');
    expect(result.code).toBe(2);
    expect(result.output).toContain('source.snapshot: unknown key "chunksize" (did you mean "chunkSize"?)');
    expect(result.output).toContain('unknown key "projection" (did you mean "projections"?)');
  });

  it('a missing or malformed argument exits 2; the position is checked before anything else', async () => {
    const missing = await run('replay', '--config', configFile(), '--projection', 'users');
    expect(missing.code).toBe(2);
    expect(missing.output).toContain("required option '--to <position>' not specified");
    // Kafka and the target are unreachable here: the position's error comes first all the same
    const unreachable = configFile((config) => {
      config.kafka.brokers = [closedPort];
      config.target.url = `postgres://tandem@${closedPort}/target`;
    });
    const garbage = await run('replay', '--config', unreachable, '--projection', 'users', '--to', 'garbage');
    expect(garbage.code).toBe(2);
    expect(garbage.output).toContain('--to garbage: not a position');
    const badLsn = await run('replay', '--config', unreachable, '--projection', 'users', '--to', 'lsn:nope');
    expect(badLsn.code).toBe(2);
    expect(badLsn.output).toContain('--to lsn:nope: not an LSN');
  });

  it('dlq list refuses a projection that is not configured, like the other commands', async () => {
    const result = await run('dlq', 'list', '--config', configFile(), '--projection', 'nope');
    expect(result.code).toBe(2);
    expect(result.output).toContain('--projection nope: not in the configuration (configured: users)');
  });

  it('a connection URL that does not parse is a configuration error, without its password', async () => {
    const file = configFile((config) => (config.target.url = `postgres://tandem:${password}@db:port/target`));
    const result = await run('dlq', 'list', '--config', file);
    expect(result.code).toBe(2);
    expect(result.output).toContain('target.url: is not a valid URL');
    expect(result.output).not.toContain(password);
  });
});

describe('tandem CLI: an unreachable service is named source, target or kafka', () => {
  it('source', async () => {
    const file = configFile((config) => (config.source.url = `postgres://tandem:${password}@${closedPort}/legacy`));
    const result = await run('capture', '--config', file, '--dry-run');
    expect(result.code).toBe(1);
    expect(result.output).toMatch(/tandem: source \(postgres:\/\/tandem:\*\*\*@127\.0\.0\.1:5999\/legacy\): .*ECONNREFUSED/);
    expect(result.output).not.toContain(password);
  });

  it('target', async () => {
    const file = configFile((config) => (config.target.url = withPassword(env.targetUrl()).replace(/:\d+\//, ':5999/')));
    const result = await run('dlq', 'list', '--config', file);
    expect(result.code).toBe(1);
    expect(result.output).toMatch(/tandem: target \(postgres:\/\/tandem:\*\*\*@127\.0\.0\.1:5999\/\w+\): .*ECONNREFUSED/);
    expect(result.output).not.toContain(password);
  });

  it('kafka: capture --dry-run checks that Kafka answers, without an error line per retry', async () => {
    const reachable = await run('capture', '--config', configFile(), '--dry-run');
    expect(reachable.code).toBe(0);
    expect(reachable.output).toContain('kafka: answers (1 broker)');
    const file = configFile((config) => (config.kafka.brokers = [closedPort]));
    const result = await run('capture', '--config', file, '--dry-run');
    expect(result.code).toBe(1);
    expect(result.output).toContain(`tandem: kafka (${closedPort}): Connection error: connect ECONNREFUSED`);
    const logLines = result.output.split('\n').filter((line) => line.startsWith('{'));
    expect(logLines.filter((line) => JSON.parse(line).level === 'error')).toEqual([]);
    expect(logLines.length).toBeLessThanOrEqual(3);
  });
});
