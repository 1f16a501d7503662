/**
 * Where a missed goal's time goes: `flmrun-js serve` and its session process
 * are run under V8's sampling profiler (bench/cpu-prof-preload.js: one profile
 * per process's main thread, written at exit) while they serve small tasks,
 * and each profile's self time is summed by function and
 * by area (our code, grpc-js, apache-arrow, Node internals, GC, idle).
 */
import fs from 'node:fs';
import path from 'node:path';
import { ROOT, withDescendants } from './procs';
import { flmrunContender } from './contenders';
import type { BenchContext } from './tasks';

interface CpuProfile {
  nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number } }[];
  samples: number[];
  timeDeltas: number[];
}

export interface ProfileSummary {
  thread: string;
  file: string;
  totalMs: number;
  areas: { area: string; ms: number; pct: number }[];
  top: { fn: string; where: string; ms: number; pct: number }[];
}

function area(url: string, fn: string): string {
  if (fn === '(idle)') return 'idle';
  if (fn === '(garbage collector)') return 'GC';
  if (fn === '(program)' || fn === '(root)') return 'V8/native (program)';
  if (url.includes('/node_modules/')) {
    const m = /\/node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
    return m?.[1] ?? 'node_modules';
  }
  if (url.startsWith('node:') || url === '') return 'Node internals';
  if (url.includes('/dist/')) return 'flmrun-js (dist/)';
  return 'other';
}

function where(url: string, line: number): string {
  const rel = url.startsWith('file://') ? path.relative(ROOT, url.slice('file://'.length)) : url;
  return rel ? `${rel}:${line + 1}` : '';
}

export function summarizeProfile(file: string, threadNames: Map<string, string> = new Map()): ProfileSummary {
  const prof = JSON.parse(fs.readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(prof.nodes.map((n) => [n.id, n.callFrame]));
  const self = new Map<number, number>();
  prof.samples.forEach((id, i) => self.set(id, (self.get(id) ?? 0) + (prof.timeDeltas[i] ?? 0)));
  const fns = new Map<string, { fn: string; where: string; us: number }>();
  const areas = new Map<string, number>();
  let total = 0;
  for (const [id, us] of self) {
    const cf = byId.get(id);
    if (!cf) continue;
    total += us;
    const a = area(cf.url, cf.functionName);
    areas.set(a, (areas.get(a) ?? 0) + us);
    if (a === 'idle') continue;
    const key = `${cf.functionName}@${cf.url}:${cf.lineNumber}`;
    const e = fns.get(key) ?? { fn: cf.functionName || '(anonymous)', where: where(cf.url, cf.lineNumber), us: 0 };
    e.us += us;
    fns.set(key, e);
  }
  const pct = (us: number): number => (100 * us) / total;
  // File names are CPU.<date>.<time>.<pid>.<thread id>.<seq>.cpuprofile; thread 0 is the main thread.
  const [, , , pid, tid] = path.basename(file).split('.');
  return {
    thread: threadNames.get(`${pid}.${tid}`) ?? `process ${pid} thread ${tid}`,
    file: path.relative(ROOT, file),
    totalMs: total / 1000,
    areas: [...areas].map(([a, us]) => ({ area: a, ms: us / 1000, pct: pct(us) })).sort((x, y) => y.ms - x.ms),
    top: [...fns.values()].sort((x, y) => y.us - x.us).slice(0, 12).map((e) => ({ fn: e.fn, where: e.where, ms: e.us / 1000, pct: pct(e.us) })),
  };
}

/** Runs `n` small tasks through a profiled flmrun-js and summarizes each thread's profile. */
export async function profileSmallTasks(ctx: BenchContext, input: Buffer, n: number, outDir: string): Promise<ProfileSummary[]> {
  fs.rmSync(outDir, { recursive: true, force: true });
  fs.mkdirSync(outDir, { recursive: true });
  // The diag preload rides along only to name the threads (its own cost is a timer per second).
  const diagFile = path.join(outDir, 'threads.jsonl');
  const c = await flmrunContender(ctx.cacheEndpoint, ctx.logLevel, { cpuProfDir: outDir, diagFile, name: 'flmrun-js-profiled' });
  try {
    for (let i = 0; i < n; i++) await c.invoke(input);
    // The session process is ended by SIGKILL when its session leaves: it writes its profile on SIGUSR2 first.
    const session = withDescendants(c.proc.pid).filter((p) => p !== c.proc.pid);
    for (const p of session) process.kill(p, 'SIGUSR2');
    for (let i = 0; i < 100 && fs.readdirSync(outDir).filter((f) => f.endsWith('.cpuprofile')).length < session.length; i++) await new Promise((r) => setTimeout(r, 100));
  } finally {
    await c.close(); // serve writes its profile as it exits
  }
  const names = new Map<string, string>();
  for (const line of fs.readFileSync(diagFile, 'utf8').trim().split('\n')) {
    const l = JSON.parse(line) as { thread: string; pid: number; tid: number };
    names.set(`${l.pid}.${l.tid}`, l.thread);
  }
  return fs
    .readdirSync(outDir)
    .filter((f) => f.endsWith('.cpuprofile'))
    .map((f) => summarizeProfile(path.join(outDir, f), names))
    .sort((a, b) => b.totalMs - a.totalMs);
}
