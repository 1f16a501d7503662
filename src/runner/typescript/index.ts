/**
 * Makes this thread load TypeScript: ES module hooks (for import()),
 * CommonJS hooks (for require()), source-mapped stack traces, and no
 * MODULE_TYPELESS_PACKAGE_JSON noise. Installed once, on the first load of
 * a package; compiled output is cached under `cacheDir`.
 */
import Module from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { installCommonJsHooks } from './cjs-hooks';
import { quietTypelessWarning } from './quiet';

export { isTypeScriptFile } from './files';
export { typeScriptSyntaxError } from './transpile';

let installed = false;

/**
 * The default cache, in the service's working directory: it outlives the
 * extracted package trees that come and go there, and entries are keyed by
 * content, not place, so every session of the same package shares them.
 */
export function defaultCacheDir(workDir: string): string {
  return path.join(workDir, '.flmrun-typescript-cache');
}

export function enableTypeScript(cacheDir: string | undefined): void {
  if (installed) return;
  installed = true;
  // Errors name the .ts file, line and column (maps are inline in the compiled code).
  process.setSourceMapsEnabled(true);
  quietTypelessWarning();
  Module.register(pathToFileURL(esmHooksScript()).href, { data: { cacheDir } });
  installCommonJsHooks(cacheDir);
}

/**
 * The hooks run on Node's own loader thread, which loads plain JavaScript
 * only: when this module itself runs from source (a session child under the
 * test tier's require hook), the hooks come from the build.
 */
function esmHooksScript(): string {
  if (path.extname(__filename) !== '.ts') return path.join(__dirname, 'esm-hooks.js');
  return path.resolve(__dirname, '..', '..', '..', 'dist', 'runner', 'typescript', 'esm-hooks.js');
}
