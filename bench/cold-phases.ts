/**
 * Where a cold enter's install goes, phase by phase, each measured in a fresh
 * process (a cold enter is always the first extraction of a fresh serve, so
 * V8 has optimized nothing yet): CPU (user, system) and wall of
 *   read      the archive read in 1 MiB pieces, nothing else
 *   hash      sha256File (what fetch.ts does)
 *   gunzip    tarChunks: read + inflate under the caps, pieces dropped
 *   inspect   + the raw header inspector
 *   parse     + node-tar's Parser, entries resumed (no rules, no writes)
 *   rules     + EntryRules.check on each header
 *   extract   extractArchive: all of the above with the writes and verifyTree
 *   verify    verifyTree alone, over a tree extracted before the timing
 *   install   PackageManager.install: hash, lock, extract, marker, rename
 * Each stage's own cost is its difference to the stage before. Each round runs
 * every stage once, in a new order, next to `tar xzf` under `/usr/bin/time`
 * (tar and its gzip child), first in one round and last in the next.
 *
 * Every tree written stays until the end of the run: on ext4 without a journal
 * (the benchmark machine's root file system) each file created walks past every
 * inode of its block group freed in the last 60 s (360 s while the inode table
 * block is dirty), so a run that follows a deletion of 1,503 files paid up to
 * ~1 s more system time than one that did not, whichever program it was
 * (docs/extraction.md, "System time"). `--delete` deletes each tree right after
 * its run, as before, to show that cost. Kept, 5 rounds of every stage with
 * `--ab` hold 35 trees of ~31 MB in the temporary directory until the end. The stages load the modules of `--dist DIR`
 * (default: this tree's dist/, run `npm run build` first) before the timing,
 * as serve has them loaded before an enter.
 *
 * `--ab DIR` runs each stage with the modules of DIR too, in the same rounds
 * (another build's dist/, e.g. the commit before a change).
 *
 *   node -r ./bench/register.js bench/cold-phases.ts [--rounds N] [--dist DIR] [--ab DIR] [--only a,b] [--delete]
 */
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { writeBenchArchive } from './fixture';
import { summarize } from './stats';

const STAGES = ['read', 'hash', 'gunzip', 'inspect', 'parse', 'rules', 'extract', 'verify', 'install'] as const;
type Stage = (typeof STAGES)[number];

interface Sample { user: number; sys: number; wall: number }

function arg(name: string): string | undefined {
  const at = process.argv.indexOf(name);
  return at > 0 ? process.argv[at + 1] : undefined;
}

/** In the child: one stage, timed after its modules are loaded; prints one JSON line. */
async function runStage(stage: Stage, archive: string, dist: string, work: string): Promise<void> {
  /* eslint-disable @typescript-eslint/no-require-imports */
  const { sha256File } = require(path.join(dist, 'packages/fetch')) as typeof import('../src/packages/fetch');
  const { tarChunks } = require(path.join(dist, 'packages/decompress')) as typeof import('../src/packages/decompress');
  const { TarHeaderInspector } = require(path.join(dist, 'packages/tar-headers')) as typeof import('../src/packages/tar-headers');
  const { EntryRules } = require(path.join(dist, 'packages/entry-rules')) as typeof import('../src/packages/entry-rules');
  const { extractArchive, verifyTree } = require(path.join(dist, 'packages/extract')) as typeof import('../src/packages/extract');
  const { resolvePackageOptions } = require(path.join(dist, 'packages/options')) as typeof import('../src/packages/options');
  const { PackageManager } = require(path.join(dist, 'packages/package-manager')) as typeof import('../src/packages/package-manager');
  const { Parser } = require('tar') as typeof import('tar');
  /* eslint-enable @typescript-eslint/no-require-imports */
  const o = resolvePackageOptions({ workDir: work });
  const limits = { maxOutputBytes: 1 << 30, maxRatio: 1000, ratioFloorBytes: 1 << 20, timeoutMs: 60_000 };
  const signal = new AbortController().signal;
  const dest = fs.mkdtempSync(path.join(work, 'dest-'));
  if (stage === 'verify') await extractArchive(archive, 'tar.gz', dest, work, o, 'bench');
  const parseWith = async (withRules: boolean): Promise<void> => {
    const rules = new EntryRules(o, 'bench');
    const parser = new Parser({
      strict: true, brotli: false, zstd: false,
      filter: (_p: string, e: unknown): boolean => {
        const r = e as { path: string; type: string; size?: number; linkpath?: string };
        if (withRules) rules.check(r.path, r.type === 'Directory' ? 'dir' : 'file', r.size ?? 0, r.linkpath);
        return true;
      },
    });
    parser.on('entry', (e: { resume(): void }) => e.resume());
    const ended = new Promise<void>((resolve, reject) => {
      parser.on('end', resolve);
      parser.on('error', reject);
    });
    const inspector = new TarHeaderInspector('bench');
    for await (const c of tarChunks(archive, 'tar.gz', work, limits, 'bench', signal)) {
      inspector.write(c);
      for (let at = 0; at < c.length; at += 64 * 1024) {
        if (at > 0) await new Promise<void>((resolve) => setImmediate(resolve));
        parser.write(c.subarray(at, at + 64 * 1024));
      }
    }
    parser.end();
    await ended;
  };
  const c0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  switch (stage) {
    case 'read': {
      const fh = await fs.promises.open(archive, 'r');
      const buf = Buffer.allocUnsafe(1 << 20);
      for (let at = 0; ; ) {
        const { bytesRead } = await fh.read(buf, 0, buf.length, at);
        if (bytesRead === 0) break;
        at += bytesRead;
      }
      await fh.close();
      break;
    }
    case 'hash': await sha256File(archive, 'bench'); break;
    case 'gunzip': for await (const c of tarChunks(archive, 'tar.gz', work, limits, 'bench', signal)) void c; break;
    case 'inspect': {
      const inspector = new TarHeaderInspector('bench');
      for await (const c of tarChunks(archive, 'tar.gz', work, limits, 'bench', signal)) inspector.write(c);
      break;
    }
    case 'parse': await parseWith(false); break;
    case 'rules': await parseWith(true); break;
    case 'extract': await extractArchive(archive, 'tar.gz', dest, work, o, 'bench'); break;
    case 'verify': await verifyTree(dest, 'bench'); break;
    case 'install': {
      const pm = new PackageManager({ workDir: path.join(work, 'pm'), keepExtracted: true });
      await pm.install(`file://${archive}`, 's');
      break;
    }
  }
  const wall = Number(process.hrtime.bigint() - t0) / 1e9;
  const c = process.cpuUsage(c0);
  console.log(JSON.stringify({ user: c.user / 1e6, sys: c.system / 1e6, wall }));
}

