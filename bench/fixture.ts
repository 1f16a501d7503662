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
