/**
 * docs/benchmarks.md and docs/benchmarks.svg from one run's results: the
 * tables, the ratios, the goals of issue 5 marked met or missed, the machine
 * and the command that reproduces them.
 */
import type { Machine } from './machine';
import type { LargeResult, RefsResult, SmallResult, SteadyResult } from './tasks';
import { sizeLabel, type CacheBench } from './cache';
import type { PackagesResult } from './packages';
import type { DepsResult } from './deps';
import type { ClusterResult } from './cluster';
import type { ProfileSummary } from './profile';
import { barChart, type Panel } from './chart';
import { MiB } from './stats';

export interface Results {
  mode: 'full' | 'quick';
  command: string;
  startedAt: string;
  seconds: number;
  machine: Machine;
  loadStart: number[];
  loadEnd: number[];
  logLevel: string;
  /** GLIBC_TUNABLES when the run started (null: unset); absent in results saved before it was recorded. */
  glibcTunables?: string | null;
  smallN: number;
  small?: SmallResult[];
  /** The same small tasks driven by Python grpcio (as Flame's Rust client calls), flmrun-js and the Python runner only. */
  smallGrpcio?: SmallResult[];
  /** The same small task through a live Flame cluster (`--flame-endpoint`); absent when none was given. */
  cluster?: ClusterResult;
  large?: LargeResult[];
  refs?: RefsResult[];
  cache?: CacheBench;
  packages?: PackagesResult;
  /** Enters of a package with npm dependencies (issue 14 goal 5); absent in results saved before it was measured. */
  deps?: DepsResult;
  steady?: SteadyResult;
  profiles?: ProfileSummary[];
}

export interface Goal {
  goal: string;
  measured: string;
  met: boolean;
}

const f = (x: number, d = 2): string => (Number.isFinite(x) ? x.toFixed(d) : 'n/a');
const mib = (bytes: number): string => `${f(bytes / MiB, 0)} MiB`;

function by<T extends { name: string }>(xs: T[] | undefined, name: string): T | undefined {
  return xs?.find((x) => x.name === name);
}

/** The growth the steady-state goal tolerates: 5% or 10 MiB, whichever is larger. */
function rssNoise(early: number): number {
  return Math.max(10 * MiB, early * 0.05);
}

/** A ratio judged against `bound`: with a third decimal when two would show the bound itself (0.8015 would read "0.80x", missed). */
function fr(x: number, bound: number): string {
  return f(x) === f(bound) && x !== bound ? f(x, 3) : f(x);
}

