/**
 * Inside the session worker, `require('flmrun-js')` and `import ... from
 * 'flmrun-js'` resolve to the runner's own public entry, whether or not the
 * user's package depends on flmrun-js, so the task context user code reads is
 * the one the runner sets.
 *
 * ESM: a resolve hook registered with module.register() (Node >= 20.6; the
 * hook runs on the loader thread, so it is given as a self-contained data:
 * URL). CommonJS: require() does not consult those hooks on Node 20, so
 * Module._resolveFilename is wrapped, the long-standing way module aliases
 * are made (the module-alias package does the same).
 */
import Module from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { quietTypelessWarning } from './typescript/quiet';

export const PACKAGE_NAME = 'flmrun-js';

let installed = false;

/** Aliases `flmrun-js` to `indexFile` for the rest of this thread's life. */
export function installModuleAlias(indexFile: string = path.resolve(__dirname, '..', 'index.js')): void {
  if (installed) return;
  installed = true;
  quietTypelessWarning();
  const target = pathToFileURL(indexFile).href;
  const hooks =
    `const NAME = ${JSON.stringify(PACKAGE_NAME)}, URL = ${JSON.stringify(target)};\n` +
    // Node 22+ warns on the hooks thread about ES syntax in a package without "type"; see ./typescript/quiet.
    'export function initialize() {\n' +
    '  const emit = process.emitWarning.bind(process);\n' +
    '  process.emitWarning = (w, ...rest) => {\n' +
    '    const o = rest[0];\n' +
    '    const code = (w && w.code) || (o && typeof o === "object" ? o.code : rest[1]);\n' +
    '    if (code !== "MODULE_TYPELESS_PACKAGE_JSON") emit(w, ...rest);\n' +
    '  };\n' +
    '}\n' +
    'export async function resolve(specifier, context, next) {\n' +
    '  if (specifier === NAME) return { url: URL, format: "commonjs", shortCircuit: true };\n' +
    '  return next(specifier, context);\n' +
    '}\n';
  Module.register(`data:text/javascript,${encodeURIComponent(hooks)}`);

  type Resolve = (request: string, ...rest: unknown[]) => string;
  const mod = Module as unknown as { _resolveFilename: Resolve };
  const original = mod._resolveFilename;
  mod._resolveFilename = function (this: unknown, request: string, ...rest: unknown[]): string {
    return request === PACKAGE_NAME ? indexFile : original.call(this, request, ...rest);
  };
}
