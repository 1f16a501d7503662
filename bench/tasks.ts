/**
 * Task benchmarks through the Instance protocol: small-task round trip (1),
 * large results (2), ObjectRef arguments (3) and steady state (6). Contenders
 * take turns block by block (the starting one rotates), so that drift in the
 * machine's load hits them alike.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import { createInterface } from 'node:readline';
import { CacheClient } from '../src/cache/client';
import { encodeObjectRef, encodeValue } from '../src/codecs';
import { MiB, since, summarize, type Summary } from './stats';
import { memory, resetPeak } from './procs';
import { APP, flmrunContender, pickledRequests, type Contender } from './contenders';

export interface BenchContext {
  quick: boolean;
  python: string;
  helper: string;
  cacheEndpoint: string;
  logLevel: string;
  cache: CacheClient;
  log(msg: string): void;
}

export interface SmallResult {
  name: string;
  /** Round-trip latency, ms. */
  latency: Summary;
  tasksPerSecond: number;
}

function rotate<T>(items: readonly T[], by: number): T[] {
  const k = by % items.length;
  return [...items.slice(k), ...items.slice(0, k)];
}

async function timed(c: Timed, input: Buffer): Promise<number> {
  const t = process.hrtime.bigint();
  await c.invoke(input);
  return since(t) * 1000;
}

/** What the small-task benchmark times: a contender, or a part of the floor measured alone. */
export interface Timed {
  name: string;
  invoke(input: Buffer): Promise<unknown>;
}

/** The other part of the floor, alone: one DoPut of the result bytes from the driver. */
export function doPutOnly(cache: CacheClient): Timed {
  const payload = encodeValue(8);
  return { name: 'floor: DoPut only', invoke: () => cache.put(`${APP}/doput-only`, payload) };
}

export async function smallTasks(ctx: BenchContext, contenders: Timed[], input: Buffer, n: number): Promise<SmallResult[]> {
  const block = Math.min(500, Math.max(1, Math.floor(n / 10)));
  const samples = new Map<string, number[]>(contenders.map((c) => [c.name, []]));
  for (const c of contenders) for (let i = 0; i < 300; i++) await c.invoke(input); // warm-up: JIT, channels, pools
  for (let round = 0; round * block < n; round++) {
    for (const c of rotate(contenders, round)) {
      const out = samples.get(c.name)!;
      for (let i = 0; i < block && out.length < n; i++) out.push(await timed(c, input));
    }
  }
  for (const c of contenders) if ('session' in c) await ctx.cache.delete(`${APP}/${(c as Contender).session}`).catch(() => undefined);
  await ctx.cache.delete(`${APP}/doput-only`).catch(() => undefined);
  return contenders.map((c) => {
    const s = samples.get(c.name)!;
    const latency = summarize(s);
    return { name: c.name, latency, tasksPerSecond: 1000 / latency.mean };
  });
}

/**
 * Small tasks as Flame drives them: the driver is Python grpcio (bench/py/helper.py drive), whose C core
 * calls like Flame's Rust executor manager does, not grpc-js. One driver process for all contenders,
 * blocks alternating (the starting one rotates); each contender is reached on its own Unix socket.
 */
