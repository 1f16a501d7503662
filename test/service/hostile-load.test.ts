/**
 * Runaway tasks, callers that gave up, and queued bytes, through the real
 * Instance service (issue 11.3, 11.4, 11.11). No timing is asserted: tasks
 * signal that they started by writing files, and deadlines are generous.
 */
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { encodeRunnerContext } from '../../src/codecs';
import { instanceProtos } from '../../src/service/protos';
import { isLoopbackHost } from '../../src/service/server';
import { startTestInstance, type TestInstance } from '../helpers/instance';
import { eventually } from '../helpers/processes';
import { makeTempDir, removeDir } from '../helpers/tmp';

const APP_URL = `file://${path.resolve(__dirname, '../fixtures/runner-app')}`;
const HOSTILE = encodeRunnerContext({ module: 'hostile', stateful: false, autoscale: false, warmup: 0 });
const MiB = 1024 * 1024;

let t: TestInstance;
let dir: string;
let seq = 0;
const file = (name: string): string => path.join(dir, `${name}-${++seq}`);
const enter = (sid: string) => t.client.enter({ session_id: sid, application: { name: 'hostile-app', url: APP_URL }, common_data: HOSTILE });
const invoke = (sid: string, method: string, args: unknown[] = [], deadlineMs?: number) =>
  t.client.invoke({ task_id: `t${++seq}`, session_id: sid, input: t.request(method, args) }, deadlineMs);

const clients: grpc.Client[] = [];
/** A call that the test can cancel; resolves with its error (null on success). */
function rawCall(method: string, req: unknown): { call: grpc.ClientUnaryCall; result: Promise<grpc.ServiceError | null> } {
  const { InstanceClient } = instanceProtos();
  const raw = new InstanceClient(`unix://${t.socketPath}`, grpc.credentials.createInsecure()) as unknown as grpc.Client &
    Record<string, (req: unknown, cb: (err: grpc.ServiceError | null) => void) => grpc.ClientUnaryCall>;
  clients.push(raw);
  let call!: grpc.ClientUnaryCall;
  const result = new Promise<grpc.ServiceError | null>((resolve) => (call = raw[method]!(req, resolve)));
  return { call, result };
}

beforeAll(async () => {
  // No task timeout: leave alone must stop a runaway task.
  t = await startTestInstance({ taskTimeoutMs: 0, maxQueuedBytes: 64 * MiB });
  dir = makeTempDir();
});
afterAll(async () => {
  for (const c of clients) c.close();
  await t?.close();
  removeDir(dir);
});

it('leave stops a task that spins (no task timeout), and the instance serves the next session', async () => {
  expect((await enter('spin')).return_code).toBe(0);
  const mark = file('spin');
  const spinning = invoke('spin', 'marksThenSpins', [mark]);
  await eventually(() => fs.existsSync(mark));
  expect((await t.client.leave()).return_code).toBe(0);
  expect(await spinning).toMatchObject({ return_code: 1, message: 'task aborted: session left (session leave) while the task was running' });
  expect((await enter('after-spin')).return_code).toBe(0);
  expect(await t.valueOf(await invoke('after-spin', 'ok'))).toBe('ok');
  expect((await t.client.leave()).return_code).toBe(0);
});

it('a task whose deadline passed while it was queued is never run', async () => {
  expect((await enter('queued')).return_code).toBe(0);
  const [mark, release, touched] = [file('mark'), file('release'), file('touched')];
  const blocker = invoke('queued', 'marksThenWaits', [mark, release]);
  await eventually(() => fs.existsSync(mark));
  await expect(invoke('queued', 'touch', [touched], 500)).rejects.toMatchObject({ code: 4 }); // DEADLINE_EXCEEDED
  fs.writeFileSync(release, '');
  expect(await t.valueOf(await blocker)).toBe('released');
  // The queue has moved past where the expired task stood.
  expect(await t.valueOf(await invoke('queued', 'ok'))).toBe('ok');
  expect(fs.existsSync(touched)).toBe(false);
  expect((await t.client.leave()).return_code).toBe(0);
});

it("a running task's AbortSignal fires when its caller cancels the call", async () => {
  expect((await enter('cancel')).return_code).toBe(0);
  const [mark, done] = [file('mark'), file('done')];
  const { call, result: failed } = rawCall('OnTaskInvoke', { task_id: 'c', session_id: 'cancel', input: t.request('marksThenRecordsAbort', [mark, done]) });
  await eventually(() => fs.existsSync(mark));
  call.cancel();
  expect((await failed)?.code).toBe(grpc.status.CANCELLED);
  await eventually(() => fs.existsSync(done));
  expect(fs.readFileSync(done, 'utf8')).toBe('aborted: the caller cancelled the call');
  expect((await t.client.leave()).return_code).toBe(0);
});

