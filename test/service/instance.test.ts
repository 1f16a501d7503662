/**
 * The Instance protocol end to end: a real flmrun-js (gRPC on a temp Unix
 * socket, embedded object cache, user code in its session process) driven by a real
 * gRPC client; results read back from the cache by their ObjectRef.
 */
import fs from 'node:fs';
import { BSON } from 'bson';
import { encodeObjectRef, decodeObjectRef } from '../../src/wire/object-ref';
import { encodeRunnerContext, ObjectRefArg, encodeRunnerRequest } from '../../src/codecs';
import { checkHealth } from '../../src/cli/health';
import { connectInstance } from '../../src/service/protos';
import { removeDir, tempSocketPath } from '../helpers/tmp';
import { startTestInstance, fixtureUrl, type TestInstance } from '../helpers/instance';

const APP = 'calc-app';

describe('Instance service', () => {
  let t: TestInstance;
  beforeAll(async () => {
    t = await startTestInstance({ listen: '127.0.0.1:0', taskTimeoutMs: 3000 });
  });
  afterAll(async () => {
    await t.close();
  });

  const enter = (sessionId: string, common?: Buffer, url = fixtureUrl('calc')) =>
    t.client.enter({ session_id: sessionId, application: { name: APP, url }, common_data: common });

  it('answers health checks on the socket and on TCP', async () => {
    expect(await checkHealth(`unix://${t.socketPath}`, '', 3000)).toBe('SERVING');
    expect(await checkHealth(`127.0.0.1:${t.running.tcpPort}`, 'flame.v1.Instance', 3000)).toBe('SERVING');
  });

  it('connects a client before its first call (ready), and says so at the deadline when nothing listens', async () => {
    const c = connectInstance(`unix://${t.socketPath}`);
    try {
      await expect(c.ready(10_000)).resolves.toBeUndefined();
      expect((await c.leave()).return_code).toBe(0);
    } finally {
      c.close();
    }
    const { dir, socket } = tempSocketPath();
    const none = connectInstance(`unix://${socket}`);
    try {
      await expect(none.ready(300)).rejects.toThrow(/deadline/i);
    } finally {
      none.close();
      removeDir(dir);
    }
  });

  it('creates its socket owner-only', () => {
    expect(fs.statSync(t.socketPath).mode & 0o777).toBe(0o600);
  });

  it('refuses a task before any session with code 2', async () => {
    const res = await t.client.invoke({ task_id: '1', session_id: 's0', input: t.request('sum', [1, 2]) });
    expect(res.return_code).toBe(2);
    expect(res.message).toMatch(/no session/);
  });

  it.each(['*', '.'])('refuses session id %p, which the cache could not store results under', async (sid) => {
    const res = await t.client.enter({ session_id: sid, application: { name: APP } });
    expect(res.return_code).toBe(2);
    expect(res.message).toMatch(/cannot name results/);
  });

  it('refuses an application name that would escape its cache prefix', async () => {
    const res = await t.client.enter({ session_id: 's', application: { name: '../etc' } });
    expect(res.return_code).toBe(2);
    expect(res.message).toMatch(/must not contain/);
  });

  describe('the Python runner suite, in JavaScript', () => {
    beforeAll(async () => expect((await enter('suite')).return_code).toBe(0));
    afterAll(async () => expect((await t.client.leave()).return_code).toBe(0));
    const run = async (method: string | null, args: unknown[] = [], kwargs: Record<string, unknown> | null = null) =>
      t.client.invoke({ task_id: method ?? 'self', session_id: 'suite', input: t.request(method, args, kwargs) });

    it('a sum function', async () => {
      const res = await run('sum', [5, 3]);
      expect(await t.valueOf(res)).toBe(8);
      const ref = decodeObjectRef(res.output!);
      expect(ref.key.startsWith(`${APP}/suite/`)).toBe(true);
      expect(ref.endpoint).toBe(t.running.cacheEndpoint);
      expect(ref.version).toBe(1);
    });

    it('keyword arguments arrive as one trailing options object', async () => {
      expect(await t.valueOf(await run('withOptions', [1, 2], { scale: 3, label: 'x' }))).toEqual({
        a: 1,
        b: 2,
        options: { scale: 3, label: 'x' },
      });
    });

    it('no arguments', async () => {
      expect(await t.valueOf(await run('noArgs'))).toBe('no arguments');
    });

    it('many tasks in one session', async () => {
      for (let i = 0; i < 50; i++) expect(await t.valueOf(await run('sum', [i, i]))).toBe(2 * i);
    });

    it('an arrow function', async () => {
      expect(await t.valueOf(await run('arrow', [21]))).toBe(42);
    });

    it('complex return types', async () => {
      const v = (await t.valueOf(await run('complex'))) as Record<string, unknown>;
      expect(v.nested).toEqual({ list: [1, 'two', 3.5, null, true], deep: { x: [[1], [2, [3]]] } });
      expect(Buffer.from(v.bytes as Uint8Array).equals(Buffer.from([0, 1, 2, 255]))).toBe(true);
      expect(v.big).toBe(2n ** 64n + 1n);
      expect(v.map).toEqual({ k: 1, l: [2] });
      expect(v.set).toEqual(new Set([1, 2, 3]));
      expect(v.nothing).toBeNull();
    });

    it('undefined is stored as None, so a reference always comes back', async () => {
      const res = await run('nothing');
      expect(res.return_code).toBe(0);
      expect(await t.valueOf(res)).toBeNull();
    });

    it('passes a result as an ObjectRef argument without the client fetching it', async () => {
      const first = await run('sum', [20, 1]);
      const ref = decodeObjectRef(first.output!);
      const input = encodeRunnerRequest({ method: 'sum', args: [new ObjectRefArg(ref), 21], kwargs: null });
      const second = await t.client.invoke({ task_id: 'chain', session_id: 'suite', input });
      expect(await t.valueOf(second)).toBe(42);
    });
  });

  it('a class method, the class instantiated once with init_args', async () => {
    const ctx = encodeRunnerContext({ export: 'Calculator', initArgs: [100], stateful: false, autoscale: false, warmup: 0 });
    expect((await enter('cls', ctx)).return_code).toBe(0);
    const res = await t.client.invoke({ task_id: '1', session_id: 'cls', input: t.request('add', [5, 3]) });
    expect(await t.valueOf(res)).toBe(108);
    await t.client.leave();
  });

  it('a stateful class keeps its state across sessions on the same context', async () => {
    const ctx = encodeRunnerContext({ export: 'Counter', stateful: true, autoscale: false, warmup: 0 });
    const ctxRef = await t.cache.put(`${APP}/contexts`, { kind: 'opaque', chunks: [ctx] });
    const common = encodeObjectRef(ctxRef);
    for (const [session, expected] of [['st1', [1, 2]], ['st2', [3, 4]]] as const) {
      expect((await enter(session, common)).return_code).toBe(0);
      for (const want of expected) {
        const res = await t.client.invoke({ task_id: `${session}-${want}`, session_id: session, input: t.request('increment') });
        expect(await t.valueOf(res)).toBe(want);
      }
      await t.client.leave();
    }
    const stored = await t.cache.get({ ...ctxRef, version: 0 });
    expect(stored.version).toBeGreaterThan(ctxRef.version);
  });

  describe('bad input answers a clear code and the service keeps serving', () => {
    beforeAll(async () => expect((await enter('bad')).return_code).toBe(0));
    afterAll(async () => t.client.leave());
    const invoke = (input: Buffer | undefined) => t.client.invoke({ task_id: 'x', session_id: 'bad', input });
    const good = async () => expect(await t.valueOf(await invoke(t.request('sum', [2, 2])))).toBe(4);

    it.each([
      ['undecodable input bytes', Buffer.from('definitely not bson or pickle'), 2, /input|decode|BSON/i],
      ['wrong field types', Buffer.from(BSON.serialize({ method: 7, args: 'no', kwargs: null })), 2, /method/],
      ['an unknown method', encodeRunnerRequest({ method: 'nope', args: [], kwargs: null }), 2, /nope[\s\S]*sum/],
      ['a non-function attribute', encodeRunnerRequest({ method: 'notAFunction', args: [], kwargs: null }), 2, /notAFunction/],
      ['user code that throws', encodeRunnerRequest({ method: 'fail', args: ['boom'], kwargs: null }), 1, /^TypeError: boom\n\s+at fail \(index\.js:\d+:\d+\)/],
      ['user code that rejects', encodeRunnerRequest({ method: 'reject', args: [], kwargs: null }), 1, /^RangeError: rejected on purpose/],
      ['a TypeError from bad arguments', encodeRunnerRequest({ method: 'length', args: [null], kwargs: null }), 1, /^TypeError: .*length/],
      ['user code that calls process.exit', encodeRunnerRequest({ method: 'exit', args: [3], kwargs: null }), 1, /exit/],
      ['user code that loops past the timeout', encodeRunnerRequest({ method: 'spin', args: [], kwargs: null }), 1, /timed out/],
    ])('%s', async (_name, input, code, pattern) => {
      const res = await invoke(input);
      expect(res.return_code).toBe(code);
      expect(res.message).toMatch(pattern);
      await good();
    });

    it('a task for another session', async () => {
      const res = await t.client.invoke({ task_id: 'y', session_id: 'other', input: t.request('sum', [1, 1]) });
      expect(res.return_code).toBe(2);
      await good();
    });

    it('health stays SERVING while user code spins', async () => {
      const spinning = invoke(encodeRunnerRequest({ method: 'spin', args: [], kwargs: null }));
      await new Promise((r) => setTimeout(r, 300));
      expect(await checkHealth(`unix://${t.socketPath}`, '', 1000)).toBe('SERVING');
      expect((await spinning).return_code).toBe(1);
    });
  });

  it.each([
    ['a module that is not there', { module: 'missing.js' }, /not found|cannot find/i],
    ['an export that is not there', { export: 'Nope' }, /Nope/],
  ])('reports %s at session enter', async (_name, ctx, pattern) => {
    const res = await enter('load', encodeRunnerContext({ stateful: false, autoscale: false, warmup: 0, ...ctx }));
    expect(res.return_code).toBe(2);
    expect(res.message).toMatch(pattern);
    const again = await enter('load2');
    expect(again.return_code).toBe(0);
    await t.client.leave();
  });

  it('a package URL that does not exist fails session enter and names it', async () => {
    const res = await enter('nopkg', undefined, 'file:///nonexistent/flmrun/pkg.tgz');
    expect(res.return_code).not.toBe(0);
    expect(res.message).toContain('/nonexistent/flmrun/pkg.tgz');
  });

  it('session enter while a session is active leaves the old one first', async () => {
    expect((await enter('one')).return_code).toBe(0);
    expect((await enter('two')).return_code).toBe(0);
    const res = await t.client.invoke({ task_id: '1', session_id: 'one', input: t.request('sum', [1, 1]) });
    expect(res.return_code).toBe(2);
    const ok = await t.client.invoke({ task_id: '2', session_id: 'two', input: t.request('sum', [1, 1]) });
    expect(await t.valueOf(ok)).toBe(2);
    await t.client.leave();
  });
});

