/**
 * Loads the user's module and picks the execution object (SPEC 5).
 *
 * Runs inside the session worker: modules are loaded with a native dynamic
 * import() of a file:// URL, so CommonJS and ES modules both work.
 */
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseExportPath } from '../codecs/context';
import { ErrorCode, FlmError, invalidInput, isFlmError } from '../errors';
import { hasMember, memberNames } from './members';
import { resolveModuleFile } from './resolve-module';
import { describeUserError, syntaxErrorLocation } from './user-stack';

export type TargetKind = 'function' | 'class' | 'object';

export interface LoadedTarget {
  kind: TargetKind;
  value: unknown;
  /** Absolute path of the loaded module. */
  file: string;
  /** For messages: `lib/math.js export 'add'`. */
  label: string;
}

export interface LoadSpec {
  /** Package root (or working directory); module paths are relative to it. */
  root: string;
  module?: string;
  /** Export name or dotted path; default `default`, falling back to the namespace. */
  exportPath?: string;
}


/**
 * A real dynamic import(): with `module: commonjs`, tsc rewrites import() in
 * this file into require(), which cannot load every ES module.
 */
// eslint-disable-next-line @typescript-eslint/no-implied-eval
const nativeImport = new Function('url', 'return import(url)') as (url: string) => Promise<unknown>;

export async function loadTarget(spec: LoadSpec): Promise<LoadedTarget> {
  const root = path.resolve(spec.root);
  const file = resolveModuleFile(root, spec.module);
  const shown = relativeTo(root, file);
  let ns: Record<string, unknown>;
  try {
    ns = (await nativeImport(pathToFileURL(file).href)) as Record<string, unknown>;
  } catch (err) {
    throw classifyLoadError(err, shown, root);
  }
  const segments = spec.exportPath ? parseExportPath(spec.exportPath) : undefined;
  const value = segments ? pickExport(ns, segments, shown) : ns.default !== undefined ? ns.default : ns;
  const label = segments ? `${shown} export '${segments.join('.')}'` : `${shown}${ns.default !== undefined ? ' default export' : ''}`;
  return { kind: kindOf(value, label), value, file, label };
}

/** The execution object: a class is instantiated (once per session) with init_args. */
export function instantiate(target: LoadedTarget, initArgs: readonly unknown[] | undefined, root: string): unknown {
  if (target.kind !== 'class') {
    if (initArgs && initArgs.length > 0) {
      throw invalidInput(`init_args given, but ${target.label} is a ${target.kind}, not a class`);
    }
    return target.value;
  }
  const Ctor = target.value as new (...args: unknown[]) => unknown;
  try {
    return new Ctor(...(initArgs ?? []));
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
    return invalidInput(`module not found while loading ${shown}: ${(err as Error).message.split('\n')[0]}`, err);
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
