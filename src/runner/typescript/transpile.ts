/**
 * Compiles one TypeScript file to JavaScript with SWC: types are removed,
 * enums, namespaces, parameter properties and decorators are compiled as tsc
 * compiles them, and an inline source map points back at the .ts file. No
 * type checking (that is the author's build step, not the runner's).
 *
 * SWC was chosen over esbuild, TypeScript's transpileModule and Node's own
 * stripper (README "TypeScript"): it loads in ~0.1 s and compiles a file in
 * about a millisecond, its platform binary comes from the npm registry and
 * needs no install script, and it emits decorator metadata, which esbuild
 * does not and Node's stripper cannot. Off the main thread it runs in a
 * child process (compileInChildProcess says why).
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { isMainThread } from 'node:worker_threads';
import type { Options } from '@swc/core';
import { cachedCompile, entryHash, remember } from './cache';
import { declaredFormat, isTypeScriptFile, type ModuleFormat } from './files';
import { emitSettings, type EmitSettings } from './tsconfig';

export interface Compiled {
  format: ModuleFormat;
  code: string;
}

/** Raised for source SWC cannot parse; `file`, `line`, `column` (1-based) say where. */
export class TypeScriptSyntaxError extends SyntaxError {
  readonly code = SYNTAX_CODE;
  constructor(
    readonly what: string,
    readonly file: string,
    readonly line?: number,
    readonly column?: number,
  ) {
    super(`${file}${line ? `:${line}:${column ?? 1}` : ''}: ${what}`);
    this.name = 'SyntaxError';
  }
}

const SYNTAX_CODE = 'FLMRUN_TS_SYNTAX';

export interface SyntaxErrorFields {
  what: string;
  file: string;
  line?: number;
  column?: number;
}

/**
 * The fields of a TypeScriptSyntaxError, also when it crossed from Node's
 * hooks thread (structured clone keeps own fields, not the class).
 */
export function typeScriptSyntaxError(err: unknown): SyntaxErrorFields | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const e = err as Record<string, unknown>;
  if (e.code !== SYNTAX_CODE || typeof e.file !== 'string' || typeof e.what !== 'string') return undefined;
  const num = (v: unknown): number | undefined => (typeof v === 'number' ? v : undefined);
  return { what: e.what, file: e.file, line: num(e.line), column: num(e.column) };
}

// Bumped when what this module emits changes for the same input.
const EMIT_VERSION = 1;

type Swc = typeof import('@swc/core');
let swcModule: Swc | undefined;
/** Loaded on first use: a package without TypeScript never pays for the compiler. */
function swc(): Swc {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  swcModule ??= require('@swc/core') as Swc;
  return swcModule;
}

/** The compiler's version without loading it (for cache keys on warm enters). */
function swcVersion(): string {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return (require('@swc/core/package.json') as { version: string }).version;
}

function cacheKey(file: string): { key: string; declared: ReturnType<typeof declaredFormat>; settings: EmitSettings } {
  const declared = declaredFormat(file);
  const settings = emitSettings(file);
  // Location-free, so one package extracted again elsewhere (another session's tree) hits the same entries.
  return { key: JSON.stringify([EMIT_VERSION, swcVersion(), path.basename(file), declared, settings]), declared, settings };
}

export function compileTypeScript(file: string, source: string, cacheDir: string | undefined): Compiled {
  const { key, declared, settings } = cacheKey(file);
  return cachedCompile(cacheDir, key, source, () => {
    if (!isMainThread) return compileInChildProcess(file, cacheDir);
    const format = declared === 'detect' ? detectFormat(file, source) : declared;
    return { format, code: transform(file, source, format, settings) };
  });
}

/** The hash a compile process reports an entry under (as cachedCompile computes it). */
export function compiledHash(file: string, source: string): string {
  return entryHash(cacheKey(file).key, source);
}

const MAX_BATCH = 2000;

/**
 * SWC's native addon crashes the process when it is loaded again in a
 * worker thread after another thread that loaded it has ended (a session
 * worker replaced or left), unless the main thread holds it. User code runs
 * in worker threads, so compiling is done in a short-lived child process
 * instead: on the first miss it compiles every TypeScript file of the
 * package at once (into the cache, and back to this thread), so one cold
 * enter starts one process.
 */
