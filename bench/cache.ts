/**
 * Object cache (4): put and get of 16 B, 1 MiB and 64 MiB objects against our
 * server (`flmrun-js cache`, its own process) or an external Flight endpoint
 * (`--cache-endpoint grpc://host:port`, e.g. Flame's own object cache), with our
 * client (on its own HTTP/2 client, and on grpc-js for comparison; each in a Node process of its own,
 * bench/cache-client.js) and with pyarrow.flight's (as flamepy uses it; the helper's Python process),
 * taking turns round by round; and
 * loopback TCP bandwidth between two processes in the same run, the floor
 * any gRPC transfer on this machine sits on.
 *
 * Against an external endpoint, pyarrow also takes turns against our embedded
 * server in the same rounds: the two servers side by side with the same client.
 *
 * Besides wall time, every client reports the CPU time of its own process per
 * operation, and each server whose pid is known (ours always; an external one
 * with --cache-pid) the CPU it spent per put + get: on a shared machine wall
 * time mostly measures the wait for a core, CPU time what each side costs.
 *
 * Part of `npm run bench`; alone (after `npx tsc`):
 *   node -r ./bench/register.js bench/cache.ts [--quick] [--cache-endpoint=grpc://host:port [--cache-pid=PID]]
 */
import { fork, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import os from 'node:os';
import { MiB, since, summarize, type Summary } from './stats';
import { SESSION_GLIBC_TUNABLES, YOUNG_GENERATION } from '../src/runner/child-channel';
import { run, startCache } from './procs';

export interface CacheResult {
  /** Object size in bytes. */
  bytes: number;
  op: 'put' | 'get';
  /** Per-operation seconds: our client (its default transport, its own HTTP/2 client), our client on grpc-js, pyarrow.flight. */
  ours: Summary;
  oursGrpcJs: Summary;
  pyarrow: Summary;
  /** CPU seconds of each client's process (all its threads) per operation. */
  cpu: { ours: Summary; oursGrpcJs: Summary; pyarrow: Summary };
  /** pyarrow.flight against our embedded server, in the same rounds, when `server` is an external one. */
  embedded?: { pyarrow: Summary; pyarrowCpu: Summary };
}

/** Server CPU seconds per put + get pair, by client, at one size. */
export interface ServerCpu {
  bytes: number;
  /** The server measured against (`server` of the bench), by client: ours, oursGrpcJs, pyarrow. */
  server?: Record<string, number>;
  /** Our embedded server with pyarrow, when `server` is an external one. */
  embedded?: number;
}

export interface CacheBench {
  /** The server measured against: our embedded one (`flmrun-js cache`) or an external endpoint (--cache-endpoint). */
  server: string;
  results: CacheResult[];
  /** Where the servers' pids were known. */
  serverCpu: ServerCpu[];
  /** Loopback TCP, one stream, MiB/s per transfer of `tcpMiB`. */
  tcp: Summary;
  tcpMiB: number;
  /** Load average (1, 5, 15 min) before and after the section. */
  load: { start: number[]; end: number[] };
}

/** A server the clients are measured against; `pid` (when known) for its CPU time. */
export interface CacheTarget {
  name: string;
  endpoint: string;
  pid?: number;
}

const ROUNDS_FULL = [
  { bytes: 16, rounds: 6, perRound: 100 },
  { bytes: MiB, rounds: 6, perRound: 20 },
  { bytes: 64 * MiB, rounds: 8, perRound: 3 },
];
const ROUNDS_QUICK = [
  { bytes: 16, rounds: 4, perRound: 50 },
  { bytes: MiB, rounds: 2, perRound: 10 },
  { bytes: 64 * MiB, rounds: 2, perRound: 2 },
];

export const sizeLabel = (bytes: number): string => (bytes >= MiB ? `${bytes / MiB} MiB` : `${bytes} B`);

export interface Samples {
  put: number[];
  get: number[];
  putCpu: number[];
  getCpu: number[];
}

export const samples = (): Samples => ({ put: [], get: [], putCpu: [], getCpu: [] });

/** Untimed put + get pairs (size, count) before the measured rounds. */
const WARM_UP: [number, number][] = [
  [16, 300],
  [1 << 20, 10],
];

/**
 * Our client (CacheClient) in a Node process of its own, bench/cache-client.js: as pyarrow's runs in the
 * helper's Python process and a Flame task's in its session process, not in this one (whose heap holds the
 * TypeScript compiler and the bench's results).
 */
export class ClientProcess {
  private next = 0;
  private readonly waiting = new Map<number, (m: Record<string, unknown>) => void>();

  private constructor(private readonly child: ChildProcess) {
    child.on('message', (m: Record<string, unknown>) => {
      const done = this.waiting.get(m.id as number);
      this.waiting.delete(m.id as number);
      done?.(m);
    });
    const fail = (why: string): void => {
      for (const done of this.waiting.values()) done({ error: why });
      this.waiting.clear();
    };
    child.on('exit', (code, signal) => fail(`the client process ended (${signal ?? code})`));
    child.on('error', (err) => fail(`the client process: ${err.message}`));
  }

  /**
   * `env`: the process's environment (default: a session process's glibc setting, as serve gives it, in this one's);
   * `dist`: the build whose client it loads (default: this checkout's dist/).
   */
  static async start(
    endpoint: string,
    transport: 'http2' | 'grpc-js',
    env: NodeJS.ProcessEnv = { ...process.env, GLIBC_TUNABLES: process.env.GLIBC_TUNABLES ?? SESSION_GLIBC_TUNABLES },
    dist?: string,
  ): Promise<ClientProcess> {
    // Not this process's execArgv (its TypeScript loader): a session process's (src/runner/child-channel.ts).
    const child = fork(path.join(__dirname, 'cache-client.js'), [endpoint, transport, ...(dist ? [dist] : [])], { env, execArgv: [...YOUNG_GENERATION], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    try {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`the ${transport} client process was not ready within 60 s`)), 60_000);
        child.once('message', () => (clearTimeout(timer), resolve()));
        child.once('exit', (code, signal) => (clearTimeout(timer), reject(new Error(`the ${transport} client process ended (${signal ?? code}) before it was ready`))));
        child.once('error', (err) => (clearTimeout(timer), reject(err)));
      });
    } catch (err) {
      child.kill();
      throw err;
    }
    return new ClientProcess(child);
  }

  private call(m: Record<string, unknown>): Promise<Record<string, unknown>> {
    const id = this.next++;
    return new Promise((resolve, reject) => {
      this.waiting.set(id, (r) => (r.error === undefined ? resolve(r) : reject(new Error(String(r.error)))));
      if (!this.child.connected) return this.waiting.get(id)!({ error: 'the client process is gone' });
      this.child.send({ id, ...m }, (err) => err && this.waiting.get(id)?.({ error: `cannot reach the client process: ${err.message}` }));
    });
  }

  /** n put + get pairs of `size` bytes (of 7, or the bytes of `file`), appended to `s`. */
  async run(size: number, n: number, s: Samples, file?: string): Promise<void> {
    const r = (await this.call({ op: 'run', size, n, file })) as unknown as Samples;
    s.put.push(...r.put);
    s.get.push(...r.get);
    s.putCpu.push(...r.putCpu);
    s.getCpu.push(...r.getCpu);
  }

  delete(pattern: string): Promise<unknown> {
    return this.call({ op: 'delete', pattern });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /** Disconnects (the process then ends); resolves once it has exited. */
  close(): Promise<void> {
    const exited = this.child.exitCode !== null || this.child.signalCode !== null ? Promise.resolve() : new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    if (this.child.connected) this.child.disconnect();
    return exited;
  }
}