export function goals(r: Results): Goal[] {
  const out: Goal[] = [];
  const flm = by(r.small, 'flmrun-js');
  const py = by(r.small, 'python-runner');
  const floor = by(r.small, 'floor');
  if (flm && py) {
    const x = flm.latency.p50 / py.latency.p50;
    out.push({ goal: 'small task p50 ≤ 1/3 of the Python runner’s', measured: `${fr(x, 1 / 3)}x the Python runner (${f(flm.latency.p50)} vs ${f(py.latency.p50)} ms)`, met: x <= 1 / 3 });
  }
  if (flm && floor) {
    const x = flm.latency.p50 / floor.latency.p50;
    out.push({ goal: 'small task p50 ≤ 1.5x the floor', measured: `${fr(x, 1.5)}x the floor (${f(flm.latency.p50)} vs ${f(floor.latency.p50)} ms)`, met: x <= 1.5 });
  }
  for (const size of [...new Set(r.large?.map((l) => l.sizeMiB))]) {
    const a = r.large!.find((l) => l.sizeMiB === size && l.name === 'flmrun-js');
    const b = r.large!.find((l) => l.sizeMiB === size && l.name === 'python-runner');
    if (a && b) out.push({ goal: `${size} MiB result at least as fast as the Python runner`, measured: `${f(a.mbPerS, 0)} vs ${f(b.mbPerS, 0)} MiB/s (${fr(a.mbPerS / b.mbPerS, 1)}x)`, met: a.mbPerS >= b.mbPerS });
    // At 1 MiB the runtime's own warm-up over the repetitions (JIT, heap, gRPC buffers: tens of MiB) dwarfs the object.
    if (a && size >= 64) {
      const x = (a.peak - a.idleRss) / (size * MiB);
      out.push({ goal: `${size} MiB result: peak RSS growth ≤ 2.5x the object`, measured: `${fr(x, 2.5)}x (peak ${mib(a.peak)}, idle ${mib(a.idleRss)})`, met: x <= 2.5 });
    }
  }
  const refs = by(r.refs, 'flmrun-js');
  if (refs) {
    const x = refs.eight.p50 / refs.one.p50;
    out.push({ goal: '8 refs of 8 MiB within 1.5x of one 8 MiB ref', measured: `${fr(x, 1.5)}x (${f(refs.eight.p50, 0)} vs ${f(refs.one.p50, 0)} ms)`, met: x <= 1.5 });
  }
  const gFlm = by(r.smallGrpcio, 'flmrun-js');
  const gPy = by(r.smallGrpcio, 'python-runner');
  if (gFlm && gPy) {
    const x = gFlm.latency.p50 / gPy.latency.p50;
    out.push({ goal: 'small task p50, Python grpcio driver (as Flame calls), ≤ 0.8x the Python runner’s (issue 14)', measured: `${fr(x, 0.8)}x (${f(gFlm.latency.p50)} vs ${f(gPy.latency.p50)} ms)`, met: x <= 0.8 });
  }
  for (const c of r.cache?.results ?? []) {
    const x = c.pyarrow.p50 / c.ours.p50;
    out.push({
      goal: `cache ${c.op} ${sizeLabel(c.bytes)} against ${r.cache!.server}: our client at least as fast as pyarrow’s (issue 14)`,
      measured: `${f(c.ours.p50 * 1000, 3)} vs ${f(c.pyarrow.p50 * 1000, 3)} ms (pyarrow / ours = ${fr(x, 1)}x)`,
      met: x >= 1,
    });
  }
  for (const c of r.cache?.results ?? []) {
    if (!c.embedded) continue;
    const x = c.embedded.pyarrow.p50 / c.pyarrow.p50;
    out.push({
      goal: `cache ${c.op} ${sizeLabel(c.bytes)}, pyarrow’s client: our embedded server within 1.5x of ${r.cache!.server} (issue 14)`,
      measured: `${f(c.embedded.pyarrow.p50 * 1000, 3)} vs ${f(c.pyarrow.p50 * 1000, 3)} ms (${fr(x, 1.5)}x)`,
      met: x <= 1.5,
    });
  }
  if (r.deps) {
    const d = r.deps;
    const npmOk = d.npmRuns === d.depsColdEnters;
    for (const [k, where] of [['next', 'the next session of the same process'], ['other', 'another process on the same working directory']] as const) {
      const same = d.withDeps[k].p50 / d.plain[k].p50;
      const lazy = d.lazyDeps[k].p50 / d.bare[k].p50;
      out.push({
        goal: `package with npm dependencies entered by ${where}: npm not run again, enter ≤ 1.2x the package without them (issue 14)`,
        measured:
          `${f(same)}x the same code carried in the package (${f(d.withDeps[k].p50 * 1000, 0)} vs ${f(d.plain[k].p50 * 1000, 0)} ms); ` +
          `dependencies not loaded at enter ${f(lazy)}x the package without the libraries (${f(d.lazyDeps[k].p50 * 1000, 0)} vs ${f(d.bare[k].p50 * 1000, 0)} ms); ` +
          `npm ran ${d.npmRuns} times in ${d.depsColdEnters} cold enters`,
        met: npmOk && same <= 1.2 && lazy <= 1.2,
      });
    }
  }
  if (r.steady) {
    const g = r.steady.rssLate - r.steady.rssEarly;
    out.push({
      goal: `steady state: no RSS growth beyond noise (≤ max(10 MiB, 5%)) over ${r.steady.tasks} tasks`,
      measured: `${g >= 0 ? '+' : ''}${f(g / MiB, 1)} MiB (median ${mib(r.steady.rssEarly)} over 20–40% of the run → ${mib(r.steady.rssLate)} over the last 20%)`,
      met: g <= rssNoise(r.steady.rssEarly),
    });
  }
  return out;
}

