/**
 * Finds the file of the user's module: the context's `module` (a path
 * relative to the package root, or a package name), or the package's own
 * entry point (package.json `exports`, then `main`, then index.*).
 *
 * Written here because Node 20 has no API that resolves a bare specifier
 * with ESM conditions from an arbitrary directory (import.meta.resolve's
 * parent argument is behind a flag); `exports` maps are resolved by the
 * resolve.exports library.
 */
import fs from 'node:fs';
import path from 'node:path';
import { exports as resolveExports } from 'resolve.exports';
import { invalidInput } from '../errors';
import { typeScriptCandidate } from './typescript/files';

const EXTENSIONS = ['.js', '.mjs', '.cjs', '.ts', '.mts', '.cts'];
const PACKAGE_NAME = /^(?:@[a-z0-9][\w.~-]*\/)?[a-z0-9][\w.~-]*$/i;

/** Absolute path of the module named by `spec` (or of the package entry) under `root`. */
export function resolveModuleFile(root: string, spec?: string): string {
  const base = path.resolve(root);
  if (spec === undefined || spec === '' || spec === '.') return contained(packageEntry(base, base), base, 'the package entry point');
  if (path.isAbsolute(spec) || spec.startsWith('file:')) {
    throw invalidInput(`module '${spec}' must be relative to the package root ${base}, not absolute`);
  }
  if (spec.split(/[\\/]/).includes('..')) throw invalidInput(`module '${spec}' refused: '..' may not leave the package root`);
  const local = fileOrDir(path.join(base, spec), base);
  if (local) return contained(local, base, `'${spec}'`);
  const bare = splitPackageSpecifier(spec);
  if (!spec.startsWith('./') && bare) {
    const found = packageFile(base, bare.name, bare.subpath);
    if (found) return found;
  }
  throw invalidInput(`module not found: '${spec}' (no such file under ${base}${bare ? ', and no package of that name in node_modules' : ''})`);
}

function fileOrDir(candidate: string, root: string): string | undefined {
  if (isFile(candidate)) return candidate;
  for (const ext of EXTENSIONS) if (isFile(candidate + ext)) return candidate + ext;
  if (isDir(candidate)) return packageEntry(candidate, root);
  // TypeScript's ESM convention: `./x.js` names the x.ts that compiles to it.
  return typeScriptCandidate(candidate);
}

/** The entry of a directory: package.json `exports` ('.'), `main`, then index.{js,mjs,cjs}. */
function packageEntry(dir: string, root: string): string {
  const pkg = readPackageJson(dir);
  if (pkg?.exports !== undefined) {
    const target = exportsTarget(pkg, '.');
    if (target) return target;
  }
  if (typeof pkg?.main === 'string') {
    const main = fileOrDir(path.join(dir, pkg.main), root);
    if (main) return main;
    throw invalidInput(`module not found: package.json in ${dir} names main '${pkg.main}', which does not exist${buildHint(dir, pkg)}`);
  }
  for (const ext of EXTENSIONS) if (isFile(path.join(dir, 'index' + ext))) return path.join(dir, 'index' + ext);
  throw invalidInput(
    `module not found: ${dir} has no entry point (no package.json exports or main, no index.js or index.ts); ` +
      "name one with the session context's 'module'",
  );

  function exportsTarget(p: PackageJson, entry: string): string | undefined {
    const targets = exportTargets(p, entry, `package.json exports in ${dir}`);
    for (const t of targets) {
      const file = path.join(dir, t);
      if (isFile(file)) return file;
    }
    return undefined;
  }
}

/**
 * The runner runs no build step: a `main` under an unbuilt output directory
 * is the usual cause, and a TypeScript source next to it the usual cure.
 */
