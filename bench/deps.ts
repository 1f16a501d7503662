/**
 * Session enter of a package with npm dependencies (issue 14 goal 5), on
 * `flmrun-js serve` as Flame starts it (no --keep-extracted). Four packages
 * (bench/fixture.ts writeDepsPackages) take turns round by round: the libraries as
 * npm dependencies loaded by the module (`withDeps`) against the same JavaScript
 * carried as files of the package (`plain`): the same code either way; and the same
 * dependencies loaded only when called (`lazyDeps`) against the package without the
 * libraries (`bare`): what having dependencies costs an enter, their code aside.
 * The two of a pair are measured side by side in each round (the pairs take turns):
 * - cold: each on a fresh instance and working directory (for the package with
 *   dependencies, npm installs them: offline, from local `file:` specs);
 * - next session: the instance of the cold enter with dependencies enters both packages
 *   again, NEXT_SESSIONS times each, taking turns (each tree is extracted again, as it was
 *   removed at the leave; the dependencies come from the working directory's store);
 * - another process: 2 x OTHER_PROCESSES more instances on that working directory, one
 *   after the other, each entering one of the two, taking turns (the first instance still
 *   lives and holds the store).
 * Why pairs: when each package had instances of its own (2 next sessions and 2 other
 * processes per round), the p50 ratio of the dependencies moved by 0.1-0.2 between runs
 * (next session 1.12-1.18x, another process 1.11-1.21x), while the same two enters taking
 * turns 20 times on one instance differed by ~1 ms in 21 (1.06x): the spread was between
 * instances and moments, not in the enters.
 * Before each enter the bench waits SPARE_BOOT_MS, so that the instance's spare session
 * process (src/runner/spare-process.ts, started with serve and after each leave) has
 * booted: the figures are the enter's own work (fetch, extract, dependencies, module
 * load), which is what differs between the packages, not a boot all would wait for.
 * Once the cold enter has installed them, the dependencies' sources are moved away
 * for the rest of the round: npm running again would fail the enter, and the bench
 * with it. Every `npm` the instances run goes through a wrapper on their PATH that
 * counts it: the count is reported next to the number of cold enters.
 *
 * Part of `npm run bench` (`--only packages`); alone (after `npx tsc`):
 *   node -r ./bench/register.js bench/deps.ts [--quick]
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { summarize, type Summary } from './stats';
import { startCache, startFlmrun, tempDir, type Proc } from './procs';
import { writeDepsPackages } from './fixture';
import { enterAndLeave } from './packages';

/** Wall seconds of each kind of enter, over all its samples. */
export interface EnterFigures {
  cold: Summary;
  next: Summary;
  other: Summary;
}

export interface DepsResult {
  /** Files of the libraries that `plain` and `withDeps` load (their modules and package.json files; carried, or installed as dependencies). */
  files: number;
  /** The package alone, without the libraries. */
  bare: EnterFigures;
  /** The libraries carried as files of the package. */
  plain: EnterFigures;
  /** The libraries as npm dependencies, loaded with the module. */
  withDeps: EnterFigures;
  /** The same dependencies, loaded only when a method asks for them. */
  lazyDeps: EnterFigures;
  /** npm runs seen over the whole run, and the cold enters of the packages with dependencies (one run each). */
  npmRuns: number;
  depsColdEnters: number;
  /** The wait before each enter, ms (SPARE_BOOT_MS); absent in results saved before it was recorded (1000 then). */
  waitMs?: number;
  /** Next sessions and other processes taken in pairs (see above); absent in results saved before, when each package had instances of its own. */
  paired?: boolean;
}

/** The wait before each enter (see above): a spare boots in ~0.2-0.4 s on the benchmark machine. */
const SPARE_BOOT_MS = 1000;
/** Enters per round and package (see above). */
const NEXT_SESSIONS = 4;
const OTHER_PROCESSES = 3;
const booted = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, SPARE_BOOT_MS));

/** A directory holding an `npm` that appends a line to `logFile` and runs the real npm. */
function countingNpm(dir: string, logFile: string): void {
  const real = execFileSync('bash', ['-c', 'command -v npm'], { encoding: 'utf8' }).trim();
  if (!real) throw new Error('npm is not on PATH');
  fs.mkdirSync(dir, { recursive: true });
  const script = path.join(dir, 'npm');
  fs.writeFileSync(script, `#!/bin/sh\necho "$PWD $*" >> ${JSON.stringify(logFile)}\nexec ${JSON.stringify(real)} "$@"\n`);
  fs.chmodSync(script, 0o755);
}

