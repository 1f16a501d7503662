/**
 * OnTaskInvoke on its HTTP/2 stream (src/service/raw-task.ts) in a real instance on a Unix socket: the same
 * answers as through grpc-js (FLMRUN_TASK_TRANSPORT=grpc-js), requests it cannot take left to grpc-js, and
 * requests it must refuse answered with a reason while the instance serves on. Raw HTTP/2 clients send what
 * a gRPC client would not.
 */
import http2 from 'node:http2';
import net from 'node:net';
import * as grpc from '@grpc/grpc-js';
import { decodeObjectRef } from '../../src/codecs';
import { instanceProtos, type TaskResult } from '../../src/service/protos';
import { fixtureUrl, startTestInstance, type TestInstance } from '../helpers/instance';

const APP = 'raw-task-app';
const TASK_PATH = '/flame.v1.Instance/OnTaskInvoke';
const def = instanceProtos().services[0]!.OnTaskInvoke!;

async function entered(env?: string): Promise<TestInstance> {
  if (env) process.env.FLMRUN_TASK_TRANSPORT = env;
  try {
    const t = await startTestInstance();
    expect((await t.client.enter({ session_id: 's', application: { name: APP, url: fixtureUrl('calc') } })).return_code).toBe(0);
    return t;
  } finally {
    delete process.env.FLMRUN_TASK_TRANSPORT;
  }
}

/** One OnTaskInvoke whose body is `body` as sent (framing and all), after `delayMs`; the status and the answer's TaskResult. */
function rawTask(socket: string, body: Buffer, headers: http2.OutgoingHttpHeaders = {}, delayMs = 0): Promise<{ status: string; details?: string; result?: TaskResult }> {
  const session = http2.connect('http://localhost', { createConnection: () => net.connect(socket) });
  session.on('error', () => undefined);
  const stream = session.request({ ':method': 'POST', ':path': TASK_PATH, 'content-type': 'application/grpc', te: 'trailers', ...headers });
  stream.on('error', () => undefined);
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let status = '';
    let details: string | undefined;
    const read = (h: http2.IncomingHttpHeaders): void => {
      if (h['grpc-status'] !== undefined) status = String(h['grpc-status']);
      if (h['grpc-message'] !== undefined) details = decodeURIComponent(String(h['grpc-message']));
    };
    stream.on('response', read);
    stream.on('trailers', read);
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('close', () => {
      const all = Buffer.concat(chunks);
      session.close();
      resolve({ status, details, result: all.length >= 5 ? (def.responseDeserialize(all.subarray(5)) as TaskResult) : undefined });
    });
    if (delayMs) setTimeout(() => stream.end(body), delayMs);
    else stream.end(body);
  });
}

function framed(message: Buffer, flag = 0): Buffer {
  const head = Buffer.alloc(5);
  head[0] = flag;
  head.writeUInt32BE(message.length, 1);
  return Buffer.concat([head, message]);
}