function buildHint(dir: string, pkg: PackageJson): string {
  const source = ['src/index.ts', 'index.ts', 'src/index.mts', 'index.mts'].find((f) => isFile(path.join(dir, f)));
  const build = typeof pkg.scripts === 'object' && pkg.scripts !== null && 'build' in pkg.scripts;
  if (!source && !build) return '';
  return (
    ' (the runner does not run build steps: ship the built files in the package' +
    (source ? `, or point main at '${source}', which the runner compiles itself` : '') +
    ')'
  );
}

/** Looks for `node_modules/<name>` from `from` upwards, as Node does. */
function packageFile(from: string, name: string, subpath: string): string | undefined {
  for (let dir = from; ; dir = path.dirname(dir)) {
    const pkgDir = path.join(dir, 'node_modules', name);
    if (isDir(pkgDir)) {
      const what = `'${name}${subpath.slice(1)}'`;
      const pkg = readPackageJson(pkgDir);
      if (pkg?.exports !== undefined) {
        const targets = exportTargets(pkg, subpath, what);
        for (const t of targets) if (isFile(path.join(pkgDir, t))) return contained(path.join(pkgDir, t), pkgDir, what);
        return undefined;
      }
      const file = subpath === '.' ? packageEntry(pkgDir, pkgDir) : fileOrDir(path.join(pkgDir, subpath), pkgDir);
      return file === undefined ? undefined : contained(file, pkgDir, what);
    }
    if (path.dirname(dir) === dir) return undefined;
  }
}

/** Targets of an `exports` map: import conditions first (we load with import()), then require. */
function exportTargets(pkg: PackageJson, entry: string, what: string): string[] {
  let first: unknown;
  for (const require of [false, true]) {
    try {
      const targets = resolveExports(pkg, entry, { require });
      if (targets) return targets;
    } catch (err) {
      first ??= err;
    }
  }
  throw invalidInput(`module not found: ${what}: ${first instanceof Error ? first.message : 'no matching export'}`);
}

/**
 * Refuses a resolved file outside `root`, links followed: neither the context's
 * `module` nor a package.json `main`/`exports` target nor a symbolic link in
 * the package may choose a file elsewhere on the machine (issue 6: no value
 * from a task or package chooses a path outside the working directory).
 */
function contained(file: string, root: string, what: string): string {
  const realRoot = fs.realpathSync(root);
  const realFile = fs.realpathSync(file);
  const rel = path.relative(realRoot, realFile);
  if (rel === '..' || rel.startsWith(`..${path.sep}`) || path.isAbsolute(rel)) {
    throw invalidInput(`module ${what} refused: it resolves to ${realFile}, outside the package root ${realRoot}`);
  }
  return file;
}

function splitPackageSpecifier(spec: string): { name: string; subpath: string } | undefined {
  const parts = spec.split('/');
  const nameParts = spec.startsWith('@') ? 2 : 1;
  const name = parts.slice(0, nameParts).join('/');
  if (!PACKAGE_NAME.test(name)) return undefined;
  const rest = parts.slice(nameParts).join('/');
  return { name, subpath: rest ? `./${rest}` : '.' };
}

interface PackageJson {
  name?: string;
  main?: unknown;
  exports?: unknown;
  scripts?: unknown;
  type?: unknown;
  [key: string]: unknown;
}

function readPackageJson(dir: string): PackageJson | undefined {
  const file = path.join(dir, 'package.json');
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
  try {
    const pkg: unknown = JSON.parse(text);
    if (pkg && typeof pkg === 'object' && !Array.isArray(pkg)) return pkg as PackageJson;
  } catch (err) {
    throw invalidInput(`${file} is not valid JSON: ${err instanceof Error ? err.message : String(err)}`);
  }
  throw invalidInput(`${file} does not hold a JSON object`);
}

function isFile(p: string): boolean {
  try {
    return fs.statSync(p).isFile();
  } catch {
    return false;
  }
}

function isDir(p: string): boolean {
  try {
    return fs.statSync(p).isDirectory();
  } catch {
    return false;
  }
}
