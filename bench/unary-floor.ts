/**
 * What the HTTP/2 server stack under the Instance service costs per small task, as Flame's executor manager
 * (a gRPC C-core client) sees it: Python grpcio drives unary OnTaskInvoke calls on a Unix socket, and each
 * server (bench/unary-floor-server.js, one process each) answers at once with the bytes flmrun-js answers a
 * small task with (a TaskResult carrying an encoded ObjectRef). Stacks: grpc-js (what serve runs on),
 * node:http2 alone, and a minimal HTTP/2 answerer over node:net (no HPACK decoding, no limits: the least
 * any server in Node can cost), once with its trailers in the same write as the answer and once a loop turn
 * later, as node:http2 sends them. Blocks of calls take turns; p50 over all calls, CPU per call from /proc.
 *
 *   node -r ./bench/register.js bench/unary-floor.ts [ROUNDS] [N]
 *
 * Run it with another Node (e.g. .test-node/24/package/bin/node) to measure that line's servers.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { encodeObjectRef } from '../src/wire/object-ref';
import { SERVER_CHANNEL_OPTIONS } from '../src/service/server';
import { benchPython, HELPER } from './python';
import { loadAverage } from './machine';
import { summarize } from './stats';

const MODES = ['grpc-js', 'node-http2', 'minimal', 'minimal-split'] as const;
const TICK_MS = 1000 / 100; // USER_HZ

function cpuMs(pid: number): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) * TICK_MS;
}

/** TaskResult { output = 2: the ObjectRef's bytes } (return_code 0 is the default, not sent). */
function taskResult(): Buffer {
  const output = encodeObjectRef({ endpoint: 'grpc://127.0.0.1:40000', key: 'bench/6f1c2a52-0d8e-4a53-9d1e-2f7b3c4d5e6f/1', version: 1 });
  if (output.length > 127) throw new Error('one-byte length expected');
  return Buffer.concat([Buffer.from([0x12, output.length]), output]);
}

async function startServer(dir: string, mode: string, answer: Buffer): Promise<{ mode: string; socket: string; proc: ChildProcess }> {
  const socket = path.join(dir, `${mode}.sock`);
  const proc = spawn(process.execPath, [path.join(__dirname, 'unary-floor-server.js'), socket, mode, answer.toString('hex'), JSON.stringify(SERVER_CHANNEL_OPTIONS)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const line = await createInterface({ input: proc.stdout! })[Symbol.asyncIterator]().next();
  if (line.value !== 'ready') throw new Error(`${mode}: server did not start`);
  return { mode, socket, proc };
}

async function main(): Promise<void> {
  const rounds = Number(process.argv[2] ?? 8);
  const n = Number(process.argv[3] ?? 2000);
  const python = await benchPython();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'flmrun-unary-floor-'));
  const answer = taskResult();
  const servers = await Promise.all(MODES.map((m) => startServer(dir, m, answer)));
  // The driver sends this input as the TaskContext's bytes; the servers do not read it.
  const driver = spawn(python, [HELPER, 'drive', Buffer.alloc(120, 1).toString('hex')], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = createInterface({ input: driver.stdout! })[Symbol.asyncIterator]();
  const block = async (socket: string, count: number): Promise<number[]> => {
    driver.stdin!.write(`${socket} unary-floor ${count}\n`);
    const line = await lines.next();
    if (line.done) throw new Error('driver closed');
    return JSON.parse(line.value) as number[];
  };
  const load0 = loadAverage();
  const acc = new Map(servers.map((s) => [s.mode, { lat: [] as number[], cpu: 0, driverCpu: 0 }]));
  try {
    for (const s of servers) await block(s.socket, 500);
    for (let r = 0; r < rounds; r++) {
      for (const s of r % 2 ? [...servers].reverse() : servers) {
        const a = acc.get(s.mode)!;
        const [c0, d0] = [cpuMs(s.proc.pid!), cpuMs(driver.pid!)];
        a.lat.push(...(await block(s.socket, n)));
        a.cpu += cpuMs(s.proc.pid!) - c0;
        a.driverCpu += cpuMs(driver.pid!) - d0;
      }
    }
  } finally {
    driver.stdin!.end();
    driver.kill();
    for (const s of servers) s.proc.kill();
    fs.rmSync(dir, { recursive: true, force: true });
  }
  const base = summarize(acc.get('grpc-js')!.lat).p50;
  process.stdout.write(`Node ${process.version}; load average start ${load0.join(' / ')}, end ${loadAverage().join(' / ')}; ${rounds} x ${n} calls per server\n`);
  process.stdout.write('| server | p50 ms | p99 ms | p50 vs grpc-js | server CPU us/call | driver CPU us/call |\n|---|---|---|---|---|---|\n');
  for (const [mode, a] of acc) {
    const s = summarize(a.lat);
    const per = (ms: number): string => ((ms * 1000) / a.lat.length).toFixed(0);
    process.stdout.write(`| ${mode} | ${s.p50.toFixed(3)} | ${s.p99.toFixed(3)} | ${(s.p50 / base).toFixed(2)}x | ${per(a.cpu)} | ${per(a.driverCpu)} |\n`);
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`unary-floor failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
