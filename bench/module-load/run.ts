/**
 * Start-up cost of a projection module of the user's own (README, "Projection modules of your own"):
 * each round starts a fresh Node process on the compiled build (.tandem/bench-dist, as `npm run
 * build` ships it) that loads one module through Tandem's loader, A B A B:
 *   A  examples/shop/projections/orders.ts, compiled on the fly (TypeScript loaded, transpileModule)
 *   B  the same projection as plain CommonJS (.cjs: nothing to compile), the reference
 * Both are copied into a temporary folder with no node_modules, as a user's would be.
 *   npm run bench:module-load -- [--rounds 10]
 */
import { execFileSync } from 'child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'fs';
import { loadavg, cpus, tmpdir } from 'os';
import { dirname, join } from 'path';
import ts from 'typescript';
import { arg, fmt } from '../cli-args';
import { compiledCli, ROOT } from '../capture/support';

const rounds = Number(arg('rounds', '10'));
const folder = mkdtempSync(join(tmpdir(), 'tandem-module-load-'));
const typescript = join(folder, 'projections', 'orders.ts');
mkdirSync(dirname(typescript));
copyFileSync(join(ROOT, 'examples', 'shop', 'projections', 'orders.ts'), typescript);
// The reference: the same module compiled ahead of time, as a user who ships JavaScript would.
const commonJs = join(folder, 'projections', 'orders.cjs');
writeFileSync(
  commonJs,
  ts.transpileModule(readFileSync(typescript, 'utf8'), {
    compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: true },
  }).outputText,
);

const dist = dirname(dirname(compiledCli()));
const loader = join(dist, 'projections', 'user-modules', 'load-projection-module.js');

/** One fresh process: ms to require Tandem's loader, ms to load the module (what start-up adds). */
function measure(module: string): { tandemMs: number; moduleMs: number } {
  const script = `
    const start = process.hrtime.bigint();
    const { loadModuleProjection } = require(${JSON.stringify(loader)});
    const loaded = process.hrtime.bigint();
    loadModuleProjection({ name: 'orders-model', module: ${JSON.stringify(module)}, options: { currency: 'EUR' } });
    const done = process.hrtime.bigint();
    console.log(JSON.stringify({ tandemMs: Number(loaded - start) / 1e6, moduleMs: Number(done - loaded) / 1e6 }));`;
  return JSON.parse(execFileSync(process.execPath, ['-e', script], { cwd: folder }).toString());
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const results = { ts: [] as number[], cjs: [] as number[] };
measure(typescript); // warm the file cache
for (let round = 0; round < rounds; round++) {
  results.ts.push(measure(typescript).moduleMs);
  results.cjs.push(measure(commonJs).moduleMs);
}
const [a, b] = [median(results.ts), median(results.cjs)];
process.stdout.write(
  `module load, median of ${rounds} fresh processes each (A B A B), ${cpus().length} CPUs, load average ${loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')}\n` +
    `| module | load ms (median) | min | max |\n| --- | ---: | ---: | ---: |\n` +
    `| A orders.ts (compiled on the fly) | ${fmt(a, 1)} | ${fmt(Math.min(...results.ts), 1)} | ${fmt(Math.max(...results.ts), 1)} |\n` +
    `| B orders.cjs (reference) | ${fmt(b, 1)} | ${fmt(Math.min(...results.cjs), 1)} | ${fmt(Math.max(...results.cjs), 1)} |\n` +
    `added by compiling on the fly: ${fmt(a - b, 1)} ms (A/B ${fmt(a / b, 1)}x)\n`,
);
