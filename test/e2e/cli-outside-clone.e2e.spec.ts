import { spawn } from 'child_process';
import { mkdtempSync } from 'fs';
import { tmpdir } from 'os';
import { join, resolve } from 'path';
import { writeConfig } from '../support/capture-process';
import { dropSlot, sql, uniqueName } from '../support/services';

const BIN = resolve(__dirname, '..', '..', 'bin', 'tandem.js');

/** `tandem` as a user starts it from their own folder, on the sources (no build): capture's producer thread included. */
describe('tandem started from a folder outside the clone', () => {
  it('captures (the producer worker loads the same kind of code as its parent) and stops with exit 0', async () => {
    const name = uniqueName('outside');
    await sql(`CREATE TABLE public.${name} (id int PRIMARY KEY)`);
    const config = writeConfig({ prefix: name, slot: name, publication: name, tables: [`public.${name}`] });
    const environment: NodeJS.ProcessEnv = { ...process.env, TANDEM_FROM_SOURCE: '1', TANDEM_LOG_LEVEL: 'info' };
    delete environment.TANDEM_SOURCE_URL;
    delete environment.TANDEM_TARGET_URL;
    delete environment.TANDEM_KAFKA_BROKERS;
    const child = spawn(process.execPath, [BIN, 'capture', '--config', config], {
      cwd: mkdtempSync(join(tmpdir(), 'tandem-user-folder-')),
      env: environment,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk) => (output += chunk.toString()));
    child.stderr.on('data', (chunk) => (output += chunk.toString()));
    const exited = new Promise<number | null>((done) => child.on('close', (code) => done(code))); // after the last output
    try {
      // compiling the sources on the fly (no build) takes minutes on a loaded 2-core machine; jest allows 240 s
      const deadline = Date.now() + 220_000;
      while (!/streaming changes/.test(output) && child.exitCode === null && Date.now() < deadline)
        await new Promise((done) => setTimeout(done, 200));
      expect(output).not.toContain('Cannot find module');
      expect(output).toMatch(/streaming changes/);
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
      await dropSlot(name);
    }
  });
});
