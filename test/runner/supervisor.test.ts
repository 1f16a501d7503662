/**
 * The Python runner's suite, in JavaScript, through SessionSupervisor with a real
 * object cache: every result is fetched back by its ObjectRef and decoded.
 */
import pino from 'pino';
import { ObjectRefArg } from '../../src/codecs/request';
import { decodeObjectRef, encodeObjectRef } from '../../src/wire/object-ref';
import { ErrorCode, FlmError } from '../../src/errors';
import { liveSessionChildren, SessionSupervisor, type SessionSpec } from '../../src/runner/supervisor';
import { APP, APP_ROOT, Harness, useHarness } from './harness';

const harness = useHarness();
let h: Harness;
beforeAll(() => {
  h = harness();
});

describe('SessionSupervisor: the Python runner suite', () => {
  it('a sum function (the package main export, no common data)', async () => {
    const w = await h.enterWith(undefined);
    expect(await h.run(w, null, [1, 2])).toBe(3);
  });

  it('a class method, with init_args', async () => {
    const w = await h.enter({ module: 'calc', init_args: [10] });
    expect(await h.run(w, 'add', [1, 2])).toBe(13);
  });

  it('keyword arguments arrive as one trailing options object', async () => {
    const w = await h.enter({ module: 'calc' });
    expect(await h.run(w, 'greet', ['ann'], { greeting: 'hey' })).toBe('hey ann');
    expect(await h.run(w, 'greet', ['bob'])).toBe('hello bob');
  });

  it('no arguments', async () => {
    const w = await h.enter({ module: 'calc' });
    expect(await h.run(w, 'answer')).toBe(42);
  });

  it('many tasks in one session, one after another', async () => {
    const w = await h.enterWith(undefined);
    const outcomes = [];
    for (let i = 0; i < 20; i++) outcomes.push(await w.invoke(`t${i}`, h.request(null, [i, i])));
    const values = await Promise.all(outcomes.map((o) => h.valueOf(o)));
    expect(values).toEqual(Array.from({ length: 20 }, (_, i) => 2 * i));
    const keys = outcomes.map((o) => decodeObjectRef(o.output!).key);
    expect(new Set(keys).size).toBe(20);
    for (const k of keys) expect(k.startsWith(`${APP}/`)).toBe(true);
  });

  it('a stateful class: state survives a new session on the same context ref', async () => {
    const ctxRef = await h.putContext({ module: 'counter', stateful: true });
    const common = encodeObjectRef(ctxRef);
    const first = await h.enterWith(common);
    expect(await h.run(first, 'increment', [2])).toBe(2);
    expect(await h.run(first, 'increment', [3])).toBe(5);
    await first.close();
    const second = await h.enterWith(common);
    expect(await h.run(second, 'get')).toEqual({ count: 5, history: [2, 3] });
    expect(await h.run(second, 'increment')).toBe(6);
    // Each task that changed the state wrote the context back under its own key (get() changed nothing).
    const stored = await h.cache.get({ ...ctxRef, version: 0 });
    expect(stored.version).toBe(ctxRef.version + 3);
  });

  it('an arrow function', async () => {
    const w = await h.enter({ module: 'arrow' });
    expect(await h.run(w, null, [21])).toBe(42);
  });

  it('complex return types', async () => {
    const w = await h.enter({ module: 'complex' });
    expect(await h.run(w, 'nested')).toEqual({ a: { b: [1, 2, { c: 'd' }] }, e: true, f: 1.5 });
    expect(await h.run(w, 'array')).toEqual([1, 'two', null, [3]]);
    expect(Buffer.from((await h.run(w, 'buffer')) as Uint8Array)).toEqual(Buffer.from([0, 1, 2, 255]));
    expect(await h.run(w, 'bigint')).toBe(2n ** 70n);
    expect(await h.run(w, 'map')).toEqual({ x: 1, y: 2 });
    expect(await h.run(w, 'set')).toEqual(new Set([1, 2, 3]));
    expect(await h.run(w, 'nothing')).toBeNull();
    expect(await h.run(w, 'undef')).toBeNull();
  });
});

it('refuses a task handed over while another runs (the service owns the one queue)', async () => {
  const w = await h.enter({ module: 'calc' });
  const first = w.invoke('a', h.request('answer'));
  await expect(w.invoke('b', h.request('answer'))).rejects.toMatchObject({ code: 'INTERNAL' });
  expect(await h.valueOf(await first)).toBe(42);
});

