/**
 * Session enter with a ~20 MB .tgz package (5), through OnSessionEnter of a
 * running `flmrun-js serve --keep-extracted`: cold (a fresh instance and work
 * directory: hash, decompress, scan, extract, start the session worker, load
 * the module) and warm (the same archive again: hashed, tree reused), against
 * `tar xzf` of the same file into a fresh directory, taking turns.
 *
 * Part of `npm run bench`; alone (after `npx tsc`):
 *   node -r ./bench/register.js bench/packages.ts [--quick]
 */
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { connectInstance } from '../src/service/protos';
import { since, summarize, type Summary } from './stats';
import { startCache, startFlmrun, tempDir } from './procs';
import { writeBenchArchive } from './fixture';

export interface PackagesResult {
  archiveMB: number;
  entries: number;
  /** Seconds. */
  tar: Summary;
  cold: Summary;
  warm: Summary;
}

async function enterAndLeave(socket: string, url: string): Promise<number> {
  const client = connectInstance(`unix://${socket}`);
  try {
    const t = process.hrtime.bigint();
    const res = await client.enter({ session_id: randomUUID(), application: { name: 'bench-pkg', url } });
    const s = since(t);
    if ((res.return_code ?? 0) !== 0) throw new Error(`session enter failed (${res.return_code}): ${res.message ?? ''}`);
    await client.leave();
    return s;
  } finally {
    client.close();
  }
}

export async function benchPackages(cacheEndpoint: string, logLevel: string, quick: boolean): Promise<PackagesResult> {
  const base = tempDir('pkg');
  try {
    const { archive, mb, entries } = writeBenchArchive(base);
    const url = `file://${archive}`;
    const tar: number[] = [];
    const cold: number[] = [];
    const warm: number[] = [];
    const reps = quick ? 2 : 5;
    for (let r = 0; r < reps; r++) {
      const out = fs.mkdtempSync(path.join(base, 'tar-'));
      const t = process.hrtime.bigint();
      execFileSync('tar', ['xzf', archive, '-C', out]);
      tar.push(since(t));
      fs.rmSync(out, { recursive: true, force: true });

      const work = fs.mkdtempSync(path.join(base, 'work-'));
      const inst = await startFlmrun({ cacheEndpoint, workDir: work, keepExtracted: true, name: 'flmrun-js-packages' }, logLevel);
      try {
        cold.push(await enterAndLeave(inst.socket, url));
        for (let w = 0; w < 4; w++) warm.push(await enterAndLeave(inst.socket, url));
      } finally {
        await inst.stop();
        fs.rmSync(work, { recursive: true, force: true });
      }
    }
    return { archiveMB: mb, entries, tar: summarize(tar), cold: summarize(cold), warm: summarize(warm) };
  } finally {
    fs.rmSync(base, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const cache = await startCache();
  try {
    const r = await benchPackages(cache.endpoint, 'warn', process.argv.includes('--quick'));
    const ms = (s: Summary): string => `${(s.p50 * 1000).toFixed(0)} ms (p99 ${(s.p99 * 1000).toFixed(0)})`;
    console.log(`archive ${r.archiveMB.toFixed(1)} MB, ${r.entries} entries`);
    console.log(`tar xzf          ${ms(r.tar)}`);
    console.log(`cold enter       ${ms(r.cold)}  ${(r.cold.p50 / r.tar.p50).toFixed(2)}x tar`);
    console.log(`warm enter       ${ms(r.warm)}`);
  } finally {
    await cache.stop();
  }
}

if (require.main === module) void main();