function tarTimed(archive: string, out: string): Sample {
  // /usr/bin/time -f counts tar and the gzip it waits for.
  const r = spawnSync('/usr/bin/time', ['-f', 'TIME %U %S %e', 'tar', 'xzf', archive, '-C', out], { encoding: 'utf8' });
  return parseTime(r.stderr);
}

function parseTime(text: string): Sample {
  const m = /TIME ([\d.]+) ([\d.]+) ([\d.]+)/.exec(text);
  return { user: Number(m?.[1]), sys: Number(m?.[2]), wall: Number(m?.[3]) };
}

function main(): void {
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'cold-phases-'));
  try {
    const { archive } = writeBenchArchive(base);
    const dist = path.resolve(arg('--dist') ?? path.join(__dirname, '..', 'dist'));
    const rounds = Number(arg('--rounds') ?? 5);
    const only = arg('--only')?.split(',') ?? [...STAGES];
    const other = arg('--ab');
    const runs = STAGES.filter((s) => only.includes(s)).flatMap((s) => [
      { name: s, stage: s, dist },
      ...(other ? [{ name: `${s} (--ab)`, stage: s, dist: path.resolve(other) }] : []),
    ]);
    const samples = new Map<string, Sample[]>([['tar', []], ...runs.map((r): [string, Sample[]] => [r.name, []])]);
    // Trees stay until the end of the run (see the file comment); --delete deletes each one after its run.
    const deleteEach = process.argv.includes('--delete');
    const done = (dir: string): void => {
      if (deleteEach) fs.rmSync(dir, { recursive: true, force: true });
    };
    const load = (): string => fs.readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
    console.log(`load average at start: ${load()}; dist ${dist}${other ? `, --ab ${other}` : ''}${deleteEach ? '; each tree deleted after its run' : ''}`);
    const tar = (): void => {
      const out = fs.mkdtempSync(path.join(base, 'tar-'));
      samples.get('tar')!.push(tarTimed(archive, out));
      done(out);
    };
    for (let r = 0; r < rounds; r++) {
      const order = r % 2 === 0 ? runs : [...runs].reverse();
      if (r % 2 === 0) tar();
      for (const run of order) {
        const work = fs.mkdtempSync(path.join(base, 'w-'));
        const line = execFileSync(process.execPath, ['-r', path.join(__dirname, 'register.js'), __filename, '--stage', run.stage, archive, run.dist, work], { encoding: 'utf8' });
        samples.get(run.name)!.push(JSON.parse(line.trim().split('\n').pop()!) as Sample);
        done(work);
      }
      if (r % 2 === 1) tar();
    }
    const ms = (v: number): string => (v * 1000).toFixed(0).padStart(5);
    console.log(`${rounds} rounds, medians in ms:        user   sys  user+sys  wall`);
    for (const [name, xs] of samples) {
      const u = summarize(xs.map((x) => x.user)).p50;
      const y = summarize(xs.map((x) => x.sys)).p50;
      const c = summarize(xs.map((x) => x.user + x.sys)).p50;
      const w = summarize(xs.map((x) => x.wall)).p50;
      console.log(`${name.padEnd(30)} ${ms(u)} ${ms(y)} ${ms(c)}    ${ms(w)}`);
    }
    console.log(`load average at end: ${load()}`);
  } finally {
    fs.rmSync(base, { recursive: true, force: true });
  }
}

if (require.main === module) {
  const at = process.argv.indexOf('--stage');
  if (at > 0) {
    const [stage, archive, dist, work] = process.argv.slice(at + 1) as [Stage, string, string, string];
    void runStage(stage, archive, dist, work);
  } else {
    main();
  }
}
