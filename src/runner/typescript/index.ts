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

export { isTypeScriptFile, TS_EXTENSIONS } from './files';
export { TypeScriptSyntaxError, typeScriptSyntaxError } from './transpile';

let installed = false;

/** The default cache: node_modules/.cache, where build tools keep theirs, inside the package. */
export function defaultCacheDir(packageRoot: string): string {
  return path.join(packageRoot, 'node_modules', '.cache', 'flmrun-js', 'typescript');
}

export function enableTypeScript(cacheDir: string | undefined): void {
  if (installed) return;
  installed = true;
  // Errors name the .ts file, line and column (maps are inline in the compiled code).
  process.setSourceMapsEnabled(true);
  quietTypelessWarning();
  Module.register(pathToFileURL(path.join(__dirname, 'esm-hooks.js')).href, { data: { cacheDir } });
  installCommonJsHooks(cacheDir);
}