/**
 * One panel per group of comparable bars: each title says which way is better, and bars of very
 * different scales (a 16 B put and a 64 MiB one, a task and a transfer) never share an axis.
 */
export function chartPanels(r: Results): Panel[] {
  const panels: Panel[] = [];
  const series = (name: string): 'flmrun-js' | 'python' | 'floor' => (name === 'flmrun-js' ? 'flmrun-js' : name === 'python-runner' ? 'python' : 'floor');
  if (r.small) {
    panels.push({ title: '1. Small task round trip, grpc-js driver, p50 — lower is better', unit: 'ms', bars: r.small.map((s) => ({ label: s.name, value: s.latency.p50, series: series(s.name) })) });
  }
  if (r.smallGrpcio) {
    panels.push({ title: '1b. Small task round trip, Python grpcio driver (as Flame calls), p50 — lower is better', unit: 'ms', bars: r.smallGrpcio.map((s) => ({ label: s.name, value: s.latency.p50, series: series(s.name) })) });
  }
  for (const size of [...new Set(r.large?.map((l) => l.sizeMiB))]) {
    const ls = r.large!.filter((l) => l.sizeMiB === size);
    panels.push({ title: `2. ${size} MiB result, throughput — higher is better`, unit: 'MiB/s', bars: ls.map((l) => ({ label: l.name, value: l.mbPerS, series: series(l.name) })) });
  }
  if (r.refs) {
    for (const [which, label] of [['one', '1 ref of 8 MiB'], ['eight', '8 refs of 8 MiB']] as const) {
      panels.push({ title: `3. ObjectRef arguments, ${label}, task time p50 — lower is better`, unit: 'ms', bars: r.refs.map((x) => ({ label: x.name, value: x[which].p50, series: series(x.name) })) });
    }
  }
  if (r.cache) {
    for (const bytes of [...new Set(r.cache.results.map((c) => c.bytes))]) {
      panels.push({
        title: `4. Object cache, ${sizeLabel(bytes)} object, p50 per operation — lower is better`,
        unit: 'ms',
        bars: r.cache.results
          .filter((c) => c.bytes === bytes)
          .flatMap((c) => [
            { label: `${c.op} ours (http2)`, value: c.ours.p50 * 1000, series: 'flmrun-js' as const },
            { label: `${c.op} ours (grpc-js)`, value: c.oursGrpcJs.p50 * 1000, series: 'floor' as const },
            { label: `${c.op} pyarrow`, value: c.pyarrow.p50 * 1000, series: 'python' as const },
          ]),
      });
    }
  }
  if (r.packages) {
    const p = r.packages;
    panels.push({
      title: `5. Session enter, ${f(p.archiveMB, 1)} MB .tgz — lower is better`,
      unit: 'ms',
      bars: [
        { label: 'tar xzf', value: p.tar.p50 * 1000, series: 'floor' },
        { label: 'cold enter', value: p.cold.p50 * 1000, series: 'flmrun-js' },
        { label: 'warm enter', value: p.warm.p50 * 1000, series: 'flmrun-js' },
      ],
    });
  }
  return panels;
}

export function renderChart(r: Results): string {
  return barChart(`flmrun-js benchmarks (${r.mode} run, ${r.startedAt.slice(0, 10)}, ${r.machine.nproc} cores)`, chartPanels(r));
}

