/**
 * Loads the user's module and picks the execution object (docs/protocol.md §5).
 *
 * Runs inside the session worker: modules are loaded with a native dynamic
 * import() of a file:// URL, so CommonJS and ES modules both work.
 */
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseExportPath } from '../codecs/context';
import { ErrorCode, FlmError, invalidInput, isFlmError } from '../errors';
import { hasMember, memberNames, setNamedExports } from './members';
import { resolveModuleFile } from './resolve-module';
import { defaultCacheDir, enableTypeScript, isTypeScriptFile, typeScriptSyntaxError } from './typescript';
import { describeUserError, syntaxErrorLocation } from './user-stack';

export type TargetKind = 'function' | 'class' | 'object';

export interface LoadedTarget {
  kind: TargetKind;
  value: unknown;
  /** Absolute path of the loaded module. */
  file: string;
  /** For messages: `lib/math.js export 'add'`. */
  label: string;
  /** With no export named: the module's named exports, whose functions are methods too. */
  named?: ReadonlyMap<string, unknown>;
}

export interface LoadSpec {
  /** Package root (or working directory); module paths are relative to it. */
  root: string;
  module?: string;
  /** Export name or dotted path; default `default`, falling back to the namespace. */
  exportPath?: string;
  /** The service's working directory; compiled TypeScript is cached there (default: root). */
  workDir?: string;
  /** Where compiled TypeScript is kept instead (tests, benchmarks). */
  typescriptCacheDir?: string;
}


/**
 * A real dynamic import(): with `module: commonjs`, tsc rewrites import() in
 * this file into require(), which cannot load every ES module.
 */
export const nativeImport = new Function('url', 'return import(url)') as (url: string) => Promise<unknown>;

export async function loadTarget(spec: LoadSpec): Promise<LoadedTarget> {
  const root = path.resolve(spec.root);
  const { file, exportPath } = resolveEntry(root, spec.module, spec.exportPath);
  const shown = relativeTo(root, file);
  // A JavaScript package pays nothing for TypeScript support: no hooks, no compiler, no source maps.
  if (isTypeScriptFile(file) || fs.existsSync(path.join(root, 'tsconfig.json'))) {
    enableTypeScript(spec.typescriptCacheDir ?? defaultCacheDir(spec.workDir ?? root));
  }
  let ns: Record<string, unknown>;
  try {
    ns = moduleExports((await nativeImport(pathToFileURL(file).href)) as Record<string, unknown>);
  } catch (err) {
    throw classifyLoadError(err, shown, root);
  }
  const segments = exportPath ? parseExportPath(exportPath) : undefined;
  if (segments) {
    const value = pickExport(ns, segments, shown);
    const label = `${shown} export '${segments.join('.')}'`;
    return { kind: kindOf(value, label), value, file, label };
  }
  if (ns.default === undefined) return { kind: kindOf(ns, shown), value: ns, file, label: shown };
  const label = `${shown} default export`;
  return { kind: kindOf(ns.default, label), value: ns.default, file, label, named: namedExports(ns) };
}

/**
 * The module's exports as their author meant them. A CommonJS module
 * compiled from ES syntax (tsc, SWC, esbuild, Babel) marks module.exports
 * with `__esModule`, and its default export is module.exports.default;
 * import() of it gives { default: module.exports, ...names }, one level off.
 */
function moduleExports(ns: Record<string, unknown>): Record<string, unknown> {
  const cjs = ns.default;
  if (isContainer(cjs) && (cjs as { __esModule?: unknown }).__esModule === true) return cjs as Record<string, unknown>;
  return ns;
}

/** Named exports besides `default` (and the interop marker), reachable when no export is named. */
function namedExports(ns: Record<string, unknown>): Map<string, unknown> | undefined {
  const named = new Map<string, unknown>();
  const def = ns.default;
  for (const name of Object.keys(ns)) {
    // 'module.exports': Node 23+ names a CommonJS module's exports object so in its namespace.
    if (name === 'default' || name === '__esModule' || name === 'module.exports') continue;
    // A CommonJS module's names mirror its exports object (the default): not separate exports.
    if (isContainer(def) && hasMember(def, name) && (def as Record<string, unknown>)[name] === ns[name]) continue;
    named.set(name, ns[name]);
  }
  return named.size > 0 ? named : undefined;
}

/**
 * The module file and export a context names. Besides `module` + `export`,
 * the Lambda-style handler `"file.export"` in `module` is accepted when no
 * export is given and `module` itself names no file (`index.handler`).
 */