/** n put + get pairs of pyarrow.flight (the helper's process) of `size` bytes (of 7, or the bytes of `file`), appended to `s`. */
export async function pyarrow(python: string, helper: string, endpoint: string, size: number, n: number, s: Samples, file?: string): Promise<void> {
  const res = JSON.parse(await run(python, [helper, 'cache', endpoint, String(size), String(n), ...(file ? [file] : [])])) as { put: number[]; get: number[]; put_cpu: number[]; get_cpu: number[] };
  s.put.push(...res.put);
  s.get.push(...res.get);
  s.putCpu.push(...res.put_cpu);
  s.getCpu.push(...res.get_cpu);
}

const TICKS_PER_SECOND = 100; // USER_HZ: what /proc/<pid>/stat counts in on Linux

/** CPU seconds a process has used (all threads), from /proc; undefined when it cannot be read. */
export function processCpu(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (in parentheses, which may hold spaces): utime and stime are fields 14 and 15.
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / TICKS_PER_SECOND;
  } catch {
    return undefined;
  }
}

export const loadAverage = (): number[] => os.loadavg().map((x) => Math.round(x * 100) / 100);

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
 * Our client on each transport and pyarrow's against `target`, taking turns round by round (the order
 * rotates), so that drift in the machine's load hits them alike; with `embedded` (when `target` is an
 * external server), pyarrow against our embedded server takes its turns in the same rounds.
 */
