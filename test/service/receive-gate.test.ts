/**
 * The receive gate (src/service/receive-gate.ts) in a real grpc-js server on a
 * Unix socket, for tasks served by grpc-js and for tasks on their own HTTP/2
 * streams (src/service/raw-task.ts), with raw HTTP/2 clients where a client must send less than it
 * announced. The handlers only count the bytes they hold, as the operation
 * queue does; the gate is what is under test. No timing is asserted: the
 * read timeout is short so that the test does not wait long, and every wait is
 * on an observable state.
 */
import http2 from 'node:http2';
import net from 'node:net';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { ReceiveGate } from '../../src/service/receive-gate';
import { serveTasksOnStreams } from '../../src/service/raw-task';
import { connectInstance, instanceProtos, type InstanceClient, type TaskResult } from '../../src/service/protos';
import { eventually } from '../helpers/processes';
import { makeTempDir, removeDir } from '../helpers/tmp';

const MiB = 1024 * 1024;
const TASK_PATH = '/flame.v1.Instance/OnTaskInvoke';

describe.each([
  ['tasks through grpc-js and its interceptor', false],
  ['tasks on their HTTP/2 streams', true],
])('%s', (_name, onStreams) => {
  let dir: string;
  let server: grpc.Server;
  let gate: ReceiveGate;
  let socket: string;
  let held = 0;
  /** Tasks the handler holds, released by the test. */
  const holding: (() => void)[] = [];
  let client: InstanceClient;
  /** What happened, in order, where a test looks at order. */
  const events: string[] = [];
  const gateOptions = { heldBytes: () => held, maxBytes: 4 * MiB, readTimeoutMs: 500, methods: ['/OnTaskInvoke', '/OnSessionEnter'], bounded: ['/OnTaskInvoke'] };

  beforeAll(async () => {
    dir = makeTempDir('flm-gate-');
    socket = path.join(dir, 'i.sock');
    gate = new ReceiveGate(gateOptions);
    server = new grpc.Server({ 'grpc.max_receive_message_length': -1, interceptors: [gate.interceptor()] });
    const handlers = {
      OnSessionEnter: (_call: unknown, cb: grpc.sendUnaryData<unknown>) => cb(null, { return_code: 0 }),
      OnSessionLeave: (_call: unknown, cb: grpc.sendUnaryData<unknown>) => cb(null, { return_code: 0 }),
      OnTaskInvoke: (call: grpc.ServerUnaryCall<{ task_id?: string; input?: Buffer }, unknown>, cb: grpc.sendUnaryData<unknown>) => {
        const n = call.request.input?.length ?? 0;
        events.push(`read ${call.request.task_id} after ${gate.readTimeouts} read timeouts`);
        held += n;
        holding.push(() => {
          held -= n;
          cb(null, { return_code: 0, message: `held ${n}` });
        });
      },
    };
    const def = instanceProtos().services[0]!;
    server.addService(def, handlers as unknown as grpc.UntypedServiceImplementation);
    // The instance's path for tasks: their HTTP/2 streams taken from grpc-js (src/service/raw-task.ts), through the same gate.
    if (onStreams) expect(serveTasksOnStreams(server, new Map([[TASK_PATH, def.OnTaskInvoke!]]), handlers.OnTaskInvoke as never, gate)).toBe(true);
    await new Promise<void>((resolve, reject) => server.bindAsync(`unix://${socket}`, grpc.ServerCredentials.createInsecure(), (e) => (e ? reject(e) : resolve())));
    client = connectInstance(`unix://${socket}`);
  });

  afterAll(async () => {
    client.close();
    server.forceShutdown();
    removeDir(dir);
  });

  afterEach(() => {
    for (const release of holding.splice(0)) release();
  });

  /** A raw OnTaskInvoke whose message prefix announces `announced` bytes of which `sent` are sent; the stream is not ended. */
  function partialTask(announced: number, sent: number): { answer: Promise<{ status: string; result?: TaskResult }>; close: () => void } {
    const session = http2.connect(`http://localhost`, { createConnection: () => net.connect(socket) });
    session.on('error', () => undefined);
    const stream = session.request({ ':method': 'POST', ':path': TASK_PATH, 'content-type': 'application/grpc', te: 'trailers' });
    stream.on('error', () => undefined);
    const prefix = Buffer.alloc(5);
    prefix.writeUInt32BE(announced, 1);
    stream.write(Buffer.concat([prefix, Buffer.alloc(sent)]));
    const answer = new Promise<{ status: string; result?: TaskResult }>((resolve) => {
      const chunks: Buffer[] = [];
      let status = '';
      stream.on('trailers', (t) => (status = String(t['grpc-status'])));
      stream.on('response', (h) => {
        if (h['grpc-status'] !== undefined) status = String(h['grpc-status']);
      });
      stream.on('data', (c: Buffer) => chunks.push(c));
      // The answer is complete when the server's side ends (trailers received); ours stays open.
      stream.on('end', () => {
        const body = Buffer.concat(chunks);
        const def = instanceProtos().services[0]!.OnTaskInvoke!;
        resolve({ status, result: body.length >= 5 ? (def.responseDeserialize(body.subarray(5)) as TaskResult) : undefined });
      });
    });
    return { answer, close: () => session.destroy() };
  }

  test('a task whose announced input would pass the bound is answered code 3 before its body is sent', async () => {
    const first = client.invoke({ task_id: 'a', session_id: 's', input: Buffer.alloc(MiB, 1) });
    await eventually(() => holding.length === 1);
    // 1 GiB announced, 10 bytes sent, the stream left open: only a refusal from the prefix can answer it.
    const hostile = partialTask(1024 * MiB, 10);
    try {
      const { status, result } = await hostile.answer;
      expect(status).toBe('0');
      expect(result?.return_code).toBe(3);
      expect(result?.message).toMatch(/^refused before its input was read: the instance already holds 1 MiB of task input \(limit 4 MiB, maxQueuedBytes\)/);
      expect(gate.refusedBeforeReading).toBe(1);
    } finally {
      hostile.close();
    }
    // The gate has moved on: a task that fits is read and held.
    const second = client.invoke({ task_id: 'b', session_id: 's', input: Buffer.alloc(MiB, 2) });
    await eventually(() => holding.length === 2);
    for (const release of holding.splice(0)) release();
    expect((await first).message).toBe(`held ${MiB}`);
    expect((await second).message).toBe(`held ${MiB}`);
  });

  test('one body is read at a time: a client that stops sending keeps the turn only until the read timeout', async () => {
    const slow = partialTask(100, 10);
    try {
      // The slow client has the turn.
      await eventually(() => gate.readingCall);
      const next = client.invoke({ task_id: 'c', session_id: 's', input: Buffer.from('x') });
      const { status } = await slow.answer;
      expect(status).toBe(String(grpc.status.DEADLINE_EXCEEDED));
      await eventually(() => holding.length === 1);
      holding.shift()!();
      expect((await next).message).toBe('held 1');
      // Read only once the slow client's turn had ended, however the two calls were timed.
      expect(events.at(-1)).toBe('read c after 1 read timeouts');
    } finally {
      slow.close();
    }
  });

  test('a call that gives up while waiting for its turn leaves the line', async () => {
    gateOptions.readTimeoutMs = 600_000; // the slow client keeps its turn for the whole test
    const slow = partialTask(100, 10);
    const { InstanceClient } = instanceProtos();
    const raw = new InstanceClient(`unix://${socket}`, grpc.credentials.createInsecure());
    try {
      await eventually(() => gate.readingCall);
      const call = raw.OnTaskInvoke({ task_id: 'd', session_id: 's', input: Buffer.from('y') }, () => undefined);
      await eventually(() => gate.waitingCalls === 1);
      call.cancel();
      await eventually(() => gate.waitingCalls === 0);
      // The slow client goes: its turn ends, and nothing was read behind it.
      slow.close();
      await eventually(() => !gate.readingCall);
      expect(holding).toHaveLength(0);
      expect(events.some((e) => e.startsWith('read d'))).toBe(false);
    } finally {
      gateOptions.readTimeoutMs = 500;
      raw.close();
      slow.close();
    }
  });

  test('with the bound reached, a call is refused at its turn whatever it would send', async () => {
    const big = client.invoke({ task_id: 'e', session_id: 's', input: Buffer.alloc(4 * MiB, 3) });
    await eventually(() => holding.length === 1);
    const small = await client.invoke({ task_id: 'f', session_id: 's', input: Buffer.from('z') });
    expect(small.return_code).toBe(3);
    expect(small.message).toMatch(/^refused before its input was read: the instance already holds 4 MiB/);
    // A session enter is read in its turn too, but the bound counts task input only: it is not refused.
    expect((await client.enter({ session_id: 's2', common_data: Buffer.alloc(MiB) })).return_code).toBe(0);
    holding.shift()!();
    expect((await big).return_code).toBe(0);
  });
});
