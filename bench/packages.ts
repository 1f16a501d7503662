/**
 * Session enter with a ~20 MB .tgz package (5), through OnSessionEnter of a
 * running `flmrun-js serve --keep-extracted`: cold (a fresh instance and work
 * directory: hash, decompress, check, extract, start the session process, load
 * the module) and warm (the same archive again: hashed, tree reused), against
 * `tar xzf` of the same file into a fresh directory, taking turns.
 *
 * Alone, `--phases` also times the parts of a cold enter in this process
 * (hash, extraction into a fresh directory, the whole install), wall and CPU (user+sys, all
 * threads), each round next to `tar xzf` with its CPU (tar and gzip, from the
 * shell's `times`): CPU is less sensitive than wall time to a loaded machine.
 *
 * The instance keeps a spare session process (src/runner/spare-process.ts),
 * started with serve: the enter is made as soon as serve accepts calls, as
 * Flame does, so the spare may still be booting; its CPU before the enter is
 * not in the enter's CPU, and is printed apart (`spare before`).
 *
 * Part of `npm run bench`; alone (after `npx tsc`):
 *   node -r ./bench/register.js bench/packages.ts [--quick] [--phases] [--no-enter] [--split] [--ab] [--warm-pause MS] [--delete]
 * `--split` prints each round's user and system CPU: tar's, flmrun-js's, its session process's
 * (for the first warm enter of a round too: its session process is the spare started by the leave
 * before it, booting during the enter). `--warm-pause MS` waits MS after each leave before the next
 * warm enter, so that the spare has booted: the warm enter without the boot of its process.
 * Every tree written (tar's, and each instance's work directory) stays until the end of the run:
 * on ext4 without a journal (the benchmark machine's root file system) each file created walks
 * past every inode of its block group freed in the last 60 s (360 s while the inode table block
 * is dirty), so a run right after a deletion of 1,503 files paid up to ~1 s more system time,
 * tar or flmrun-js alike (docs/extraction.md, "System time"). `--delete` deletes each one after
 * its run, as before, to show that cost.
 * `--ab` adds, each round, a cold enter on an instance run with `--no-spare-process`
 * (the two take turns going first); `--ab-cli PATH` makes that instance another
 * build's dist/cli.js instead (a before/after comparison in one run).
 */
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { connectInstance } from '../src/service/protos';
import { since, summarize, type Summary } from './stats';
import { startCache, startFlmrun, tempDir } from './procs';
import { writeBenchArchive } from './fixture';
import { sha256File } from '../src/packages/fetch';
import { extractArchive } from '../src/packages/extract';
import { resolvePackageOptions } from '../src/packages/options';
import { PackageManager } from '../src/packages/package-manager';

export interface PackagesResult {
  archiveMB: number;
  entries: number;
  /** Seconds. */
  tar: Summary;
  cold: Summary;
  warm: Summary;
  /**
   * CPU seconds (user + system): of tar and its gzip child, and of the flmrun-js
   * process (all its threads) and the session process it starts, during the enter.
   * Much less distorted than wall time when the machine is loaded.
   */
  tarCpu?: Summary;
  coldCpu?: Summary;
  warmCpu?: Summary;
  /**
   * cold / tar of each round (the two run back to back), wall and CPU: on a
   * loaded machine a round's two figures share its conditions, so these swing
   * less than the ratio of the separate medians.
   */
  coldVsTar?: Summary;
  coldVsTarCpu?: Summary;
  /** CPU seconds the spare session process had used before the cold enter began (its boot, or part of it). */
  spareBeforeCpu?: Summary;
  /** `--ab`: the cold enter on an instance without a spare, and its ratios to tar. */
  noSpare?: { cold: Summary; coldCpu: Summary; coldVsTar: Summary; coldVsTarCpu: Summary };
}

let ticksPerSecond: number | undefined;