export async function benchCache(python: string, helper: string, target: CacheTarget, quick: boolean, embedded?: CacheTarget): Promise<CacheBench> {
  const load = { start: loadAverage(), end: [] as number[] };
  const results: CacheResult[] = [];
  const serverCpu: ServerCpu[] = [];
  const started: ClientProcess[] = [];
  const start = async (transport: 'http2' | 'grpc-js'): Promise<ClientProcess> => {
    const c = await ClientProcess.start(target.endpoint, transport);
    started.push(c);
    return c;
  };
  try {
    const clients = { http2: await start('http2'), grpcJs: await start('grpc-js') };
    // Warm-up, not counted: the channels, and the JIT of our client and of a Node server (a fresh Node process spends its
    // first few hundred calls compiling; Flame's server and pyarrow's client are compiled code and have no such phase).
    for (const c of Object.values(clients)) for (const [size, n] of WARM_UP) await c.run(size, n, samples());
    for (const server of embedded ? [target, embedded] : [target]) for (const [size, n] of WARM_UP) await pyarrow(python, helper, server.endpoint, size, n, samples());
    for (const { bytes, rounds, perRound } of quick ? ROUNDS_QUICK : ROUNDS_FULL) {
      const t = { ours: samples(), oursGrpcJs: samples(), pyarrow: samples(), embedded: samples() };
      const cpu: Record<string, { target?: CacheTarget; seconds: number; pairs: number }> = {};
      /** One turn of one client, with the CPU its server spent meanwhile. */
      const turn =
        (name: string, server: CacheTarget, go: () => Promise<void>) =>
        async (): Promise<void> => {
          const before = processCpu(server.pid);
          await go();
          const after = processCpu(server.pid);
          if (before === undefined || after === undefined) return;
          const acc = (cpu[name] ??= { target: server, seconds: 0, pairs: 0 });
          acc.seconds += after - before;
          acc.pairs += perRound;
        };
      const turns: (() => Promise<void>)[] = [
        turn('ours', target, () => clients.http2.run(bytes, perRound, t.ours)),
        turn('pyarrow', target, () => pyarrow(python, helper, target.endpoint, bytes, perRound, t.pyarrow)),
        turn('oursGrpcJs', target, () => clients.grpcJs.run(bytes, perRound, t.oursGrpcJs)),
        ...(embedded ? [turn('embedded', embedded, () => pyarrow(python, helper, embedded.endpoint, bytes, perRound, t.embedded))] : []),
      ];
      for (let r = 0; r < rounds; r++) for (let i = 0; i < turns.length; i++) await turns[(i + r) % turns.length]!();
      for (const op of ['put', 'get'] as const) {
        const cpuOp = `${op}Cpu` as const;
        results.push({
          bytes,
          op,
          ours: summarize(t.ours[op]),
          oursGrpcJs: summarize(t.oursGrpcJs[op]),
          pyarrow: summarize(t.pyarrow[op]),
          cpu: { ours: summarize(t.ours[cpuOp]), oursGrpcJs: summarize(t.oursGrpcJs[cpuOp]), pyarrow: summarize(t.pyarrow[cpuOp]) },
          ...(embedded ? { embedded: { pyarrow: summarize(t.embedded[op]), pyarrowCpu: summarize(t.embedded[cpuOp]) } } : {}),
        });
      }
      const perPair = (k: string): number | undefined => (cpu[k] ? cpu[k].seconds / cpu[k].pairs : undefined);
      const onTarget = Object.fromEntries(['ours', 'oursGrpcJs', 'pyarrow'].flatMap((k) => (perPair(k) === undefined ? [] : [[k, perPair(k)!]])));
      serverCpu.push({ bytes, ...(Object.keys(onTarget).length ? { server: onTarget } : {}), ...(perPair('embedded') !== undefined ? { embedded: perPair('embedded') } : {}) });
    }
    await clients.http2.delete('bench/*');
  } finally {
    await Promise.all(started.map((c) => c.close()));
  }
  const tcpMiB = 256;
  const tcp = await loopbackTcp(tcpMiB, quick ? 3 : 8);
  load.end = loadAverage();
  return { server: target.name, results, serverCpu, tcp, tcpMiB, load };
}

