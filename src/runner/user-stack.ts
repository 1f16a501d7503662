/**
 * Error messages about user code in the words of docs/protocol.md §2: `Class: message`,
 * then the user's stack frames one per line, without the runner's own frames
 * or Node's internals, with paths relative to the package root.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describeThrown } from '../errors';

/** The runner's own code (dist/ or src/) and its dependencies: never the user's. */
const RUNNER_DIRS = [
  path.resolve(__dirname, '..') + path.sep,
  path.resolve(__dirname, '..', '..', 'node_modules') + path.sep,
];

const MAX_FRAMES = 20;
const MAX_CAUSES = 3;
// `    at name (location)` or `    at location`; location = file:line:col, a file:// URL, or node:…
const FRAME = /^\s*at (?:(.*?) \()?(.+?)(?::(\d+):(\d+))?\)?$/;

/** `Class: message` followed by the user's frames (and up to three causes). */
export function describeUserError(err: unknown, packageRoot: string): string {
  const empty = emptyRejection(err);
  if (empty) return empty;
  const parts: string[] = [];
  let e: unknown = err;
  for (let depth = 0; depth <= MAX_CAUSES && e !== undefined; depth++) {
    const error = isErrorLike(e) ? e : undefined;
    const frames = error ? userFrames(error.stack, packageRoot) : [];
    let head = error && !(e instanceof Error) ? `${error.name}: ${error.message}` : describeThrown(e);
    if (error && error.message === '') head = `${head.replace(/: $/, '')} (with an empty message)`;
    parts.push([(depth ? 'Caused by: ' : '') + head, ...frames.map((f) => `    at ${f}`)].join('\n'));
    e = error?.cause;
  }
  return parts.join('\n');
}

/**
 * `Promise.reject()`, `throw null`, `throw ''`: nothing to show, which would
 * make an empty error message. (A synchronous throw reaches the runner as a
 * rejection too: every call is awaited.)
 */
function emptyRejection(err: unknown): string | undefined {
  if (err === undefined) return 'rejected with undefined';
  if (err === null) return 'rejected with null';
  if (err === '') return 'rejected with an empty string';
  return undefined;
}

/**
 * Errors from another realm fail `instanceof Error`: one a worker thread
 * reports (structured-cloned), or one made in a vm context.
 */
function isErrorLike(e: unknown): e is Error {
  if (e instanceof Error) return true;
  if (typeof e !== 'object' || e === null) return false;
  const r = e as Record<string, unknown>;
  return typeof r.message === 'string' && typeof r.name === 'string' && typeof r.stack === 'string';
}

/** The user's frames of a V8 stack string, each as `name (relative/path.js:L:C)`. */
export function userFrames(stack: string | undefined, packageRoot: string): string[] {
  if (typeof stack !== 'string') return [];
  const root = path.resolve(packageRoot) + path.sep;
  const out: string[] = [];
  for (const line of stack.split('\n')) {
    if (!/^\s+at /.test(line)) continue;
    const m = FRAME.exec(line);
    if (!m) continue;
    const [, name, where = '', lineNo, col] = m;
    let file = where.trim();
    // `Object.fail` is V8 naming the receiver of a plain object's method: users know it as `fail`.
    let label = name?.replace(/^(async )?Object\.(?=[^.])/, '$1');
    if (!label && file.startsWith('async ')) {
      label = 'async';
      file = file.slice('async '.length);
    }
    if (file.startsWith('node:') || file === 'native') continue;
    if (file.startsWith('file://')) {
      try {
        file = fileURLToPath(file);
      } catch {
        // keep the URL as it is
      }
    }
    if (path.isAbsolute(file) && RUNNER_DIRS.some((d) => file.startsWith(d))) continue;
    if (name === 'new Promise' && file === '<anonymous>') continue;
    if (path.isAbsolute(file) && file.startsWith(root)) file = path.relative(root, file).split(path.sep).join('/');
    const loc = lineNo ? `${file}:${lineNo}:${col}` : file;
    out.push(label === 'async' ? `async ${loc}` : label ? `${label} (${loc})` : loc);
    if (out.length >= MAX_FRAMES) break;
  }
  return out;
}

/**
 * Where a SyntaxError points: V8 puts `file:line` on the stack's first line
 * for a module that fails to parse (the message itself says only what).
 */
export function syntaxErrorLocation(err: Error, packageRoot: string): string | undefined {
  const first = err.stack?.split('\n')[0] ?? '';
  const m = /^(.*?):(\d+)$/.exec(first.trim());
  if (!m || !m[1]) return undefined;
  let file = m[1];
  if (file.startsWith('file://')) {
    try {
      file = fileURLToPath(file);
    } catch {
      return undefined;
    }
  }
  if (!path.isAbsolute(file)) return undefined;
  const root = path.resolve(packageRoot) + path.sep;
  const shown = file.startsWith(root) ? path.relative(root, file).split(path.sep).join('/') : file;
  return `${shown}:${m[2]}`;
}