/** CPU seconds a process has used so far, all threads (Linux /proc): user and system. */
function processCpuParts(pid: number): [number, number] {
  ticksPerSecond ??= Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name in parentheses; utime and stime are fields 14 and 15.
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return [Number(rest[11]) / ticksPerSecond, Number(rest[12]) / ticksPerSecond];
}

/** The pids of a process's children (the session process of a flmrun-js instance), from every thread's list. */
function childPids(pid: number): number[] {
  const pids: number[] = [];
  for (const tid of fs.readdirSync(`/proc/${pid}/task`)) {
    const text = fs.readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').trim();
    if (text) pids.push(...text.split(/\s+/).map(Number));
  }
  return pids;
}

/** User and system CPU seconds of a process, and of its live descendants (a session process is reaped only after leave). */
function treeCpu(pid: number): { user: number; sys: number; childUser: number; childSys: number } {
  const [user, sys] = processCpuParts(pid);
  const r = { user, sys, childUser: 0, childSys: 0 };
  for (const c of childPids(pid)) {
    try {
      const t = treeCpu(c);
      r.childUser += t.user + t.childUser;
      r.childSys += t.sys + t.childSys;
    } catch {
      // ended meanwhile
    }
  }
  return r;
}

/** The session processes of the previous enter on each instance: the next enter waits until they are gone. */
const lastSession = new Map<number, number[]>();

/** One OnSessionEnter and OnSessionLeave on a connected client: the enter's wall time and the CPU of the instance and its session process meanwhile. */
export async function enterAndLeave(
  socket: string, url: string, pid: number,
): Promise<{ wall: number; cpu: number; spareBefore: number; parts: ReturnType<typeof treeCpu> }> {
  const client = connectInstance(`unix://${socket}`);
  try {
    // Connected before the timing, as Flame's executor manager connects to an instance once (GrpcShim::connect)
    // before it calls OnSessionEnter: the figure is the call, not this client's channel set-up (~10 ms).
    await client.ready(10_000);
    // The last session's process is gone before the enter starts (a spare may be there: it counts as it runs).
    const last = lastSession.get(pid) ?? [];
    for (let i = 0; i < 500 && childPids(pid).some((c) => last.includes(c)); i++) await new Promise((r) => setTimeout(r, 10));
    const c = treeCpu(pid);
    const t = process.hrtime.bigint();
    const res = await client.enter({ session_id: randomUUID(), application: { name: 'bench-pkg', url } });
    const wall = since(t);
    const d = treeCpu(pid);
    // During a session its process is the only child (a new spare starts after the leave).
    lastSession.set(pid, childPids(pid));
    const parts = { user: d.user - c.user, sys: d.sys - c.sys, childUser: d.childUser - c.childUser, childSys: d.childSys - c.childSys };
    if ((res.return_code ?? 0) !== 0) throw new Error(`session enter failed (${res.return_code}): ${res.message ?? ''}`);
    await client.leave();
    return { wall, cpu: parts.user + parts.sys + parts.childUser + parts.childSys, spareBefore: c.childUser + c.childSys, parts };
  } finally {
    client.close();
  }
}

