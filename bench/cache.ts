/**
 * Object cache (4): put and get of 16 B, 1 MiB and 64 MiB objects against our
 * server (`flmrun-js cache`, its own process) or an external Flight endpoint
 * (`--cache-endpoint grpc://host:port`, e.g. Flame's own object cache), with our
 * client (on node:http2, and on grpc-js for comparison) and with pyarrow.flight's
 * (as flamepy uses it), taking turns round by round; and
 * loopback TCP bandwidth between two processes in the same run, the floor
 * any gRPC transfer on this machine sits on.
 *
 * Part of `npm run bench`; alone (after `npx tsc`):
 *   node -r ./bench/register.js bench/cache.ts [--quick] [--cache-endpoint=grpc://host:port]
 */
import { spawn } from 'node:child_process';
import net from 'node:net';
import { CacheClient } from '../src/cache/client';
import { MiB, since, summarize, type Summary } from './stats';
import { run, startCache } from './procs';

export interface CacheResult {
  /** Object size in bytes. */
  bytes: number;
  op: 'put' | 'get';
  /** Per-operation seconds: our client (its default transport, node:http2), our client on grpc-js, pyarrow.flight. */
  ours: Summary;
  oursGrpcJs: Summary;
  pyarrow: Summary;
}

export interface CacheBench {
  /** The server measured against: our embedded one (`flmrun-js cache`) or an external endpoint (--cache-endpoint). */
  server: string;
  results: CacheResult[];
  /** Loopback TCP, one stream, MiB/s per transfer of `tcpMiB`. */
  tcp: Summary;
  tcpMiB: number;
}

const ROUNDS_FULL = [
  { bytes: 16, rounds: 6, perRound: 100 },
  { bytes: MiB, rounds: 6, perRound: 20 },
  { bytes: 64 * MiB, rounds: 4, perRound: 3 },
];
const ROUNDS_QUICK = [
  { bytes: 16, rounds: 4, perRound: 50 },
  { bytes: MiB, rounds: 2, perRound: 10 },
  { bytes: 64 * MiB, rounds: 2, perRound: 2 },
];

export const sizeLabel = (bytes: number): string => (bytes >= MiB ? `${bytes / MiB} MiB` : `${bytes} B`);

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

/**
 * Our client on each transport and pyarrow's, taking turns round by round (the order rotates), so that
 * drift in the machine's load hits them alike. `serverName` says which server `endpoint` is.
 */
export async function benchCache(python: string, helper: string, endpoint: string, quick: boolean, serverName = 'flmrun-js cache (embedded)'): Promise<CacheBench> {
  const clients = {
    http2: new CacheClient({ endpoint, lruEntries: 0, deadlineMs: 600_000 }),
    grpcJs: new CacheClient({ endpoint, lruEntries: 0, deadlineMs: 600_000, transport: 'grpc-js' }),
  };
  const results: CacheResult[] = [];
  try {
    for (const c of Object.values(clients)) await c.get(await c.put('bench/warm', Buffer.alloc(1024))); // channel, JIT
    for (const { bytes, rounds, perRound } of quick ? ROUNDS_QUICK : ROUNDS_FULL) {
      const t = { ours: { put: [] as number[], get: [] as number[] }, oursGrpcJs: { put: [] as number[], get: [] as number[] }, pyarrow: { put: [] as number[], get: [] as number[] } };
      const turns: (() => Promise<void>)[] = [
        () => ours(clients.http2, bytes, perRound, t.ours.put, t.ours.get),
        async () => {
          const res = JSON.parse(await run(python, [helper, 'cache', endpoint, String(bytes), String(perRound)])) as { put: number[]; get: number[] };
          t.pyarrow.put.push(...res.put);
          t.pyarrow.get.push(...res.get);
        },
        () => ours(clients.grpcJs, bytes, perRound, t.oursGrpcJs.put, t.oursGrpcJs.get),
      ];
      for (let r = 0; r < rounds; r++) for (let i = 0; i < turns.length; i++) await turns[(i + r) % turns.length]!();
      for (const op of ['put', 'get'] as const) {
        results.push({ bytes, op, ours: summarize(t.ours[op]), oursGrpcJs: summarize(t.oursGrpcJs[op]), pyarrow: summarize(t.pyarrow[op]) });
      }
    }
    await clients.http2.delete('bench/*');
  } finally {
    for (const c of Object.values(clients)) c.close();
  }
  const tcpMiB = 256;
  return { server: serverName, results, tcp: await loopbackTcp(tcpMiB, quick ? 3 : 8), tcpMiB };
}

async function main(): Promise<void> {
  const { benchPython, HELPER } = await import('./python');
  const external = process.argv.find((a) => a.startsWith('--cache-endpoint='))?.slice('--cache-endpoint='.length);
  const cache = external ? undefined : await startCache();
  try {
    const r = await benchCache(await benchPython(), HELPER, external ?? cache!.endpoint, process.argv.includes('--quick'), external ?? undefined);
    console.log(`server: ${r.server}`);
    console.log('size      op   ours(http2) ms  ours(grpc-js) ms  pyarrow ms  pyarrow/ours');
    for (const x of r.results) {
      const ms = (s: Summary): string => (s.p50 * 1000).toFixed(3).padStart(14);
      console.log(`${sizeLabel(x.bytes).padEnd(8)}  ${x.op}  ${ms(x.ours)}  ${ms(x.oursGrpcJs)}  ${ms(x.pyarrow)}  ${(x.pyarrow.p50 / x.ours.p50).toFixed(2)}`);
    }
    console.log(`loopback TCP ${r.tcp.p50.toFixed(0)} MiB/s`);
  } finally {
    await cache?.stop();
  }
}

if (require.main === module) void main();
