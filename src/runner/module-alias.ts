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

export const PACKAGE_NAME = 'flmrun-js';

let installed = false;

/** Aliases `flmrun-js` to `indexFile` for the rest of this thread's life. */
export function installModuleAlias(indexFile: string = path.resolve(__dirname, '..', 'index.js')): void {
  if (installed) return;
  installed = true;
  const target = pathToFileURL(indexFile).href;
  const hooks =
    `const NAME = ${JSON.stringify(PACKAGE_NAME)}, URL = ${JSON.stringify(target)};\n` +
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