export async function benchPackages(cacheEndpoint: string, logLevel: string, quick: boolean): Promise<PackagesResult> {
  const base = tempDir('pkg');
  try {
    const { archive, mb, entries } = writeBenchArchive(base);
    const url = `file://${archive}`;
    const r = {
      tar: [] as number[], tarCpu: [] as number[], cold: [] as number[], coldCpu: [] as number[], warm: [] as number[], warmCpu: [] as number[],
      ratio: [] as number[], ratioCpu: [] as number[], spareBefore: [] as number[],
      b: { cold: [] as number[], coldCpu: [] as number[], ratio: [] as number[], ratioCpu: [] as number[] },
    };
    const abAt = process.argv.indexOf('--ab-cli');
    const otherCli = abAt > 0 ? process.argv[abAt + 1] : undefined;
    const ab = process.argv.includes('--ab') || otherCli !== undefined;
    const pauseAt = process.argv.indexOf('--warm-pause');
    const warmPauseMs = pauseAt > 0 ? Number(process.argv[pauseAt + 1]) : 0;
    const reps = quick ? 2 : 5;
    // Trees stay until the end of the run (see the file comment); --delete deletes each one after its round.
    const done = (dir: string): void => {
      if (process.argv.includes('--delete')) fs.rmSync(dir, { recursive: true, force: true });
    };
    for (let i = 0; i < reps; i++) {
      const out = fs.mkdtempSync(path.join(base, 'tar-'));
      const x = tarXzf(archive, out);
      r.tar.push(x.wall);
      r.tarCpu.push(x.cpu);
      done(out);

      const s = (v: number): string => (v * 1000).toFixed(0);
      const split = (what: string, cold: Awaited<ReturnType<typeof enterAndLeave>>): void => {
        if (!process.argv.includes('--split')) return;
        const p = cold.parts;
        console.log(
          `round ${i + 1}: tar ${s(x.wall)} ms wall, cpu user ${s(x.user)} sys ${s(x.sys)} | ${what} ${s(cold.wall)} ms wall, ` +
            `flmrun-js user ${s(p.user)} sys ${s(p.sys)}, session process user ${s(p.childUser)} sys ${s(p.childSys)}, spare before ${s(cold.spareBefore)}`,
        );
      };
      const withSpare = async (): Promise<void> => {
        const work = fs.mkdtempSync(path.join(base, 'work-'));
        const inst = await startFlmrun({ cacheEndpoint, workDir: work, keepExtracted: true, name: 'flmrun-js-packages' }, logLevel);
        try {
          const cold = await enterAndLeave(inst.socket, url, inst.pid);
          r.cold.push(cold.wall);
          r.coldCpu.push(cold.cpu);
          r.ratio.push(cold.wall / x.wall);
          r.ratioCpu.push(cold.cpu / x.cpu);
          r.spareBefore.push(cold.spareBefore);
          split('cold', cold);
          for (let w = 0; w < 4; w++) {
            if (warmPauseMs > 0) await new Promise((resolve) => setTimeout(resolve, warmPauseMs));
            const warm = await enterAndLeave(inst.socket, url, inst.pid);
            r.warm.push(warm.wall);
            r.warmCpu.push(warm.cpu);
            if (w === 0) split('warm', warm);
          }
        } finally {
          await inst.stop();
          done(work);
        }
      };
      const withoutSpare = async (): Promise<void> => {
        const work = fs.mkdtempSync(path.join(base, 'work-'));
        const inst = await startFlmrun(
          otherCli
            ? { cacheEndpoint, workDir: work, keepExtracted: true, name: 'flmrun-js-packages-other', cli: otherCli }
            : { cacheEndpoint, workDir: work, keepExtracted: true, name: 'flmrun-js-packages-no-spare', serveArgs: ['--no-spare-process'] },
          logLevel,
        );
        try {
          const cold = await enterAndLeave(inst.socket, url, inst.pid);
          r.b.cold.push(cold.wall);
          r.b.coldCpu.push(cold.cpu);
          r.b.ratio.push(cold.wall / x.wall);
          r.b.ratioCpu.push(cold.cpu / x.cpu);
          split(otherCli ? 'cold, other build' : 'cold, no spare', cold);
        } finally {
          await inst.stop();
          done(work);
        }
      };
      if (ab && i % 2 === 1) await withoutSpare();
      await withSpare();
      if (ab && i % 2 === 0) await withoutSpare();
    }
    return {
      archiveMB: mb, entries, tar: summarize(r.tar), cold: summarize(r.cold), warm: summarize(r.warm),
      tarCpu: summarize(r.tarCpu), coldCpu: summarize(r.coldCpu), warmCpu: summarize(r.warmCpu),
      coldVsTar: summarize(r.ratio), coldVsTarCpu: summarize(r.ratioCpu), spareBeforeCpu: summarize(r.spareBefore),
      noSpare: ab
        ? { cold: summarize(r.b.cold), coldCpu: summarize(r.b.coldCpu), coldVsTar: summarize(r.b.ratio), coldVsTarCpu: summarize(r.b.ratioCpu) }
        : undefined,
    };
  } finally {
    fs.rmSync(base, { recursive: true, force: true });
  }
}