function resolveEntry(root: string, module: string | undefined, exportPath: string | undefined): { file: string; exportPath?: string } {
  try {
    return { file: resolveModuleFile(root, module), exportPath };
  } catch (err) {
    const handler = module !== undefined && exportPath === undefined ? HANDLER.exec(module) : null;
    if (!handler?.[1] || !handler[2]) throw err;
    let file: string;
    try {
      file = resolveModuleFile(root, handler[1]);
    } catch {
      throw err;
    }
    return { file, exportPath: handler[2] };
  }
}

// `path/file.exportName`: the last dot-separated part is an identifier, not a file extension.
const HANDLER = /^(.+?)\.([A-Za-z_$][\w$]*)$/;

/** The execution object: a class is instantiated (once per session) with init_args. */
export function instantiate(target: LoadedTarget, initArgs: readonly unknown[] | undefined, root: string): unknown {
  if (target.kind !== 'class') {
    if (initArgs && initArgs.length > 0) {
      throw invalidInput(`init_args given, but ${target.label} is a ${target.kind}, not a class`);
    }
    if (target.named) setNamedExports(target.value as object, target.named);
    return target.value;
  }
  const Ctor = target.value as new (...args: unknown[]) => unknown;
  try {
    const instance = new Ctor(...(initArgs ?? []));
    if (target.named && isContainer(instance)) setNamedExports(instance, target.named);
    return instance;
  } catch (err) {
    throw new FlmError(ErrorCode.UserError, `constructor of ${target.label} threw: ${describeUserError(err, root)}`, {
      cause: err,
    });
  }
}

export function isClass(v: unknown): v is new (...args: unknown[]) => unknown {
  if (typeof v !== 'function') return false;
  try {
    return /^class[\s{]/.test(Function.prototype.toString.call(v));
  } catch {
    return false;
  }
}

function kindOf(value: unknown, label: string): TargetKind {
  if (isClass(value)) return 'class';
  if (typeof value === 'function') return 'function';
  if (value !== null && typeof value === 'object') return 'object';
  throw invalidInput(`${label} is ${value === null ? 'null' : `a ${typeof value}`}, not a function, class or object`);
}

function pickExport(ns: Record<string, unknown>, segments: string[], shown: string): unknown {
  let holder: unknown = ns;
  // CommonJS exports the lexer could not see are only on the namespace's default.
  const first = segments[0]!;
  if (!hasMember(ns, first) && isContainer(ns.default) && hasMember(ns.default, first)) holder = ns.default;
  for (let i = 0; i < segments.length; i++) {
    const seg = segments[i]!;
    if (!isContainer(holder) || !hasMember(holder, seg)) {
      const where = i === 0 ? shown : `'${segments.slice(0, i).join('.')}' of ${shown}`;
      const available = isContainer(holder) ? memberNames(holder).slice(0, 30) : [];
      throw invalidInput(
        `export '${segments.join('.')}' not found: ${where} has no '${seg}'` +
          (available.length ? ` (it has: ${available.join(', ')})` : ''),
      );
    }
    holder = (holder as Record<string, unknown>)[seg];
  }
  return holder;
}

function isContainer(v: unknown): v is object {
  return (typeof v === 'object' && v !== null) || typeof v === 'function';
}

function classifyLoadError(err: unknown, shown: string, root: string): FlmError {
  if (isFlmError(err)) return err;
  const code = (err as { code?: unknown } | null)?.code;
  if (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND' || code === 'ERR_PACKAGE_PATH_NOT_EXPORTED') {
    return invalidInput(`module not found while loading ${shown}: ${(err instanceof Error ? err.message : String(err)).split('\n')[0]}`, err);
  }
  const ts = typeScriptSyntaxError(err);
  if (ts) {
    const at = `${relativeTo(root, ts.file)}${ts.line ? `:${ts.line}:${ts.column ?? 1}` : ''}`;
    return invalidInput(`syntax error in ${at}: ${ts.what}`, err);
  }
  if (err instanceof SyntaxError) {
    const at = syntaxErrorLocation(err, root) ?? shown;
    return invalidInput(`syntax error in ${at}: ${err.message}`, err);
  }
  return invalidInput(`module ${shown} threw while loading: ${describeUserError(err, root)}`, err);
}

function relativeTo(root: string, file: string): string {
  const rel = path.relative(root, file);
  return rel.startsWith('..') ? file : rel.split(path.sep).join('/');
}
