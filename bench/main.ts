/**
 * `npm run bench` (bench/run.sh): every benchmark of issue 5 in one run, then
 * docs/benchmarks.md and docs/benchmarks.svg. See the Reproduce section of the
 * generated doc for the options.
 */
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { CacheClient } from '../src/cache/client';
import { OUT, ROOT, removeTempDirs, startCache } from './procs';
import { benchPython, HELPER } from './python';
import { describeMachine, loadAverage } from './machine';
import { floorContender, flmrunContender, pickledRequests, pythonContender, type Contender } from './contenders';
import { doPutOnly, largeResults, refArguments, smallTasks, smallTasksGrpcio, steadyState, type BenchContext } from './tasks';
import { benchCache, printCache } from './cache';
import { benchPackages } from './packages';
import { benchDeps, printDeps } from './deps';
import { benchCluster } from './cluster';
import { profileSmallTasks } from './profile';
import { goals, renderChart, type Results } from './report';
import { renderMarkdown } from './report-markdown';
import { since } from './stats';

const SUITES = ['small', 'cluster', 'refs', 'large', 'cache', 'packages', 'steady'] as const;

function positiveInt(v: string | undefined, what: string, fallback: number): number {
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < 1) throw new Error(`${what} must be a whole number >= 1, got "${v}"`);
  return n;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    args: process.argv.slice(2),
    options: {
      quick: { type: 'boolean', default: false },
      only: { type: 'string' },
      'small-n': { type: 'string' },
      'steady-n': { type: 'string' },
      profile: { type: 'boolean', default: false },
      // Adds flmrun-js with its cache client on grpc-js to the task sections: before/after of its own HTTP/2 transport in one run.
      baseline: { type: 'boolean', default: false },
      // The cache sections (4) against another Flight server, e.g. Flame's own object cache.
      'cache-endpoint': { type: 'string' },
      // The pid of the --cache-endpoint server, for its CPU time per operation (read from /proc).
      'cache-pid': { type: 'string' },
      // Section 1c through a live Flame cluster: its session manager (its object cache is --cache-endpoint).
      'flame-endpoint': { type: 'string' },
      'no-doc': { type: 'boolean', default: false },
      // Re-renders docs/ from a saved bench/out/results.json without measuring anything.
      render: { type: 'string' },
    },
  });
  if (values.render) return writeDocs(JSON.parse(fs.readFileSync(values.render, 'utf8')) as Results);
  const quick = values.quick!;
  const only = new Set(values.only ? values.only.split(',') : SUITES);
  for (const s of only) if (!(SUITES as readonly string[]).includes(s)) throw new Error(`--only: unknown suite "${s}" (know ${SUITES.join(', ')})`);
  const flameEndpoint = values['flame-endpoint'];
  if (flameEndpoint && !values['cache-endpoint']) throw new Error('--flame-endpoint needs --cache-endpoint: the Flame cluster\'s object cache');
  // The cluster section needs a cluster: without --flame-endpoint it is skipped (and asking for it alone is an error).
  if (!flameEndpoint) {
    if (values.only && only.has('cluster')) throw new Error('--only cluster needs --flame-endpoint http://host:port (a Flame session manager)');
    only.delete('cluster');
  }
  const smallN = positiveInt(values['small-n'], '--small-n', quick ? 2000 : 10_000);
  const steadyN = positiveInt(values['steady-n'], '--steady-n', quick ? 10_000 : 100_000);
  const logLevel = process.env.FLMRUN_BENCH_LOG ?? 'warn';
  const log = (msg: string): void => void process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);

  const t0 = process.hrtime.bigint();
  const loadStart = loadAverage();
  const python = await benchPython();
  const machine = describeMachine(python);
  fs.mkdirSync(OUT, { recursive: true });
  fs.rmSync(path.join(OUT, 'logs'), { recursive: true, force: true });
  const cacheProc = await startCache();
  const cache = new CacheClient({ endpoint: cacheProc.endpoint, lruEntries: 0, deadlineMs: 600_000 });
  const ctx: BenchContext = { quick, python, helper: HELPER, cacheEndpoint: cacheProc.endpoint, logLevel, cache, log };
  const r: Results = {
    mode: quick ? 'quick' : 'full',
    command: `npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`,
    startedAt: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
    seconds: 0,
    machine,
    loadStart,
    loadEnd: loadStart,
    logLevel,
    glibcTunables: process.env.GLIBC_TUNABLES ?? null,
    smallN,
  };
  const [add] = await pickledRequests(python, HELPER, [['add', [5, 3], []]]);
  const runners = async (): Promise<Contender[]> => [
    await flmrunContender(ctx.cacheEndpoint, logLevel),
    await pythonContender(python, HELPER, ctx.cacheEndpoint, logLevel),
    ...(values.baseline ? [await flmrunContender(ctx.cacheEndpoint, logLevel, { name: 'flmrun-js-grpcjs', cacheTransport: 'grpc-js' })] : []),
  ];
  try {
    if (only.has('small') || only.has('refs')) {
      const floors = only.has('small') ? [await floorContender(ctx.cacheEndpoint), await floorContender(ctx.cacheEndpoint, 'echo'), await floorContender(ctx.cacheEndpoint, 'child')] : [];
      const cs = [...(await runners()), ...floors];
      try {
        if (only.has('small')) {
          log(`1. small tasks: ${smallN} per contender`);
          r.small = await smallTasks(ctx, [...cs, doPutOnly(cache)], add!, smallN);
          log(`1b. small tasks, Python grpcio driver: ${smallN} per runner`);
          // The floors too: what a runner without (floor) and with (DoPut in a child process) process isolation cannot beat.
          r.smallGrpcio = await smallTasksGrpcio(ctx, cs.filter((c) => c.name !== 'floor: gRPC echo only'), add!, smallN);
        }
        if (only.has('refs')) {
          log('3. ObjectRef arguments');
          r.refs = await refArguments(ctx, cs.filter((c) => !c.name.startsWith('floor')), quick ? 5 : 20);
        }
      } finally {
        for (const c of cs) await c.close();
      }
    }
    if (only.has('cluster')) {
      log(`1c. small tasks through the Flame cluster at ${flameEndpoint}`);
      r.cluster = await benchCluster(python, HELPER, flameEndpoint!, values['cache-endpoint']!, quick);
    }
    if (only.has('large')) {
      log('2. large results');
      r.large = await largeResults(ctx, runners, quick ? [{ mib: 1, reps: 5 }, { mib: 64, reps: 2 }, { mib: 256, reps: 1 }] : [{ mib: 1, reps: 30 }, { mib: 64, reps: 6 }, { mib: 256, reps: 3 }]);
    }
    if (only.has('cache')) {
      log('4. object cache');
      const external = values['cache-endpoint'];
      const embedded = { name: 'flmrun-js cache (embedded)', endpoint: ctx.cacheEndpoint, pid: cacheProc.pid };
      const pid = values['cache-pid'] === undefined ? undefined : positiveInt(values['cache-pid'], '--cache-pid', 0);
      // Against another server, pyarrow also takes turns against ours: the two servers side by side.
      r.cache = external ? await benchCache(python, HELPER, { name: external, endpoint: external, pid }, quick, embedded) : await benchCache(python, HELPER, embedded, quick);
      printCache(r.cache, (line) => log(line));
    }
    if (only.has('packages')) {
      log('5. session enter with a package');
      r.packages = await benchPackages(ctx.cacheEndpoint, logLevel, quick);
      log('5. session enter with npm dependencies');
      r.deps = await benchDeps(ctx.cacheEndpoint, logLevel, quick);
      printDeps(r.deps, (line) => log(line));
    }
    if (only.has('steady')) {
      log(`6. steady state: ${steadyN} tasks`);
      r.steady = await steadyState(ctx, add!, steadyN, path.join(OUT, 'steady-diag.jsonl'));
    }
    const smallMissed = goals(r).some((g) => g.goal.startsWith('small task') && !g.met);
    if (values.profile || (smallMissed && !quick)) {
      log('profiling flmrun-js on small tasks (node --cpu-prof)');
      r.profiles = await profileSmallTasks(ctx, add!, quick ? 1000 : 3000, path.join(OUT, 'profile'));
    }
  } finally {
    cache.close();
    await cacheProc.stop();
    removeTempDirs();
  }
  r.loadEnd = loadAverage();
  r.seconds = since(t0);
  fs.writeFileSync(path.join(OUT, 'results.json'), JSON.stringify(r, null, 2));
  if (values['no-doc']) process.stdout.write(renderMarkdown(r, 'benchmarks.svg'));
  else writeDocs(r);
  for (const g of goals(r)) log(`${g.met ? 'met   ' : 'MISSED'} ${g.goal}: ${g.measured}`);
}

function writeDocs(r: Results): void {
  fs.mkdirSync(path.join(ROOT, 'docs'), { recursive: true });
  fs.writeFileSync(path.join(ROOT, 'docs', 'benchmarks.svg'), renderChart(r));
  fs.writeFileSync(path.join(ROOT, 'docs', 'benchmarks.md'), renderMarkdown(r, 'benchmarks.svg'));
  process.stderr.write(`wrote docs/benchmarks.md and docs/benchmarks.svg (${(r.seconds / 60).toFixed(1)} min run)\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