export async function smallTasksGrpcio(ctx: BenchContext, contenders: Contender[], input: Buffer, n: number): Promise<SmallResult[]> {
  const driver = spawn(ctx.python, [ctx.helper, 'drive', input.toString('hex')], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = createInterface({ input: driver.stdout! })[Symbol.asyncIterator]();
  const exited = new Promise<never>((_, reject) => driver.once('exit', (code) => reject(new Error(`the grpcio driver exited (${code})`))));
  const block = async (c: Contender, count: number): Promise<number[]> => {
    driver.stdin!.write(`${c.socket} ${c.session} ${count}\n`);
    const line = await Promise.race([lines.next(), exited]);
    if (line.done) throw new Error('the grpcio driver closed its output');
    return JSON.parse(line.value) as number[];
  };
  try {
    const samples = new Map<string, number[]>(contenders.map((c) => [c.name, []]));
    for (const c of contenders) await block(c, 300); // warm-up: the driver's channel, JIT, pools
    const size = Math.min(500, Math.max(1, Math.floor(n / 10)));
    for (let round = 0; round * size < n; round++) {
      for (const c of rotate(contenders, round)) samples.get(c.name)!.push(...(await block(c, Math.min(size, n - round * size))));
    }
    return contenders.map((c) => {
      const latency = summarize(samples.get(c.name)!);
      return { name: c.name, latency, tasksPerSecond: 1000 / latency.mean };
    });
  } finally {
    exited.catch(() => undefined);
    driver.stdin!.end();
    driver.kill();
  }
}

export interface LargeResult {
  name: string;
  sizeMiB: number;
  /** Task time, s. */
  time: Summary;
  mbPerS: number;
  /** Idle RSS of the fresh runner after session enter and one small task, and its peak (VmHWM) over the tasks, bytes. */
  idleRss: number;
  peak: number;
}

/**
 * Each size gets fresh runner processes, so that memory retained from an
 * earlier, larger object (V8 and malloc keep freed pages) neither hides nor
 * inflates this size's peak: peak - idle is what returning the object cost.
 */
export async function largeResults(
  ctx: BenchContext,
  start: () => Promise<Contender[]>,
  sizes: { mib: number; reps: number }[],
): Promise<LargeResult[]> {
  const specs = sizes.map(({ mib }): [string, unknown[], string[]] => ['blob', [mib * MiB], []]);
  const [add, ...inputs] = await pickledRequests(ctx.python, ctx.helper, [['add', [5, 3], []], ...specs]);
  const results: LargeResult[] = [];
  for (const [i, { mib, reps }] of sizes.entries()) {
    const contenders = await start();
    try {
      const idle = new Map<string, number>();
      for (const c of contenders) {
        await c.invoke(add!);
        idle.set(c.name, memory(c.proc.pid).rss);
        resetPeak(c.proc.pid);
      }
      const time = new Map<string, number[]>(contenders.map((c) => [c.name, []]));
      for (let r = 0; r < reps; r++) {
        for (const c of rotate(contenders, r)) {
          const t = process.hrtime.bigint();
          const ref = await c.invoke(inputs[i]!);
          time.get(c.name)!.push(since(t));
          await ctx.cache.delete(ref.key);
        }
      }
      for (const c of contenders) {
        const t = summarize(time.get(c.name)!);
        results.push({ name: c.name, sizeMiB: mib, time: t, mbPerS: mib / t.p50, idleRss: idle.get(c.name)!, peak: memory(c.proc.pid).peak });
      }
    } finally {
      for (const c of contenders) await c.close();
    }
    ctx.log(`  large results: ${mib} MiB done`);
  }
  return results;
}

export interface RefsResult {
  name: string;
  /** Task time, ms: 8 arguments of 8 MiB each, and one argument of 8 MiB. */
  eight: Summary;
  one: Summary;
}

export async function refArguments(ctx: BenchContext, contenders: Contender[], reps: number): Promise<RefsResult[]> {
  const refs = [];
  for (let i = 0; i < 8; i++) refs.push(await ctx.cache.put(`${APP}/refs`, encodeValue(Buffer.alloc(8 * MiB, i + 1))));
  const hex = refs.map((r) => encodeObjectRef(r).toString('hex'));
  const [eight, one] = await pickledRequests(ctx.python, ctx.helper, [
    ['total', [], hex],
    ['total', [], hex.slice(0, 1)],
  ]);
  const out = new Map<string, { eight: number[]; one: number[] }>(contenders.map((c) => [c.name, { eight: [], one: [] }]));
  for (const c of contenders) {
    await c.invoke(eight!); // warm-up
    await c.invoke(one!);
  }
  for (let r = 0; r < reps; r++) {
    for (const c of rotate(contenders, r)) {
      const o = out.get(c.name)!;
      if (r % 2 === 0) {
        o.eight.push(await timed(c, eight!));
        o.one.push(await timed(c, one!));
      } else {
        o.one.push(await timed(c, one!));
        o.eight.push(await timed(c, eight!));
      }
    }
  }
  await ctx.cache.delete(`${APP}/refs`);
  return contenders.map((c) => ({ name: c.name, eight: summarize(out.get(c.name)!.eight), one: summarize(out.get(c.name)!.one) }));
}

export interface SteadyResult {
  tasks: number;
  seconds: number;
  /** [tasks done, RSS bytes] samples. */
  rss: [number, number][];
  /** Median RSS over the samples in 20–40% of the run (past warm-up) and in its last 20%, bytes. */
  rssEarly: number;
  rssLate: number;
  rssMax: number;
  latency: Summary;
  /** Per-second event-loop delay histograms, by thread (ms). */
  eventLoop: { thread: string; intervals: number; p50: number; p99: number; max: number }[];
}

export async function steadyState(ctx: BenchContext, input: Buffer, n: number, diagFile: string): Promise<SteadyResult> {
  fs.rmSync(diagFile, { force: true });
  const c = await flmrunContender(ctx.cacheEndpoint, ctx.logLevel, { diagFile, name: 'flmrun-js-steady' });
  try {
    const every = Math.max(1, Math.floor(n / 100));
    const rss: [number, number][] = [[0, memory(c.proc.pid).rss]];
    const lat: number[] = [];
    const t0 = process.hrtime.bigint();
    for (let i = 1; i <= n; i++) {
      lat.push(await timed(c, input));
      if (i % every === 0) rss.push([i, memory(c.proc.pid).rss]);
      // Keep the cache's memory flat: results are not what is measured here.
      if (i % 10_000 === 0) await ctx.cache.delete(`${APP}/${c.session}`);
      if (i % Math.max(1, Math.floor(n / 5)) === 0) ctx.log(`  steady: ${i}/${n}`);
    }
    const seconds = since(t0);
    await new Promise((r) => setTimeout(r, 1100)); // let each thread write its last interval
    const window = (from: number, to: number): number =>
      summarize(rss.filter(([k]) => k >= from * n && k <= to * n).map(([, v]) => v)).p50;
    const lines = fs.readFileSync(diagFile, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { thread: string; p50?: number; p99: number; max: number })
      .filter((l): l is { thread: string; p50: number; p99: number; max: number } => l.p50 !== undefined);
    const threads = [...new Set(lines.map((l) => l.thread))];
    const eventLoop = threads.map((thread) => {
      const mine = lines.filter((l) => l.thread === thread);
      return {
        thread,
        intervals: mine.length,
        p50: summarize(mine.map((l) => l.p50)).p50,
        p99: summarize(mine.map((l) => l.p99)).p50,
        max: summarize(mine.map((l) => l.max)).max,
      };
    });
    return {
      tasks: n,
      seconds,
      rss,
        rssEarly: window(0.2, 0.4),
      rssLate: window(0.8, 1),
      rssMax: Math.max(...rss.map(([, v]) => v)),
      latency: summarize(lat),
      eventLoop,
    };
  } finally {
    await ctx.cache.delete(`${APP}/${c.session}`).catch(() => undefined);
    await c.close();
  }
}