describe('SessionSupervisor: ObjectRef arguments and the task context', () => {
  it('passes the result of one task as an argument of the next without the client fetching it', async () => {
    const w = await h.enter({ module: 'complex' });
    const first = await w.invoke('t1', h.request('echo', [1, 2, 3, 4]));
    const ref = decodeObjectRef(first.output!);
    expect(await h.run(w, 'sumArray', [new ObjectRefArg(ref)])).toBe(10);
    // ...and as a keyword argument, and several at once.
    const refs = await Promise.all([5, 6, 7].map((n) => h.putValue([n, n])));
    expect(await h.run(w, 'echo', refs.map((r) => new ObjectRefArg(r)), { extra: new ObjectRefArg(ref) })).toEqual([
      [5, 5],
      [6, 6],
      [7, 7],
      { extra: [1, 2, 3, 4] },
    ]);
  });

  it('a task that overwrites a Buffer it got through an ObjectRef does not change what later tasks get', async () => {
    const w = await h.enter({ module: 'complex' });
    const ref = await h.putValue(Buffer.from([1, 2, 3, 4]));
    expect(ref.version).toBeGreaterThan(0); // so the worker's client answers repeats from its LRU
    for (let i = 0; i < 3; i++) {
      expect(Buffer.from((await h.run(w, 'scribble', [new ObjectRefArg(ref)])) as Uint8Array)).toEqual(Buffer.from([1, 2, 3, 4]));
    }
    // Two arguments naming the same ref in one task are two copies, too.
    expect(await h.run(w, 'scribbleTwice', [new ObjectRefArg(ref), new ObjectRefArg(ref)])).toEqual([
      Buffer.from([1, 2, 3, 4]),
      Buffer.from([1, 2, 3, 4]),
    ]);
  });

  it('user code reads the current task (CommonJS and ESM import of flmrun-js)', async () => {
    const w = await h.enter({ module: 'faulty' }, {}, 'ctx-session');
    const o = await w.invoke('task-7', h.request('taskInfo'));
    expect(await h.valueOf(o)).toEqual({ taskId: 'task-7', sessionId: 'ctx-session', appName: APP, aborted: false });
    const esm = await h.enter({ module: 'esm', init_args: ['hey'] });
    expect(await h.valueOf(await esm.invoke('task-8', h.request('greet', ['ann'])))).toBe('hey ann (task task-8)');
  });
});

describe('SessionSupervisor: logs', () => {
  it("user code's task logger writes through the main thread's logger, bound to session and task", async () => {
    const lines: Record<string, unknown>[] = [];
    const logger = pino({ level: 'info' }, { write: (line: string) => lines.push(JSON.parse(line) as Record<string, unknown>) }).child({ component: 'test' });
    const w = await h.enter({ module: 'faulty' }, { logger }, 'log-session');
    await h.valueOf(await w.invoke('log-task', h.request('taskInfo')));
    expect(lines).toContainEqual(expect.objectContaining({ msg: 'hello from the task', sessionId: 'log-session', taskId: 'log-task', component: 'test' }));
  });
});

describe('SessionSupervisor: a spec still in the making (the package being installed)', () => {
  it('forks the session process at once and enters the session when the spec arrives', async () => {
    let give!: (s: SessionSpec) => void;
    const spec = new Promise<SessionSpec>((resolve) => (give = resolve));
    const before = liveSessionChildren();
    const starting = SessionSupervisor.start(spec, { cacheEndpoint: h.endpoint });
    expect(liveSessionChildren()).toBe(before + 1);
    give({ sessionId: 'later', appName: APP, workDir: APP_ROOT });
    const w = await starting;
    try {
      expect(await h.run(w, null, [1, 2])).toBe(3);
    } finally {
      await w.close('test end');
    }
    expect(liveSessionChildren()).toBe(before);
  });

  it("ends the forked process and throws the spec's own failure when the spec fails", async () => {
    const before = liveSessionChildren();
    const failure = new FlmError(ErrorCode.InvalidInput, 'package file:///x.tgz: not a valid tar archive');
    const err = await SessionSupervisor.start(Promise.reject(failure), { cacheEndpoint: h.endpoint }).catch((e: unknown) => e);
    expect(err).toBe(failure);
    expect(liveSessionChildren()).toBe(before);
  });
});
