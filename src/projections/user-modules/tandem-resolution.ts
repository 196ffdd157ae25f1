import Module from 'module';
import { existsSync, readFileSync } from 'fs';
import { dirname, extname, join, sep } from 'path';

/**
 * `import … from 'tandem'` in a user's projection module resolves to the Tandem that is running,
 * wherever the module lives (its folder needs no node_modules): the bare specifier 'tandem' and its
 * subpaths 'tandem/…' are mapped to this build's files — dist/*.js when Tandem runs compiled,
 * src/*.ts when it runs from source. Subpaths follow package.json `exports`.
 */

/** The folder holding this build's index (src/ or dist/): two levels above this file. */
const buildRoot = join(__dirname, '..', '..');
/** .ts when running from source, .js when compiled. */
const buildExtension = extname(__filename);

type Resolver = (request: string, parent: unknown, isMain: boolean, options?: unknown) => string;
/** The Module class require() itself uses (a test runner may hand out a subclass of it). */
const nodeModule: unknown = Object.getPrototypeOf(Module) === Function.prototype ? Module : Object.getPrototypeOf(Module);
const moduleInternals = nodeModule as { _resolveFilename: Resolver };
let installed = false;

/** Whether `filename` is one of this build's own files (src/ or dist/), not a user's. */
export function isTandemFile(filename: string): boolean {
  return filename.startsWith(buildRoot + sep);
}

/** The file a 'tandem' or 'tandem/…' request stands for, or null for any other request. */
export function tandemFileFor(request: string): string | null {
  if (request === 'tandem') return join(buildRoot, `index${buildExtension}`);
  if (!request.startsWith('tandem/')) return null;
  const subpath = `./${request.slice('tandem/'.length)}`;
  const packageJson = findPackageJson();
  if (subpath === './package.json') return packageJson;
  const target = exportTarget(packageJson, subpath);
  if (!target) throw new Error(`'${request}' is not exported by tandem (see package.json "exports")`);
  // "./dist/testing.js" -> <build root>/testing.<ext>
  const relative = target.replace(/^\.\/(dist|src)\//, '').replace(/\.(js|ts|d\.ts)$/, '');
  return join(buildRoot, `${relative}${buildExtension}`);
}

/** Maps 'tandem' and 'tandem/…' for every require() in this process (idempotent). */
export function installTandemResolution(): void {
  if (installed) return;
  installed = true;
  const original = moduleInternals._resolveFilename;
  moduleInternals._resolveFilename = function resolveTandem(request, parent, isMain, options) {
    const file = typeof request === 'string' ? tandemFileFor(request) : null;
    return file ?? original.call(this, request, parent, isMain, options);
  };
}

function findPackageJson(): string {
  for (let folder = buildRoot; ; folder = dirname(folder)) {
    const candidate = join(folder, 'package.json');
    if (existsSync(candidate) && (JSON.parse(readFileSync(candidate, 'utf8')) as { name?: string }).name === 'tandem') return candidate;
    if (dirname(folder) === folder) throw new Error(`cannot find tandem's package.json above ${buildRoot}`);
  }
}

function exportTarget(packageJson: string, subpath: string): string | null {
  const exports = (JSON.parse(readFileSync(packageJson, 'utf8')) as { exports?: Record<string, unknown> }).exports ?? {};
  const entry = exports[subpath];
  if (typeof entry === 'string') return entry;
  if (entry && typeof entry === 'object') {
    const conditions = entry as Record<string, unknown>;
    const target = conditions.require ?? conditions.default ?? conditions.node;
    return typeof target === 'string' ? target : null;
  }
  return null;
}
