/**
 * Memory of the embedded cache server under the abusive clients of issue 11
 * (items 7-9): the server runs in a child process built from `--dist DIR`
 * (default ./dist; point it at an older build to compare), the clients here.
 * Reports the child's RSS before and its peak (VmHWM) after each scenario.
 *
 *   node -r ./bench/register.js bench/cache-server-rss.ts [--dist DIR] [--only puts,headers,readers,stored]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { tableFromArrays, tableToIPC } from 'apache-arrow';
import { flightClientConstructor, UNLIMITED_MESSAGES, type FlightServiceClient } from '../src/cache/flight';
import type { OutgoingFlightData } from '../src/cache/flight-data';
import { encodeRow, PUT_SCHEMA_HEADER } from '../src/cache/opaque';
import { arrowPutMessages } from '../src/cache/put-messages';

const MiB = 1024 * 1024;
const args = process.argv.slice(2);
const arg = (name: string): string | undefined => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const dist = path.resolve(arg('--dist') ?? 'dist');
const only = arg('--only')?.split(',');

const CHILD = `
const dist = process.argv[1];
let mod;
try { mod = require(dist + '/cache/server/cache-server.js'); } catch { mod = require(dist + '/cache/server.js'); }
const server = new mod.CacheServer({ port: 0, maxMemoryBytes: Number(process.argv[2]), storageDir: process.argv[3] || undefined });
server.start().then((e) => process.stdout.write(e + '\\n'));
setInterval(() => undefined, 1 << 30);
`;

function status(pid: number, field: string): number {
  const line = fs.readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith(field));
  return Number(line?.split(/\s+/)[1] ?? 0) * 1024;
}

async function startChild(maxMemory: number, storage?: string): Promise<{ child: ChildProcess; endpoint: string }> {
  const child = spawn(process.execPath, ['-e', CHILD, dist, String(maxMemory), storage ?? ''], { stdio: ['ignore', 'pipe', 'inherit'] });
  const endpoint = await new Promise<string>((resolve) => child.stdout!.once('data', (d: Buffer) => resolve(d.toString().trim())));
  return { child, endpoint };
}

const client = (endpoint: string): FlightServiceClient =>
  new (flightClientConstructor())(endpoint.replace(/^grpc:\/\//, ''), grpc.credentials.createInsecure(), { ...UNLIMITED_MESSAGES });

const row = (n: number): OutgoingFlightData => {
  const r = encodeRow(0, undefined, [Buffer.alloc(n, 1)]);
  return { data_header: r.header, data_body: r.body };
};

/** Writes `messages` on a DoPut; ends it unless `hold`; resolves when written (or refused). */
function put(c: FlightServiceClient, messages: Iterable<OutgoingFlightData>, hold: boolean): { done: Promise<string>; call: grpc.ClientDuplexStream<OutgoingFlightData, unknown> } {
  const call = c.DoPut(new grpc.Metadata(), {});
  const done = new Promise<string>((resolve) => {
    call.on('error', (e: grpc.ServiceError) => resolve(grpc.status[e.code] ?? String(e.code)));
    call.on('data', () => undefined);
    call.on('status', (s: grpc.StatusObject) => s.code === grpc.status.OK && resolve('OK'));
    void (async () => {
      for (const m of messages) {
        if (!call.write(m)) await new Promise((r) => call.once('drain', r));
      }
      if (hold) resolve('held open');
      else call.end();
    })();
  });
  return { done, call };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const mib = (n: number) => `${(n / MiB).toFixed(0)} MiB`;

async function scenario(name: string, maxMemory: number, storage: boolean, run: (c: FlightServiceClient, pid: number) => Promise<string>): Promise<void> {
  if (only && !only.includes(name)) return;
  const dir = storage ? fs.mkdtempSync(path.join(os.tmpdir(), 'flm-rss-')) : undefined;
  const { child, endpoint } = await startChild(maxMemory, dir);
  const c = client(endpoint);
  try {
    await sleep(300);
    const before = status(child.pid!, 'VmRSS:');
    const outcome = await run(c, child.pid!);
    await sleep(1000);
    console.log(`${name.padEnd(8)} RSS ${mib(before)} -> peak ${mib(status(child.pid!, 'VmHWM:'))} (now ${mib(status(child.pid!, 'VmRSS:'))}); ${outcome}`);
  } finally {
    c.close();
    child.kill('SIGKILL');
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  console.log(`server from ${dist}`);
  // Item 7: 8 streams of 60 MiB held open against --max-memory 64 MiB.
  await scenario('puts', 64 * MiB, false, async (c) => {
    const calls = Array.from({ length: 8 }, (_, i) =>
      put(c, (function* () {
        yield { flight_descriptor: { type: 'PATH', path: [`app/held${i}`] }, data_header: PUT_SCHEMA_HEADER };
        for (let k = 0; k < 60; k++) yield row(MiB);
      })(), true),
    );
    const outcomes = await Promise.all(calls.map((x) => x.done));
    await sleep(1000);
    for (const x of calls) x.call.cancel();
    return outcomes.join(', ');
  });
  // Item 7: 300 native batches with 1 MB headers against --max-memory 64 MiB.
  await scenario('headers', 64 * MiB, false, async (c) => {
    const [schema, batch] = arrowPutMessages({ type: 'PATH', path: ['app/native'] }, tableToIPC(tableFromArrays({ x: Int32Array.from([1, 2, 3]) }), 'stream'));
    const fat = { ...batch!, data_header: Buffer.concat([batch!.data_header!, Buffer.alloc(1_000_000)]) };
    const p = put(c, [schema!, ...Array.from({ length: 300 }, () => fat)], false);
    return p.done;
  });
  // Item 8: 10 slow readers of a 100 MiB object.
  await scenario('readers', 1024 * MiB, false, async (c, pid) => {
    const p = put(c, [{ flight_descriptor: { type: 'PATH', path: ['app/big/obj'] }, data_header: PUT_SCHEMA_HEADER }, row(100 * MiB)], false);
    const ok = await p.done;
    await sleep(500);
    const afterPut = status(pid, 'VmRSS:');
    const calls = Array.from({ length: 10 }, () => {
      const call = c.DoGet({ ticket: Buffer.from('app/big/obj:0') }, new grpc.Metadata(), {});
      call.on('error', () => undefined);
      call.pause();
      return call;
    });
    await sleep(4000);
    for (const call of calls) call.cancel();
    return `put ${ok}; RSS after the put ${mib(afterPut)}, with 10 paused readers ${mib(status(pid, 'VmRSS:'))}`;
  });
  // Item 9: a 600 MiB put (1 MiB rows) with storage and --max-memory 64 MiB.
  await scenario('stored', 64 * MiB, true, async (c) => {
    const p = put(c, (function* () {
      yield { flight_descriptor: { type: 'PATH', path: ['app/stored/obj'] }, data_header: PUT_SCHEMA_HEADER };
      for (let k = 0; k < 600; k++) yield row(MiB);
    })(), false);
    return p.done;
  });
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