/** Prints a CacheBench as text tables (the standalone run; `npm run bench` writes docs/benchmarks.md). */
export function printCache(r: CacheBench, out: (line: string) => void = console.log): void {
  const ms = (x: number | undefined, w = 9): string => (x === undefined ? '-' : (x * 1000).toFixed(3)).padStart(w);
  out(`server: ${r.server}; load average ${r.load.start.join(' ')} at the start, ${r.load.end.join(' ')} at the end (${os.cpus().length} cores)`);
  out('p50 wall ms per op, and p50 CPU ms of the client process per op');
  const emb = r.results.some((x) => x.embedded);
  out(
    `size     op   ${'ours'.padStart(9)} ${'grpc-js'.padStart(9)} ${'pyarrow'.padStart(9)}  py/ours  | cpu: ${'ours'.padStart(9)} ${'grpc-js'.padStart(9)} ${'pyarrow'.padStart(9)}  py/ours` +
      (emb ? `  | pyarrow vs embedded: wall ${'ms'.padStart(9)}  emb/server` : ''),
  );
  for (const x of r.results) {
    out(
      `${sizeLabel(x.bytes).padEnd(7)}  ${x.op}  ${ms(x.ours.p50)} ${ms(x.oursGrpcJs.p50)} ${ms(x.pyarrow.p50)}  ${(x.pyarrow.p50 / x.ours.p50).toFixed(2).padStart(7)}  |      ` +
        `${ms(x.cpu.ours.p50)} ${ms(x.cpu.oursGrpcJs.p50)} ${ms(x.cpu.pyarrow.p50)}  ${(x.cpu.pyarrow.p50 / x.cpu.ours.p50).toFixed(2).padStart(7)}` +
        (x.embedded ? `  |                      ${ms(x.embedded.pyarrow.p50)}  ${(x.embedded.pyarrow.p50 / x.pyarrow.p50).toFixed(2).padStart(10)}` : ''),
    );
  }
  if (r.serverCpu.some((s) => s.server || s.embedded !== undefined)) {
    out('server CPU ms per put + get (whole process, /proc)');
    for (const s of r.serverCpu) {
      const parts = Object.entries(s.server ?? {}).map(([k, v]) => `${r.server} with ${k}: ${ms(v, 0)}`);
      if (s.embedded !== undefined) parts.push(`embedded with pyarrow: ${ms(s.embedded, 0)}`);
      out(`${sizeLabel(s.bytes).padEnd(7)}  ${parts.join('; ')}`);
    }
  }
  out(`loopback TCP ${r.tcp.p50.toFixed(0)} MiB/s`);
}

async function main(): Promise<void> {
  const { benchPython, HELPER } = await import('./python');
  const arg = (name: string): string | undefined => process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
  const external = arg('cache-endpoint');
  const pid = arg('cache-pid');
  const cache = await startCache();
  try {
    const ourServer: CacheTarget = { name: 'flmrun-js cache (embedded)', endpoint: cache.endpoint, pid: cache.pid };
    const r = external
      ? await benchCache(await benchPython(), HELPER, { name: external, endpoint: external, pid: pid ? Number(pid) : undefined }, process.argv.includes('--quick'), ourServer)
      : await benchCache(await benchPython(), HELPER, ourServer, process.argv.includes('--quick'));
    printCache(r);
  } finally {
    await cache.stop();
  }
}

if (require.main === module) void main();