describe('the pre-0.6 package name', () => {
  it('serves flame.Instance as well as flame.v1.Instance', async () => {
    const grpc = await import('@grpc/grpc-js');
    const { instanceProtos } = await import('../../src/service/protos');
    const t2 = await startTestInstance();
    try {
      const legacy = instanceProtos().services[1]!;
      expect(Object.values(legacy).map((m) => m.path)).toContain('/flame.Instance/OnSessionEnter');
      const Ctor = grpc.makeGenericClientConstructor(legacy, 'Instance');
      const client = new Ctor(`unix://${t2.socketPath}`, grpc.credentials.createInsecure()) as unknown as Record<
        string,
        (req: unknown, cb: (e: Error | null, r: { return_code: number; message?: string; output?: Buffer }) => void) => void
      >;
      const call = (m: string, req: unknown) =>
        new Promise<{ return_code: number; message?: string; output?: Buffer }>((res, rej) =>
          client[m]!.call(client, req, (e, r) => (e ? rej(e) : res(r))),
        );
      expect((await call('OnSessionEnter', { session_id: 'old', application: { name: APP, url: fixtureUrl('calc') } })).return_code).toBe(0);
      const out = await call('OnTaskInvoke', { task_id: '1', session_id: 'old', input: t2.request('sum', [40, 2]) });
      expect(await t2.valueOf(out as never)).toBe(42);
      expect((await call('OnSessionLeave', {})).return_code).toBe(0);
      (client as unknown as { close(): void }).close();
    } finally {
      await t2.close();
    }
  });
});