export interface PhasesResult {
  archiveMB: number;
  entries: number;
  /** Seconds, wall and CPU. */
  tar: Summary;
  tarCpu: Summary;
  hash: Summary;
  hashCpu: Summary;
  extract: Summary;
  extractCpu: Summary;
  /** PackageManager.install into a fresh work directory: hash, lock, extract, checks, marker, rename, user record. */
  install: Summary;
  installCpu: Summary;
}

/** `tar xzf` in a fresh directory: wall seconds, and CPU seconds of tar and its gzip child. */
function tarXzf(archive: string, out: string): { wall: number; cpu: number; user: number; sys: number } {
  const t = process.hrtime.bigint();
  // `times` prints the shell's own and then its children's user and system time.
  const text = execFileSync('bash', ['-c', 'tar xzf "$1" -C "$2" && times', 'tar-xzf', archive, out], { encoding: 'utf8' });
  const wall = since(t);
  const children = text.trim().split('\n').pop() ?? '';
  const [user = 0, sys = 0] = [...children.matchAll(/(\d+)m([\d.]+)s/g)].map((m) => Number(m[1]) * 60 + Number(m[2]));
  return { wall, cpu: user + sys, user, sys };
}

const cpuSeconds = (u: NodeJS.CpuUsage): number => (u.user + u.system) / 1e6;

