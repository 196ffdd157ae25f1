/**
 * Top self-time functions of a V8 .cpuprofile (node --cpu-prof).
 *   node -r ts-node/register/transpile-only bench/capture/profile.ts FILE.cpuprofile [TOP]
 */
import { readFileSync } from 'fs';
import { relative } from 'path';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}

export interface SelfTime {
  name: string;
  ms: number;
  percent: number;
}

export function topSelfTime(file: string, top = 10): { totalMs: number; functions: SelfTime[] } {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as {
    nodes: ProfileNode[];
    samples: number[];
    timeDeltas: number[];
  };
  const nameOf = new Map<number, string>();
  for (const { id, callFrame } of profile.nodes) {
    const url = callFrame.url.replace(/^file:\/\//, '');
    const where = url
      ? ` ${url.includes('node_modules') ? url.slice(url.lastIndexOf('node_modules/') + 13) : relative(process.cwd(), url)}:${callFrame.lineNumber + 1}`
      : '';
    nameOf.set(id, `${callFrame.functionName || '(anonymous)'}${where}`);
  }
  const self = new Map<string, number>();
  let totalUs = 0;
  profile.samples.forEach((node, i) => {
    const us = profile.timeDeltas[i + 1] ?? 0; // a sample's time is the gap to the next one
    totalUs += us;
    const name = nameOf.get(node)!;
    self.set(name, (self.get(name) ?? 0) + us);
  });
  const functions = [...self]
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([name, us]) => ({ name, ms: us / 1000, percent: (100 * us) / totalUs }));
  return { totalMs: totalUs / 1000, functions };
}

export function formatTop(result: ReturnType<typeof topSelfTime>): string {
  const rows = result.functions.map(
    (f, i) => `| ${i + 1} | \`${f.name}\` | ${f.ms.toFixed(0)} | ${f.percent.toFixed(1)} % |`,
  );
  return [
    `Profiled ${(result.totalMs / 1000).toFixed(1)} s.`,
    '',
    '| # | Function (self time) | ms | share |',
    '|---|---|---|---|',
    ...rows,
  ].join('\n');
}

if (require.main === module) {
  const [file, top] = process.argv.slice(2);
  if (!file) {
    process.stderr.write('usage: profile.ts FILE.cpuprofile [TOP]\n');
    process.exit(2);
  }
  process.stdout.write(formatTop(topSelfTime(file, Number(top ?? 10))) + '\n');
}