export async function benchDeps(cacheEndpoint: string, logLevel: string, quick: boolean): Promise<DepsResult> {
  const base = tempDir('deps');
  const { bare, plain, withDeps, lazyDeps, depsSource, files } = writeDepsPackages(base);
  const urls = { bare, plain, withDeps, lazyDeps };
  const hidden = `${depsSource}.hidden`;
  const npmLog = path.join(base, 'npm-runs.log');
  const wrapper = path.join(base, 'bin');
  countingNpm(wrapper, npmLog);
  const env = { PATH: `${wrapper}${path.delimiter}${process.env.PATH ?? ''}` };
  const samples = (): Record<keyof EnterFigures, number[]> => ({ cold: [], next: [], other: [] });
  const r = { bare: samples(), plain: samples(), withDeps: samples(), lazyDeps: samples() };
  // Each package with dependencies next to the one it is compared with.
  const pairs = [['bare', 'lazyDeps'], ['plain', 'withDeps']] as const;
  const reps = quick ? 2 : 5;
  for (let i = 0; i < reps; i++) {
    for (let j = 0; j < pairs.length; j++) {
      const [plainKind, depsKind] = pairs[(i + j) % pairs.length]!;
      const url = (kind: keyof typeof urls): string => `file://${urls[kind]}`;
      const started: Proc[] = [];
      const start = async (workDir: string, name: string): Promise<Proc & { socket: string }> => {
        const p = await startFlmrun({ cacheEndpoint, workDir, name, env }, logLevel);
        started.push(p);
        await booted();
        return p;
      };
      try {
        // Cold: each package on a fresh instance and working directory, which goes first alternating by round.
        const work = fs.mkdtempSync(path.join(base, 'work-'));
        const coldPlain = async (): Promise<void> => {
          const p = await start(fs.mkdtempSync(path.join(base, 'work-')), 'flmrun-js-deps-cold');
          r[plainKind].cold.push((await enterAndLeave(p.socket, url(plainKind), p.pid)).wall);
        };
        if (i % 2 === 0) await coldPlain();
        const a = await start(work, 'flmrun-js-deps-a');
        r[depsKind].cold.push((await enterAndLeave(a.socket, url(depsKind), a.pid)).wall);
        fs.renameSync(depsSource, hidden);
        if (i % 2 === 1) await coldPlain();
        // Next session: the instance of the cold enter with dependencies enters both packages again, taking turns.
        for (let k = 0; k < NEXT_SESSIONS; k++) {
          for (const kind of k % 2 === 0 ? [plainKind, depsKind] : [depsKind, plainKind]) {
            await booted();
            r[kind].next.push((await enterAndLeave(a.socket, url(kind), a.pid)).wall);
          }
        }
        // Another process: new instances on the same working directory, each entering one of the two, taking turns.
        for (let k = 0; k < 2 * OTHER_PROCESSES; k++) {
          const kind = (k + i) % 2 === 0 ? plainKind : depsKind;
          const other = await start(work, `flmrun-js-deps-other-${k + 1}`);
          r[kind].other.push((await enterAndLeave(other.socket, url(kind), other.pid)).wall);
        }
      } finally {
        for (const p of started.reverse()) await p.stop();
        if (fs.existsSync(hidden)) fs.renameSync(hidden, depsSource);
      }
    }
  }
  const npmRuns = fs.existsSync(npmLog) ? fs.readFileSync(npmLog, 'utf8').split('\n').filter(Boolean).length : 0;
  const figures = (x: Record<keyof EnterFigures, number[]>): EnterFigures => ({ cold: summarize(x.cold), next: summarize(x.next), other: summarize(x.other) });
  return {
    files, bare: figures(r.bare), plain: figures(r.plain), withDeps: figures(r.withDeps), lazyDeps: figures(r.lazyDeps), npmRuns,
    depsColdEnters: r.withDeps.cold.length + r.lazyDeps.cold.length, waitMs: SPARE_BOOT_MS, paired: true,
  };
}

export function printDeps(d: DepsResult, out: (line: string) => void): void {
  const ms = (s: Summary): string => `${(s.p50 * 1000).toFixed(0).padStart(6)} ms`;
  out(`enter, p50 wall    cold        next session  another process   (libraries of ${d.files} files; npm ran ${d.npmRuns} times, ${d.depsColdEnters} cold enters with dependencies)`);
  const row = (label: string, e: EnterFigures): void => out(`${label.padEnd(17)}${ms(e.cold)}   ${ms(e.next)}    ${ms(e.other)}`);
  row('no libraries', d.bare);
  row('libraries carried', d.plain);
  row('libraries as deps', d.withDeps);
  row('deps, lazy', d.lazyDeps);
  const x = (k: keyof EnterFigures, a: EnterFigures, vs: EnterFigures): string => `${(a[k].p50 / vs[k].p50).toFixed(2)}x`.padStart(9);
  out(`deps / carried   ${x('cold', d.withDeps, d.plain)}   ${x('next', d.withDeps, d.plain)}       ${x('other', d.withDeps, d.plain)}`);
  out(`lazy / none      ${x('cold', d.lazyDeps, d.bare)}   ${x('next', d.lazyDeps, d.bare)}       ${x('other', d.lazyDeps, d.bare)}`);
}

async function main(): Promise<void> {
  const cache = await startCache();
  try {
    const d = await benchDeps(cache.endpoint, process.env.FLMRUN_BENCH_LOG ?? 'warn', process.argv.includes('--quick'));
    printDeps(d, (line) => console.log(line));
  } finally {
    await cache.stop();
  }
}

if (require.main === module) void main();