/** The extraction part of a cold enter, in this process, round by round next to `tar xzf`. */
export async function benchPhases(quick: boolean): Promise<PhasesResult> {
  const base = tempDir('pkg-phases');
  try {
    const { archive, mb, entries } = writeBenchArchive(base);
    const o = resolvePackageOptions({ workDir: base });
    const r = {
      tar: [] as number[], tarCpu: [] as number[], hash: [] as number[], hashCpu: [] as number[], extract: [] as number[], extractCpu: [] as number[],
      install: [] as number[], installCpu: [] as number[],
    };
    const reps = quick ? 3 : 9;
    // As in benchPackages: trees stay until the end of the run unless --delete.
    const done = (dir: string): void => {
      if (process.argv.includes('--delete')) fs.rmSync(dir, { recursive: true, force: true });
    };
    for (let i = 0; i < reps; i++) {
      const out = fs.mkdtempSync(path.join(base, 'tar-'));
      const x = tarXzf(archive, out);
      r.tar.push(x.wall);
      r.tarCpu.push(x.cpu);
      done(out);

      let t = process.hrtime.bigint();
      let c = process.cpuUsage();
      await sha256File(archive, 'bench');
      r.hash.push(since(t));
      r.hashCpu.push(cpuSeconds(process.cpuUsage(c)));

      const dest = fs.mkdtempSync(path.join(base, 'stage-'));
      const tmp = fs.mkdtempSync(path.join(base, 'tmp-'));
      t = process.hrtime.bigint();
      c = process.cpuUsage();
      await extractArchive(archive, 'tar.gz', dest, tmp, o, 'bench');
      r.extract.push(since(t));
      r.extractCpu.push(cpuSeconds(process.cpuUsage(c)));
      done(dest);
      done(tmp);

      const work = fs.mkdtempSync(path.join(base, 'work-'));
      const pm = new PackageManager({ workDir: work, keepExtracted: true });
      t = process.hrtime.bigint();
      c = process.cpuUsage();
      const pkg = await pm.install(`file://${archive}`, `s${i}`);
      r.install.push(since(t));
      r.installCpu.push(cpuSeconds(process.cpuUsage(c)));
      await pkg.release();
      await pm.close();
      done(work);
    }
    return {
      archiveMB: mb, entries, tar: summarize(r.tar), tarCpu: summarize(r.tarCpu), hash: summarize(r.hash), hashCpu: summarize(r.hashCpu),
      extract: summarize(r.extract), extractCpu: summarize(r.extractCpu), install: summarize(r.install), installCpu: summarize(r.installCpu),
    };
  } finally {
    // Its ~27 trees are deleted at exit (procs.ts), not before the session enters that follow: those would pay for them.
    if (process.argv.includes('--delete')) fs.rmSync(base, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const quick = process.argv.includes('--quick');
  const ms = (s: Summary): string => `${(s.p50 * 1000).toFixed(0)} ms (p99 ${(s.p99 * 1000).toFixed(0)})`;
  const load = (): string => fs.readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  console.log(`load average at start: ${load()}`);
  if (process.argv.includes('--phases')) {
    const p = await benchPhases(quick);
    console.log(`phases in-process: archive ${p.archiveMB.toFixed(1)} MB, ${p.entries} entries, ${p.tar.n} rounds, p50 wall / p50 CPU`);
    console.log(`tar xzf          ${ms(p.tar)}  cpu ${ms(p.tarCpu)}`);
    console.log(`sha256           ${ms(p.hash)}  cpu ${ms(p.hashCpu)}`);
    console.log(`extractArchive   ${ms(p.extract)}  cpu ${ms(p.extractCpu)}  ${(p.extract.p50 / p.tar.p50).toFixed(2)}x tar wall, ${(p.extractCpu.p50 / p.tarCpu.p50).toFixed(2)}x tar cpu`);
    console.log(`hash + extract   ${((p.hash.p50 + p.extract.p50) / p.tar.p50).toFixed(2)}x tar wall`);
    console.log(`install          ${ms(p.install)}  cpu ${ms(p.installCpu)}  ${(p.install.p50 / p.tar.p50).toFixed(2)}x tar wall, ${(p.installCpu.p50 / p.tarCpu.p50).toFixed(2)}x tar cpu`);
  }
  if (!process.argv.includes('--no-enter')) {
    const cache = await startCache();
    try {
      const r = await benchPackages(cache.endpoint, process.env.FLMRUN_BENCH_LOG ?? 'warn', quick);
      const cpu = (x?: Summary): string => (x ? `  cpu ${ms(x)}` : '');
      console.log(`session enter: archive ${r.archiveMB.toFixed(1)} MB, ${r.entries} entries, ${r.cold.n} rounds, p50 wall / p50 CPU`);
      console.log(`tar xzf          ${ms(r.tar)}${cpu(r.tarCpu)}`);
      console.log(`cold enter       ${ms(r.cold)}${cpu(r.coldCpu)}  ${(r.cold.p50 / r.tar.p50).toFixed(2)}x tar wall${r.coldCpu && r.tarCpu ? `, ${(r.coldCpu.p50 / r.tarCpu.p50).toFixed(2)}x tar cpu` : ''}`);
      console.log(`warm enter       ${ms(r.warm)}${cpu(r.warmCpu)}`);
      const x = (v?: Summary): string => (v ? `${v.p50.toFixed(2)}x (${v.min.toFixed(2)}-${v.max.toFixed(2)})` : '');
      console.log(`cold / tar of each round, median (range): wall ${x(r.coldVsTar)}, cpu ${x(r.coldVsTarCpu)}`);
      if (r.spareBeforeCpu) console.log(`spare process CPU before the cold enter (not in its CPU above): ${ms(r.spareBeforeCpu)}`);
      if (r.noSpare) {
        const b = r.noSpare;
        console.log(`${process.argv.includes('--ab-cli') ? 'cold, other build' : 'cold, no spare  '} ${ms(b.cold)}  cpu ${ms(b.coldCpu)}  / tar of each round: wall ${x(b.coldVsTar)}, cpu ${x(b.coldVsTarCpu)}`);
      }
    } finally {
      await cache.stop();
    }
  }
  console.log(`load average at end: ${load()}`);
}

if (require.main === module) void main();
