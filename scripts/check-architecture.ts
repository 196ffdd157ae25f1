/**
 * Checks the rules of README "Architecture" on src/: layers only import downwards
 * (cli → app → modules → projections → connectors → contracts → shared; testing and index.ts sit beside
 * cli), no import cycle between module folders, no file over 300 lines.
 * Usage: node -r ts-node/register/transpile-only scripts/check-architecture.ts   (exit 1 on a finding)
 */
import { readdirSync, readFileSync, statSync } from 'fs';
import { dirname, join, relative, resolve } from 'path';

const SRC = resolve(__dirname, '..', 'src');
const MAX_LINES = 300;
/** Lower rank = lower layer; a file may import its own layer or lower ones. */
const RANK: Record<string, number> = { shared: 0, contracts: 1, connectors: 2, projections: 3, modules: 4, app: 5, testing: 6, cli: 6, 'index.ts': 6 };

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return files(path);
    return path.endsWith('.ts') ? [path] : [];
  });
}

/** The module folder a file belongs to: src/<layer>/<folder> (src/<layer> for layers without folders). */
function folderOf(file: string): string {
  const parts = relative(SRC, file).split('/');
  if (parts.length === 1) return parts[0];
  if (['shared', 'contracts', 'testing', 'cli'].includes(parts[0]) || parts.length === 2) return parts[0];
  return `${parts[0]}/${parts[1]}`;
}

const layerOf = (folder: string) => folder.split('/')[0];

const findings: string[] = [];
const edges = new Map<string, Map<string, string>>(); // folder -> imported folder -> an example "file -> file"
for (const file of files(SRC)) {
  const text = readFileSync(file, 'utf8');
  const lines = text.split('\n').length - (text.endsWith('\n') ? 1 : 0);
  if (lines > MAX_LINES) findings.push(`over ${MAX_LINES} lines: ${relative(SRC, file)} (${lines})`);
  for (const match of text.matchAll(/^(?:import|export)[^'"]*from\s+'(\.[^']+)'/gm)) {
    const target = resolve(dirname(file), match[1]);
    const [from, to] = [folderOf(file), folderOf(`${target}.ts`)];
    if (from === to) continue;
    if (RANK[layerOf(to)] > RANK[layerOf(from)])
      findings.push(`upward import: ${relative(SRC, file)} imports ${relative(SRC, target)} (${from} -> ${to})`);
    if (!edges.has(from)) edges.set(from, new Map());
    if (!edges.get(from)!.has(to)) edges.get(from)!.set(to, `${relative(SRC, file)} -> ${relative(SRC, target)}`);
  }
}

// Cycles between folders: strongly connected components of more than one folder (Tarjan).
let index = 0;
const stack: string[] = [];
const meta = new Map<string, { index: number; low: number; onStack: boolean }>();
function connect(folder: string): void {
  meta.set(folder, { index, low: index, onStack: true });
  index++;
  stack.push(folder);
  for (const next of edges.get(folder)?.keys() ?? []) {
    if (!meta.has(next)) {
      connect(next);
      meta.get(folder)!.low = Math.min(meta.get(folder)!.low, meta.get(next)!.low);
    } else if (meta.get(next)!.onStack) meta.get(folder)!.low = Math.min(meta.get(folder)!.low, meta.get(next)!.index);
  }
  if (meta.get(folder)!.low !== meta.get(folder)!.index) return;
  const component: string[] = [];
  let member: string;
  do {
    member = stack.pop()!;
    meta.get(member)!.onStack = false;
    component.push(member);
  } while (member !== folder);
  if (component.length > 1) {
    const inside = new Set(component);
    const examples = component.flatMap((f) => [...(edges.get(f) ?? [])].filter(([to]) => inside.has(to)).map(([, example]) => example));
    findings.push(`import cycle between ${component.sort().join(', ')}: ${examples.join('; ')}`);
  }
}
for (const folder of edges.keys()) if (!meta.has(folder)) connect(folder);

for (const finding of findings) console.log(finding);
console.log(findings.length === 0 ? 'architecture: clean' : `architecture: ${findings.length} finding(s)`);
process.exit(findings.length === 0 ? 0 : 1);
