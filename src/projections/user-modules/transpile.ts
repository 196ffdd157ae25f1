import Module from 'module';
import { readFileSync } from 'fs';
import { extname } from 'path';

/**
 * User modules in TypeScript or ES module syntax are compiled to CommonJS on the fly with
 * TypeScript's `transpileModule` (syntax only, no type check: types are the editor's job). TypeScript
 * is loaded only when a file needs it (0.2–0.4 s of start-up, once per process; see README).
 */

type Compilable = { _compile(code: string, filename: string, format?: 'commonjs'): void };
type ExtensionHandler = (module: Compilable, filename: string) => void;
const extensions = (Module as unknown as { _extensions: Record<string, ExtensionHandler | undefined> })._extensions;

/** Extensions whose files always need compiling; a .js file only when it uses import/export. */
const TRANSPILED_EXTENSIONS = ['.ts', '.mts', '.cts', '.mjs'];
const ES_MODULE_SYNTAX = /^\s*(import\s*[\w{*'"]|export\s)/m;

export function needsTranspiling(filename: string, source: string): boolean {
  const extension = extname(filename);
  if (TRANSPILED_EXTENSIONS.includes(extension)) return true;
  return extension === '.js' && ES_MODULE_SYNTAX.test(source);
}

/** `ownFile`: one of Tandem's sources (run from source): compiled as its tsconfig does, decorators included. */
export function toCommonJs(filename: string, source: string, ownFile = false): string {
  if (!needsTranspiling(filename, source)) return source;
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const ts = require('typescript') as typeof import('typescript');
  return ts.transpileModule(source, {
    // as .ts: TypeScript would keep ES module output for a .mts/.mjs name
    fileName: filename.replace(/\.[mc]?[jt]s$/, '.ts'),
    compilerOptions: {
      module: ts.ModuleKind.CommonJS,
      target: ts.ScriptTarget.ES2022,
      esModuleInterop: true,
      ...(ownFile ? { experimentalDecorators: true, emitDecoratorMetadata: true } : {}),
      inlineSourceMap: true,
      inlineSources: true,
    },
  }).outputText;
}

/** Compiles `filename` into `module` (CommonJS after transpiling when needed). */
export function compileInto(module: Compilable, filename: string, ownFile = false): void {
  // 'commonjs': the code is CommonJS now, whatever its extension (Node would take .mjs as ESM)
  module._compile(toCommonJs(filename, readFileSync(filename, 'utf8'), ownFile), filename, 'commonjs');
}

let installed = false;

/** ts-node's registration, when Tandem runs from source through it (bin/tandem.js without dist/). */
const runsOnTsNode = () => Symbol.for('ts-node.register.instance') in process;

/**
 * Lets a user module import its own .ts/.mts/.mjs helpers: a handler for each such extension. A
 * user's file is always compiled here, whatever other hook the process has; Tandem's own sources
 * (reached through 'tandem' when running from source) stay with ts-node when it runs them.
 */
export function installTranspilingExtensions(isOwnFile: (filename: string) => boolean): void {
  if (installed) return;
  installed = true;
  for (const extension of TRANSPILED_EXTENSIONS) {
    const previous = extensions[extension];
    extensions[extension] = (module, filename) => {
      const ownFile = isOwnFile(filename);
      if (ownFile && previous && runsOnTsNode()) previous(module, filename);
      else compileInto(module, filename, ownFile);
    };
  }
}
