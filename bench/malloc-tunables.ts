/**
 * What glibc's malloc tunables save our cache client on 64 MiB puts and gets,
 * and what they cost it in memory. Variants:
 *   default  GLIBC_TUNABLES unset
 *   hugetlb  `glibc.malloc.hugetlb=1` (transparent huge pages for malloc: what
 *            serve starts its session processes with, src/runner/child-channel.ts)
 *   reuse    hugetlb, plus mmap and trim thresholds of 128 MiB: a freed block of
 *            up to 128 MiB stays in the heap for the next one instead of going
 *            back to the kernel (README, "Large buffers": an opt-in, not a default)
 * Each round starts one client process per variant (bench/cache-client.js on the
 * build, as the cache section of `npm run bench` runs it; run `npm run build`
 * first), the variants taking turns, against one embedded cache server in this
 * process or the Flight server at `--endpoint` (e.g. Flame's object cache, which
 * answers gets ZSTD-compressed). After the cache section's warm-up, each process
 * makes OPS put + get pairs of 64 MiB: CPU time per operation (the fair figure
 * on a shared machine) and wall time, medians, then its peak RSS (VmHWM) and its
 * RSS after them; the table gives the medians over the rounds.
 *
 *   node -r ./bench/register.js bench/malloc-tunables.ts [--rounds N] [--endpoint grpc://host:port]
 */
import fs from 'node:fs';
import { parseArgs } from 'node:util';
import { CacheServer } from '../src/cache/server/cache-server';
import { ClientProcess } from './cache';
import { loadAverage } from './machine';

const MIB64 = 64 * 1024 * 1024;
/** 64 MiB put + get pairs per process, after its warm-up. */
const OPS = 6;
const VARIANTS = {
  default: undefined,
  hugetlb: 'glibc.malloc.hugetlb=1',
  reuse: 'glibc.malloc.hugetlb=1:glibc.malloc.mmap_threshold=134217728:glibc.malloc.trim_threshold=134217728',
} as const;
type Variant = keyof typeof VARIANTS;

interface Figures {
  put: number;
  putWall: number;
  get: number;
  getWall: number;
  /** MiB: the client process's VmHWM after the operations, and its VmRSS. */
  peakRss: number;
  rss: number;
}

function statusMiB(pid: number, field: 'VmHWM' | 'VmRSS'): number {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;

/** One client process (bench/cache-client.js, the build, as the cache section runs it) with `tunables`: its medians. */
async function measure(endpoint: string, tunables: string | undefined): Promise<Figures> {
  const env = { ...process.env };
  if (tunables === undefined) delete env.GLIBC_TUNABLES;
  else env.GLIBC_TUNABLES = tunables;
  const client = await ClientProcess.start(endpoint, 'http2', env);
  try {
    // Warm-up as in the cache section (code compiled, connection open), then one 64 MiB pair: not counted.
    const s = { put: [] as number[], get: [] as number[], putCpu: [] as number[], getCpu: [] as number[] };
    await client.run(16, 300, s);
    await client.run(1024 * 1024, 10, s);
    await client.run(MIB64, 1, s);
    const m = { put: [] as number[], get: [] as number[], putCpu: [] as number[], getCpu: [] as number[] };
    await client.run(MIB64, OPS, m);
    const ms = (xs: number[]): number => median(xs) * 1000;
    const pid = client.pid!;
    return { put: ms(m.putCpu), putWall: ms(m.put), get: ms(m.getCpu), getWall: ms(m.get), peakRss: statusMiB(pid, 'VmHWM'), rss: statusMiB(pid, 'VmRSS') };
  } finally {
    await client.close();
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({ args: process.argv.slice(2), options: { rounds: { type: 'string' }, endpoint: { type: 'string' } } });
  const rounds = Number(values.rounds ?? 4);
  const server = values.endpoint ? undefined : new CacheServer({ maxMemoryBytes: 2 * 1024 ** 3 });
  const endpoint = values.endpoint ?? (await server!.start());
  const load0 = loadAverage();
  const names = Object.keys(VARIANTS) as Variant[];
  const runs = Object.fromEntries(names.map((n) => [n, [] as Figures[]])) as Record<Variant, Figures[]>;
  try {
    for (let r = 0; r < rounds; r++) {
      for (let i = 0; i < names.length; i++) {
        const variant = names[(i + r) % names.length]!;
        runs[variant].push(await measure(endpoint, VARIANTS[variant]));
      }
    }
  } finally {
    await server?.close();
  }
  process.stdout.write(`${endpoint}${server ? ' (embedded)' : ''}; load average start ${load0.join(' / ')}, end ${loadAverage().join(' / ')}; ${rounds} rounds x ${OPS} ops of 64 MiB\n`);
  process.stdout.write('variant  | put CPU ms | put wall ms | get CPU ms | get wall ms | peak RSS MiB | RSS after MiB\n');
  for (const name of names) {
    const m = (k: keyof Figures, w: number): string => median(runs[name].map((f) => f[k])).toFixed(1).padStart(w);
    process.stdout.write(`${name.padEnd(8)} | ${m('put', 10)} | ${m('putWall', 11)} | ${m('get', 10)} | ${m('getWall', 11)} | ${m('peakRss', 12)} | ${m('rss', 13)}\n`);
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`malloc-tunables failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
