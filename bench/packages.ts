/**
 * Package install: cold (hash, decompress, scan, extract) for a ~20 MB .tgz
 * against the system's `tar xzf` of the same file, in one run, and warm
 * re-entry of the same content (reused by hash, nothing extracted).
 *
 *   node -r ./bench/register.js bench/packages.ts
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PackageManager } from '../src/packages';

const FILES = 1500;
const FILE_BYTES = 20 * 1024;

function seconds(t0: bigint): number {
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

async function main(): Promise<void> {
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'flmrun-bench-pkg-'));
  try {
    const pkg = path.join(base, 'src', 'package');
    fs.mkdirSync(path.join(pkg, 'lib'), { recursive: true });
    fs.writeFileSync(path.join(pkg, 'package.json'), JSON.stringify({ name: 'bench', version: '1.0.0', main: 'index.js' }));
    fs.writeFileSync(path.join(pkg, 'index.js'), 'exports.ok = true;\n');
    for (let i = 0; i < FILES; i++) {
      fs.writeFileSync(path.join(pkg, 'lib', `m${i}.js`), `module.exports = ${JSON.stringify(randomBytes(FILE_BYTES * 0.75).toString('base64'))};\n`);
    }
    const archive = path.join(base, 'bench.tgz');
    execFileSync('tar', ['czf', archive, '-C', path.join(base, 'src'), 'package']);
    const mb = fs.statSync(archive).size / 1e6;

    const tarDir = path.join(base, 'tar-out');
    fs.mkdirSync(tarDir);
    let t = process.hrtime.bigint();
    execFileSync('tar', ['xzf', archive, '-C', tarDir]);
    const tarS = seconds(t);

    const pm = new PackageManager({ workDir: path.join(base, 'work') });
    t = process.hrtime.bigint();
    const cold = await pm.install(`file://${archive}`, 'cold');
    const coldS = seconds(t);
    t = process.hrtime.bigint();
    const warm = await pm.install(`file://${archive}`, 'warm');
    const warmS = seconds(t);
    if (!warm.reused) throw new Error('warm install was not reused');
    await warm.release();
    await cold.release();
    await pm.close();

    console.log(`archive ${mb.toFixed(1)} MB, ${FILES + 2} files`);
    console.log(`tar xzf            ${(tarS * 1000).toFixed(0)} ms`);
    console.log(`cold install       ${(coldS * 1000).toFixed(0)} ms  (${(coldS / tarS).toFixed(2)}x tar xzf)`);
    console.log(`warm re-entry      ${(warmS * 1000).toFixed(1)} ms  (hash of the archive, tree reused)`);
  } finally {
    fs.rmSync(base, { recursive: true, force: true });
  }
}

void main();
