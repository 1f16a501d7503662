/**
 * Object cache (4): put and get of 1 MiB and 64 MiB objects against our
 * server (`flmrun-js cache`, its own process), with our client and with
 * pyarrow.flight's (as flamepy uses it), taking turns round by round; and
 * loopback TCP bandwidth between two processes in the same run, the floor
 * any gRPC transfer on this machine sits on.
 *
 * Part of `npm run bench`; alone (after `npx tsc`):
 *   node -r ./bench/register.js bench/cache.ts [--quick]
 */
import { spawn } from 'node:child_process';
import net from 'node:net';
import { CacheClient } from '../src/cache/client';
import { MiB, since, summarize, type Summary } from './stats';
import { run, startCache } from './procs';

export interface CacheResult {
  sizeMiB: number;
  op: 'put' | 'get';
  /** Per-operation seconds. */
  ours: Summary;
  pyarrow: Summary;
}

export interface CacheBench {
  results: CacheResult[];
  /** Loopback TCP, one stream, MiB/s per transfer of `tcpMiB`. */
  tcp: Summary;
  tcpMiB: number;
}

const ROUNDS_FULL = [
  { mib: 1, rounds: 6, perRound: 20 },
  { mib: 64, rounds: 4, perRound: 3 },
];
const ROUNDS_QUICK = [
  { mib: 1, rounds: 2, perRound: 10 },
  { mib: 64, rounds: 2, perRound: 1 },
];

async function ours(client: CacheClient, size: number, n: number, puts: number[], gets: number[]): Promise<void> {
  const payload = Buffer.alloc(size, 7);
  for (let i = 0; i < n; i++) {
    let t = process.hrtime.bigint();
    const ref = await client.put('bench/ours', payload);
    puts.push(since(t));
    t = process.hrtime.bigint();
    await client.get({ ...ref, version: 0 });
    gets.push(since(t));
  }
  await client.delete('bench/*');
}

/** A sink process on loopback; each transfer is `mib` MiB written by us and one byte of acknowledgement back. */
async function loopbackTcp(mib: number, reps: number): Promise<Summary> {
  const SINK = `const net=require('net');const total=${mib * MiB};net.createServer(s=>{let got=0;s.on('data',d=>{got+=d.length;while(got>=total){got-=total;s.write('k');}});}).listen(0,'127.0.0.1',function(){process.stdout.write(this.address().port+'\\n');});`;
  const sink = spawn(process.execPath, ['-e', SINK], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    const port = Number(await new Promise<string>((r) => sink.stdout!.once('data', (d: Buffer) => r(d.toString()))));
    const sock = net.connect(port, '127.0.0.1');
    await new Promise((r) => sock.once('connect', r));
    const chunk = Buffer.alloc(MiB, 1);
    const once = async (): Promise<number> => {
      const acked = new Promise((r) => sock.once('data', r));
      const t = process.hrtime.bigint();
      for (let i = 0; i < mib; i++) if (!sock.write(chunk)) await new Promise((r) => sock.once('drain', r));
      await acked;
      return mib / since(t);
    };
    await once();
    const rates: number[] = [];
    for (let i = 0; i < reps; i++) rates.push(await once());
    sock.destroy();
    return summarize(rates);
  } finally {
    sink.kill();
  }
}

export async function benchCache(python: string, helper: string, endpoint: string, quick: boolean): Promise<CacheBench> {
  const client = new CacheClient({ endpoint, lruEntries: 0, deadlineMs: 600_000 });
  const results: CacheResult[] = [];
  try {
    await client.get(await client.put('bench/warm', Buffer.alloc(1024))); // channel, JIT
    for (const { mib, rounds, perRound } of quick ? ROUNDS_QUICK : ROUNDS_FULL) {
      const o = { put: [] as number[], get: [] as number[] };
      const p = { put: [] as number[], get: [] as number[] };
      for (let r = 0; r < rounds; r++) {
        const py = async (): Promise<void> => {
          const res = JSON.parse(await run(python, [helper, 'cache', endpoint, String(mib * MiB), String(perRound)])) as { put: number[]; get: number[] };
          p.put.push(...res.put);
          p.get.push(...res.get);
        };
        if (r % 2 === 0) {
          await ours(client, mib * MiB, perRound, o.put, o.get);
          await py();
        } else {
          await py();
          await ours(client, mib * MiB, perRound, o.put, o.get);
        }
      }
      for (const op of ['put', 'get'] as const) results.push({ sizeMiB: mib, op, ours: summarize(o[op]), pyarrow: summarize(p[op]) });
    }
    await client.delete('bench/*');
  } finally {
    client.close();
  }
  const tcpMiB = 256;
  return { results, tcp: await loopbackTcp(tcpMiB, quick ? 3 : 8), tcpMiB };
}

async function main(): Promise<void> {
  const { benchPython, HELPER } = await import('./python');
  const cache = await startCache();
  try {
    const r = await benchCache(await benchPython(), HELPER, cache.endpoint, process.argv.includes('--quick'));
    console.log('size     op   ours MiB/s  pyarrow MiB/s  ratio');
    for (const x of r.results) {
      const a = x.sizeMiB / x.ours.p50;
      const b = x.sizeMiB / x.pyarrow.p50;
      console.log(`${String(x.sizeMiB).padStart(3)} MiB  ${x.op}  ${a.toFixed(0).padStart(10)}  ${b.toFixed(0).padStart(13)}  ${(a / b).toFixed(2)}`);
    }
    console.log(`loopback TCP ${r.tcp.p50.toFixed(0)} MiB/s`);
  } finally {
    await cache.stop();
  }
}

if (require.main === module) void main();