it('a session enter whose caller gave up while the module loaded is abandoned, and not kept', async () => {
  // A package whose module loads only once `release` exists (it writes `loading` first).
  const pkg = makeTempDir();
  const [loading, release] = [path.join(pkg, 'loading'), path.join(pkg, 'release')];
  fs.writeFileSync(path.join(pkg, 'package.json'), JSON.stringify({ name: 'slow-load', version: '1.0.0', main: 'index.mjs' }));
  fs.writeFileSync(
    path.join(pkg, 'index.mjs'),
    `import fs from 'node:fs';\nfs.writeFileSync(${JSON.stringify(loading)}, '');\n` +
      `while (!fs.existsSync(${JSON.stringify(release)})) await new Promise((r) => setTimeout(r, 20));\nexport const ok = () => 'ok';\n`,
  );
  try {
    const { call, result } = rawCall('OnSessionEnter', { session_id: 'abandoned', application: { name: 'hostile-app', url: `file://${pkg}` } });
    await eventually(() => fs.existsSync(loading));
    call.cancel();
    expect((await result)?.code).toBe(grpc.status.CANCELLED);
    // Queued behind the enter: answered once the enter has given up (the module never finished loading).
    const res = await invoke('abandoned', 'ok');
    expect(res.return_code).toBe(2);
    expect(res.message).toMatch(/no session/);
    expect(fs.existsSync(release)).toBe(false);
  } finally {
    removeDir(pkg);
  }
});

it('task input bytes held by the queue are bounded: beyond the bound a task is refused with code 3', async () => {
  expect((await enter('bytes')).return_code).toBe(0);
  const [mark, release] = [file('mark'), file('release')];
  const blocker = invoke('bytes', 'marksThenWaits', [mark, release]);
  await eventually(() => fs.existsSync(mark));
  const big = Buffer.alloc(16 * MiB, 7);
  // Three inputs of a little over 16 MiB fit under 64 MiB next to the running task's; the other five do not.
  const results: { return_code: number; message?: string }[] = [];
  const calls = Array.from({ length: 8 }, () => invoke('bytes', 'size', [big]).then((r) => (results.push(r), r)));
  // Refusals answer at once; admitted tasks wait for the blocker. Calls arrive in any order.
  await eventually(() => results.length === 5);
  for (const r of results) {
    expect(r.return_code).toBe(3);
    // Refused from the announced length, before the 16 MiB were read (src/service/receive-gate.ts).
    expect(r.message).toMatch(/refused before its input was read: the instance already holds \d+ MiB of task input \(limit 64 MiB, maxQueuedBytes\)/);
  }
  fs.writeFileSync(release, '');
  expect(await t.valueOf(await blocker)).toBe('released');
  const all = await Promise.all(calls);
  expect(all.filter((r) => r.return_code === 3)).toHaveLength(5);
  for (const r of all.filter((r) => r.return_code !== 3)) expect(await t.valueOf(r)).toBe(16 * MiB);
  expect((await t.client.leave()).return_code).toBe(0);
});

it('a session enter whose caller gave up during the package download aborts the download', async () => {
  // An http server that sends the headers and a first chunk, then nothing: the download hangs until aborted.
  let requested = false;
  let closed = false;
  const server = http.createServer((req, res) => {
    requested = true;
    res.writeHead(200, { 'content-type': 'application/gzip', 'content-length': String(1 << 20) });
    res.write(Buffer.alloc(1024));
    res.on('close', () => (closed = true));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  try {
    const { call, result } = rawCall('OnSessionEnter', {
      session_id: 'download-abandoned',
      application: { name: 'hostile-app', url: `http://127.0.0.1:${port}/pkg.tgz` },
    });
    await eventually(() => requested);
    call.cancel();
    expect((await result)?.code).toBe(grpc.status.CANCELLED);
    // The download's connection is closed by flmrun-js, long before any download timeout.
    await eventually(() => closed);
    const res = await invoke('download-abandoned', 'ok');
    expect(res.return_code).toBe(2);
    expect(res.message).toMatch(/no session/);
  } finally {
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  }
});

it('names the addresses only this machine reaches (plain-text TCP elsewhere is warned about at start)', () => {
  for (const h of ['127.0.0.1', '127.1.2.3', 'localhost', '::1', '[::1]']) expect(isLoopbackHost(h)).toBe(true);
  for (const h of ['0.0.0.0', '10.0.0.1', '::', 'example.org', '128.0.0.1']) expect(isLoopbackHost(h)).toBe(false);
});