describe('tasks on their HTTP/2 streams', () => {
  let t: TestInstance;
  beforeAll(async () => {
    t = await entered();
  });
  afterAll(async () => {
    await t?.close();
  });
  const task = (id: string, args: unknown[]): Buffer => def.requestSerialize({ task_id: id, session_id: 's', input: t.request('sum', args) });

  it('answers a task as grpc-js does: the same TaskResult, value and error alike', async () => {
    const viaGrpcJs = await entered('grpc-js');
    try {
      for (const c of [t, viaGrpcJs]) {
        const ok = await c.client.invoke({ task_id: '1', session_id: 's', input: c.request('sum', [40, 2]) });
        expect(await c.valueOf(ok)).toBe(42);
        expect(decodeObjectRef(ok.output!).endpoint).toBe(c.running.cacheEndpoint);
      }
      const bad = await Promise.all([t, viaGrpcJs].map((c) => c.client.invoke({ task_id: '2', session_id: 's', input: c.request('nope', []) })));
      expect(bad[0]!.return_code).toBe(2);
      expect(bad[0]).toEqual(bad[1]);
    } finally {
      await viaGrpcJs.close();
    }
  });

  it('serves a raw HTTP/2 call of one message and says what is wrong with one it cannot read, serving on', async () => {
    const ok = await rawTask(t.socketPath, framed(task('r1', [1, 2])));
    expect(ok.status).toBe('0');
    expect(await t.valueOf(ok.result!)).toBe(3);
    const cases: [Buffer, RegExp][] = [
      [Buffer.alloc(0), /the request holds no message/],
      [framed(task('r2', [1, 1]), 1), /marked compressed, but the call names no grpc-encoding/],
      [Buffer.concat([framed(task('r3', [1, 1])), framed(task('r4', [1, 1]))]), /more than one message/],
      [framed(task('r5', [1, 1])).subarray(0, 12), /ended inside its message/],
      [framed(Buffer.from([0x0f])), /Error deserializing request/],
    ];
    for (const [body, reason] of cases) {
      const res = await rawTask(t.socketPath, body);
      expect([String(reason), res.status, res.details]).toEqual([String(reason), String(grpc.status.INTERNAL), expect.stringMatching(reason)]);
    }
    expect(await t.valueOf(await t.client.invoke({ task_id: 'r6', session_id: 's', input: t.request('sum', [2, 2]) }))).toBe(4);
  });

  it('answers bytes past the one message as they come, not when the client ends (nothing more is held)', async () => {
    const session = http2.connect('http://localhost', { createConnection: () => net.connect(t.socketPath) });
    session.on('error', () => undefined);
    try {
      const stream = session.request({ ':method': 'POST', ':path': TASK_PATH, 'content-type': 'application/grpc', te: 'trailers' });
      stream.on('error', () => undefined);
      const answer = new Promise<http2.IncomingHttpHeaders>((resolve) => stream.once('response', resolve));
      // One whole message and the start of a second; the client never ends its request.
      stream.write(Buffer.concat([framed(task('r7', [1, 1])), framed(Buffer.alloc(1 << 20)).subarray(0, 64 * 1024)]));
      const head = await answer;
      expect(stream.writableEnded).toBe(false);
      expect([head['grpc-status'], decodeURIComponent(String(head['grpc-message']))]).toEqual([String(grpc.status.INTERNAL), 'the request holds more than one message']);
      // What the client sends after the answer is read and dropped: its write completes.
      await new Promise<void>((resolve, reject) => stream.write(Buffer.alloc(256 * 1024), (err) => (err ? reject(err) : resolve())));
      stream.close();
    } finally {
      session.close();
    }
    expect(await t.valueOf(await t.client.invoke({ task_id: 'r8', session_id: 's', input: t.request('sum', [3, 4]) }))).toBe(7);
  });

  it('leaves a compressed request to grpc-js, which decodes it', async () => {
    const { InstanceClient } = instanceProtos();
    const gzip = new InstanceClient(`unix://${t.socketPath}`, grpc.credentials.createInsecure(), { 'grpc.default_compression_algorithm': 2 });
    try {
      const res = await new Promise<TaskResult>((resolve, reject) =>
        gzip.OnTaskInvoke({ task_id: 'z1', session_id: 's', input: t.request('sum', [20, 22]) }, (e, r) => (e ? reject(e) : resolve(r as TaskResult))),
      );
      expect(await t.valueOf({ ...res, return_code: res.return_code ?? 0 })).toBe(42);
    } finally {
      gzip.close();
    }
  });

  it('serves a call whose deadline lies further than a timer holds (grpc-timeout 99999999H) as one without', async () => {
    // The request comes 50 ms after its headers (a timer that overflowed would fire after 1 ms, before it).
    const res = await rawTask(t.socketPath, framed(task('d0', [2, 5])), { 'grpc-timeout': '99999999H' }, 50);
    expect(res.status).toBe('0');
    expect(await t.valueOf(res.result!)).toBe(7);
  });

  it('ends a call whose deadline passes with DEADLINE_EXCEEDED, and serves on', async () => {
    // A deadline of 1 µs has passed before the body is read (grpc-timeout as a client sends it).
    const res = await rawTask(t.socketPath, framed(task('d1', [1, 1])), { 'grpc-timeout': '1u' });
    expect(res.status).toBe(String(grpc.status.DEADLINE_EXCEEDED));
    expect(await t.valueOf(await t.client.invoke({ task_id: 'd2', session_id: 's', input: t.request('sum', [3, 4]) }))).toBe(7);
  });
});
