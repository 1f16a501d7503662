/**
 * TypeScript for require(): .ts/.cts files compile through the CommonJS
 * loader's extension table (Node 20 has no other way; Node 22.12+ would
 * strip types itself but cannot compile enums or decorators), and a
 * relative request Node cannot find is retried as TypeScript names it
 * (`./x.js` for x.ts, `./x` for x.ts, or a tsconfig `paths` alias).
 */
import fs from 'node:fs';
import Module from 'node:module';
import path from 'node:path';
import { typeScriptCandidate } from './files';
import { compileTypeScript } from './transpile';
import { pathsCandidates } from './tsconfig';

interface CjsModule {
  filename: string;
  _compile(code: string, filename: string): unknown;
}
type Resolve = (request: string, parent: { filename?: string | null } | undefined, ...rest: unknown[]) => string;
interface ModuleInternals {
  _extensions: Record<string, (module: CjsModule, filename: string) => void>;
  _resolveFilename: Resolve;
}

export function installCommonJsHooks(cacheDir: string | undefined): void {
  const internals = Module as unknown as ModuleInternals;
  const compile = (module: CjsModule, filename: string): void => {
    const compiled = compileTypeScript(filename, fs.readFileSync(filename, 'utf8'), cacheDir);
    if (compiled.format === 'module') {
      // Only reached by require() of an ES-syntax .ts: Node 20 cannot require an ES module at all.
      const err = new Error(
        `require() of ${filename}, a TypeScript file with ES module syntax: import() it, or give its package.json "type": "commonjs"`,
      );
      Object.assign(err, { code: 'ERR_REQUIRE_ESM' });
      throw err;
    }
    module._compile(compiled.code, filename);
  };
  internals._extensions['.ts'] = compile;
  internals._extensions['.cts'] = compile;

  const original = internals._resolveFilename;
  internals._resolveFilename = function (this: unknown, request, parent, ...rest): string {
    try {
      return original.call(this, request, parent, ...rest);
    } catch (err) {
      const from = parent?.filename;
      if (typeof from !== 'string') throw err;
      const found = request.startsWith('./') || request.startsWith('../')
        ? typeScriptCandidate(path.resolve(path.dirname(from), request))
        : pathsCandidates(request, from).map((c) => typeScriptCandidate(c) ?? (isFile(c) ? c : undefined)).find(Boolean);
      if (found === undefined) throw err;
      return found;
    }
  };
}

function isFile(p: string): boolean {
  try {
    return fs.statSync(p).isFile();
  } catch {
    return false;
  }
}
