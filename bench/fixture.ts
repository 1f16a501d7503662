/**
 * The JavaScript package the flmrun-js contender runs: the same three methods
 * as the Python contender's `Bench` class (bench/py/helper.py), and a ~20 MB
 * .tgz variant for the session-enter benchmark.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

const INDEX_JS = `'use strict';
exports.add = (a, b) => a + b;
exports.blob = (n) => Buffer.alloc(n, 1); // filled: untouched zero pages would not count in RSS
exports.total = (...bufs) => bufs.reduce((sum, b) => sum + b.length, 0);
`;

/** Writes the package into `dir` (a plain directory, used in place via a file:// URL). */
export function writeBenchPackage(dir: string): string {
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: 'flmrun-bench', version: '1.0.0', main: 'index.js' }));
  fs.writeFileSync(path.join(dir, 'index.js'), INDEX_JS);
  return dir;
}

/**
 * `npm pack`-shaped archive (one top-level `package/`) of the bench package
 * plus `files` incompressible modules of `fileBytes` each: 1500 x 20 KiB makes
 * a ~20 MB .tgz with ~30 MB inside.
 */
export function writeBenchArchive(base: string, files = 1500, fileBytes = 20 * 1024): { archive: string; mb: number; entries: number } {
  const pkg = writeBenchPackage(path.join(base, 'src', 'package'));
  fs.mkdirSync(path.join(pkg, 'lib'), { recursive: true });
  for (let i = 0; i < files; i++) {
    fs.writeFileSync(path.join(pkg, 'lib', `m${i}.js`), `module.exports = ${JSON.stringify(randomBytes(fileBytes * 0.75).toString('base64'))};\n`);
  }
  const archive = path.join(base, 'bench-package.tgz');
  execFileSync('tar', ['czf', archive, '-C', path.join(base, 'src'), 'package']);
  fs.rmSync(path.join(base, 'src'), { recursive: true, force: true });
  return { archive, mb: fs.statSync(archive).size / 1e6, entries: files + 3 };
}

/** Dependencies of the goal-5 packages: this many packages of this many modules each. */
const DEP_PACKAGES = 3;
const DEP_MODULES = 20;

/**
 * Packages for issue 14 goal 5. `plain` and `withDeps` run the same JavaScript: `plain`
 * carries its three libraries as files of its own (lib/dep-N), `withDeps` declares them as npm
 * dependencies (`file:` specs on local directories, so npm installs them offline;
 * `depsSource` is their parent, which the benchmark hides once they are installed:
 * npm running again would fail the enter). Each library is `DEP_MODULES` modules
 * that its index loads, as the package's index loads every library. `bare` is the
 * package without the libraries (its own index.js only): the least an enter costs.
 * `lazyDeps` declares the same dependencies as `withDeps` but loads them only when
 * its `libs()` is called: its enter next to `bare`'s is what the dependencies
 * themselves cost (key, lock, link), without loading their code.
 */
export function writeDepsPackages(base: string): { bare: string; plain: string; withDeps: string; lazyDeps: string; depsSource: string; files: number } {
  const depsSource = path.join(base, 'deps-src');
  const libSource = (dir: string, i: number): void => {
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: `bench-dep-${i}`, version: '1.0.0', main: 'index.js' }));
    const mods = Array.from({ length: DEP_MODULES }, (_, m) => `m${m}`);
    for (const m of mods) {
      // ~4 KiB of code per module: functions, so that loading compiles something.
      const fns = Array.from({ length: 40 }, (_, k) => `exports.f${k} = (x) => x * ${k + 1} + ${JSON.stringify(randomBytes(24).toString('hex'))}.length;`);
      fs.writeFileSync(path.join(dir, `${m}.js`), `'use strict';\n${fns.join('\n')}\n`);
    }
    fs.writeFileSync(path.join(dir, 'index.js'), `'use strict';\nmodule.exports = [${mods.map((m) => `require('./${m}')`).join(', ')}];\n`);
  };
  const depNames = Array.from({ length: DEP_PACKAGES }, (_, i) => `bench-dep-${i}`);
  const pack = (name: string, manifest: object, requireOf: (dep: string) => string, vendored: boolean, lazy = false): string => {
    const pkg = writeBenchPackage(path.join(base, `src-${name}`, 'package'));
    fs.writeFileSync(path.join(pkg, 'package.json'), JSON.stringify({ name: `flmrun-bench-${name}`, version: '1.0.0', main: 'index.js', ...manifest }));
    if (vendored) depNames.forEach((d, i) => libSource(path.join(pkg, 'lib', d), i));
    const load = `[${depNames.map((d) => `require(${JSON.stringify(requireOf(d))})`).join(', ')}].length`;
    if (name !== 'bare') fs.appendFileSync(path.join(pkg, 'index.js'), lazy ? `exports.libs = () => ${load};\n` : `exports.libs = ${load};\n`);
    const archive = path.join(base, `${name}.tgz`);
    execFileSync('tar', ['czf', archive, '-C', path.join(base, `src-${name}`), 'package']);
    fs.rmSync(path.join(base, `src-${name}`), { recursive: true, force: true });
    return archive;
  };
  depNames.forEach((d, i) => libSource(path.join(depsSource, d), i));
  const bare = pack('bare', {}, (d) => d, false);
  const plain = pack('plain', {}, (d) => `./lib/${d}`, true);
  const dependencies = Object.fromEntries(depNames.map((d) => [d, `file:${path.join(depsSource, d)}`]));
  const withDeps = pack('with-deps', { dependencies }, (d) => d, false);
  const lazyDeps = pack('lazy-deps', { dependencies }, (d) => d, false, true);
  return { bare, plain, withDeps, lazyDeps, depsSource, files: DEP_PACKAGES * (DEP_MODULES + 2) }; // each library: its modules, index.js, package.json
}
