/**
 * What glibc's `glibc.malloc.hugetlb=1` (transparent huge pages for malloc,
 * which the session process is started with: src/runner/child-channel.ts)
 * saves a process that makes a 64 MiB result and puts it, and that gets one:
 * a process per round, with and without the tunable in turns, against one
 * embedded cache server in this process. CPU time per operation (the fair
 * figure on a shared machine) and wall time, medians over the rounds.
 *
 *   node -r ./bench/register.js bench/huge-pages.ts [ROUNDS]
 */
import { fork } from 'node:child_process';
import { CacheClient } from '../src/cache/client';
import { CacheServer } from '../src/cache/server/cache-server';
import { encodeValue } from '../src/codecs/values';
import { loadAverage } from './machine';

const MIB64 = 64 * 1024 * 1024;
const OPS = 8;
const TUNABLE = 'glibc.malloc.hugetlb=1';

interface Figures {
  put: number;
  putWall: number;
  get: number;
  getWall: number;
}

async function child(endpoint: string): Promise<void> {
  const client = new CacheClient({ endpoint, lruEntries: 0 });
  let put = 0;
  let putWall = 0;
  // The first put is a warm-up (code compiled, connection opened): not counted.
  for (let i = 0; i <= OPS; i++) {
    const u0 = process.cpuUsage();
    const t0 = performance.now();
    const ref = await client.put('bench/huge-pages', encodeValue(Buffer.alloc(MIB64, i + 1)));
    const u = process.cpuUsage(u0);
    if (i > 0) {
      put += (u.user + u.system) / 1000;
      putWall += performance.now() - t0;
    }
    await client.delete(ref.key);
  }
  const ref = await client.put('bench/huge-pages', encodeValue(Buffer.alloc(MIB64, 7)));
  const g0 = process.cpuUsage();
  const t0 = performance.now();
  for (let i = 0; i < OPS; i++) await client.get(ref);
  const g = process.cpuUsage(g0);
  const figures: Figures = { put: put / OPS, putWall: putWall / OPS, get: (g.user + g.system) / 1000 / OPS, getWall: (performance.now() - t0) / OPS };
  client.close();
  process.send!(figures);
}

async function main(): Promise<void> {
  const rounds = Number(process.argv[2] ?? 4);
  const server = new CacheServer({ maxMemoryBytes: 2 * 1024 ** 3 });
  const endpoint = await server.start();
  const load0 = loadAverage();
  const runs: Record<'default' | 'hugetlb', Figures[]> = { default: [], hugetlb: [] };
  try {
    for (let r = 0; r < rounds; r++) {
      for (const variant of r % 2 ? (['hugetlb', 'default'] as const) : (['default', 'hugetlb'] as const)) {
        const env = { ...process.env };
        if (variant === 'hugetlb') env.GLIBC_TUNABLES = TUNABLE;
        else delete env.GLIBC_TUNABLES;
        const proc = fork(__filename, ['child', endpoint], { env, execArgv: process.execArgv });
        const figures = await new Promise<Figures>((resolve, reject) => {
          proc.once('message', (m) => resolve(m as Figures));
          proc.once('exit', (code) => reject(new Error(`the measuring process exited (${code}) before its figures`)));
        });
        await new Promise((r) => proc.once('exit', r));
        runs[variant].push(figures);
      }
    }
  } finally {
    await server.close();
  }
  const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
  process.stdout.write(`load average start ${load0.join(' / ')}, end ${loadAverage().join(' / ')}; ${rounds} rounds x ${OPS} ops of 64 MiB\n`);
  process.stdout.write('variant  | put CPU ms | put wall ms | get CPU ms | get wall ms\n');
  for (const [name, fs] of Object.entries(runs)) {
    const m = (k: keyof Figures): string => median(fs.map((f) => f[k])).toFixed(1).padStart(10);
    process.stdout.write(`${name.padEnd(8)} | ${m('put')} | ${m('putWall')}  | ${m('get')} | ${m('getWall')}\n`);
  }
}

const run = process.argv[2] === 'child' ? child(process.argv[3]!) : main();
run.catch((err: unknown) => {
  process.stderr.write(`huge-pages failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