function compileInChildProcess(file: string, cacheDir: string | undefined): Compiled {
  const files = [file, ...packageTypeScriptFiles(file).filter((f) => f !== file)].slice(0, MAX_BATCH);
  const child = spawnSync(process.execPath, [path.join(__dirname, 'compile-child.js')], {
    input: JSON.stringify({ files, cacheDir }),
    encoding: 'utf8',
    maxBuffer: 1 << 30,
    windowsHide: true,
  });
  if (child.status !== 0 || child.error) {
    throw new Error(`compiling ${file} failed: the compile process ${child.error ? `could not run (${child.error.message})` : `exited with ${child.status ?? child.signal}: ${child.stderr}`}`);
  }
  const results = JSON.parse(child.stdout) as CompileResult[];
  let mine: CompileResult | undefined;
  for (const r of results) {
    if (r.file === file) mine = r;
    if (r.hash && r.format && r.code !== undefined) remember(r.hash, { format: r.format, code: r.code });
  }
  if (mine?.error) throw new TypeScriptSyntaxError(mine.error.what, mine.error.file, mine.error.line, mine.error.column);
  if (!mine?.format || mine.code === undefined) throw new Error(`compiling ${file} failed: the compile process gave no result for it`);
  return { format: mine.format, code: mine.code };
}

export interface CompileResult {
  file: string;
  hash?: string;
  format?: ModuleFormat;
  code?: string;
  error?: SyntaxErrorFields;
}

/** The .ts/.mts/.cts files of the package holding `file` (nearest package.json), outside node_modules and dot directories. */
function packageTypeScriptFiles(file: string): string[] {
  let root = path.dirname(file);
  while (!fs.existsSync(path.join(root, 'package.json')) && path.dirname(root) !== root) root = path.dirname(root);
  if (!fs.existsSync(path.join(root, 'package.json'))) return [];
  const out: string[] = [];
  const walk = (dir: string): void => {
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      if (out.length >= MAX_BATCH) return;
      if (e.name === 'node_modules' || e.name.startsWith('.')) continue;
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile() && isTypeScriptFile(p)) out.push(p);
    }
  };
  walk(root);
  return out;
}

function transform(file: string, source: string, format: ModuleFormat, settings: EmitSettings): string {
  const options: Options = {
    filename: file,
    sourceMaps: 'inline',
    // Node resolves a map's sources against the module's own URL: the bare name is the .ts file beside it.
    sourceFileName: path.basename(file),
    swcrc: false,
    configFile: false,
    isModule: true,
    jsc: {
      parser: { syntax: 'typescript', decorators: true, dynamicImport: true },
      target: 'es2022',
      keepClassNames: true,
      transform: {
        legacyDecorator: settings.experimentalDecorators,
        decoratorMetadata: settings.emitDecoratorMetadata,
        decoratorVersion: settings.experimentalDecorators ? '2021-12' : '2022-03',
        useDefineForClassFields: settings.useDefineForClassFields,
        verbatimModuleSyntax: false,
      },
    },
    module:
      format === 'module'
        ? { type: 'es6' }
        : // `export default class` becomes exports.default with __esModule set, as tsc emits it.
          { type: 'commonjs', strict: false, importInterop: 'swc', ignoreDynamic: true },
  };
  try {
    return swc().transformSync(source, options).code;
  } catch (err) {
    throw syntaxError(err, file);
  }
}

/** `import`/`export` statements make a file without a declared type an ES module (`export =` does not). */
function detectFormat(file: string, source: string): ModuleFormat {
  let body: { type: string }[];
  try {
    body = swc().parseSync(source, { syntax: 'typescript', decorators: true }).body;
  } catch (err) {
    throw syntaxError(err, file);
  }
  const esm = body.some((item) => item.type.startsWith('Import') || item.type.startsWith('Export'));
  return esm ? 'module' : 'commonjs';
}

/**
 * SWC reports a parse error as rendered text: `x <what>`, then the source
 * excerpt with a `^` under the position. The position is read from that
 * excerpt; when it cannot be, the message still names the file.
 */
function syntaxError(err: unknown, file: string): TypeScriptSyntaxError {
  const text = err instanceof Error ? err.message : String(err);
  const lines = text.split('\n');
  const what = lines.find((l) => /^\s*x /.test(l))?.replace(/^\s*x /, '').trim() ?? (lines[0] ?? 'cannot parse').trim();
  let line: number | undefined;
  let column: number | undefined;
  for (let i = 1; i < lines.length; i++) {
    const caret = /^(\s*):(\s*)\^/.exec(lines[i]!);
    const src = /^\s*(\d+) \|/.exec(lines[i - 1]!);
    if (caret && src) {
      const gutter = lines[i - 1]!.indexOf('|') + 2;
      line = Number(src[1]);
      column = lines[i]!.indexOf('^') - gutter + 1;
      break;
    }
  }
  return new TypeScriptSyntaxError(what, file, line, column);
}
