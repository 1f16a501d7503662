/**
 * Everything a client or user code can do wrong answers a clear non-zero
 * code, and the next good task still succeeds.
 */
import fs from 'node:fs';
import path from 'node:path';
import { BSON } from 'bson';
import { encodeRunnerRequest, ObjectRefArg } from '../../src/codecs/request';
import { isFlmError, ReturnCode } from '../../src/errors';
import { liveSessionChildren, type SessionSupervisor } from '../../src/runner/supervisor';
import { makeTempDir, removeDir } from '../helpers/tmp';
import { Harness, useHarness } from './harness';

const harness = useHarness();
let h: Harness;
beforeAll(() => {
  h = harness();
});

async function expectOk(w: SessionSupervisor): Promise<void> {
  expect(await h.run(w, 'ok')).toBe('ok');
}

describe('bad input answers code 2', () => {
  let w: SessionSupervisor;
  beforeEach(async () => {
    w = await h.enter({ module: 'faulty' });
  });

  it.each([
    ['undecodable bytes', Buffer.from([1, 2, 3, 4, 5, 6]), /./],
    ['empty input', Buffer.alloc(0), /task input is empty/],
    ['wrong field types', Buffer.from(BSON.serialize({ method: 5, args: 'x' })), /method/],
    ['unknown method', encodeRunnerRequest({ method: 'nope' }), /^unknown method 'nope': faulty.js default export has methods: calls, exits, hangs, hog, honorsAbort, ok, rejects, returnsFunction, spins, taskInfo, throwsString, throwsType, uncaughtLater$/],
    ['non-function attribute', encodeRunnerRequest({ method: 'value' }), /^'value' of faulty.js default export is a number, not a method/],
    ['no method for an object', encodeRunnerRequest({ method: null }), /names no method/],
  ])('%s', async (_name, input, message) => {
    const o = await w.invoke('bad', input);
    expect(o.returnCode).toBe(ReturnCode.InvalidInput);
    expect(o.message).toMatch(message);
    await expectOk(w);
  });

  it('an ObjectRef argument that is not in the cache (2) or whose cache is unreachable (3)', async () => {
    const missing = await w.invoke('t', h.request('ok', [new ObjectRefArg({ endpoint: h.endpoint, key: 'runner-test/none/x1', version: 0 })]));
    expect(missing.returnCode).toBe(ReturnCode.InvalidInput);
    expect(missing.message).toContain(`cannot fetch argument 0 (runner-test/none/x1) from the cache at ${h.endpoint}`);
    const down = await w.invoke('t', h.request('ok', [new ObjectRefArg({ endpoint: 'grpc://127.0.0.1:1', key: 'runner-test/a/b', version: 0 })]));
    expect(down.returnCode).toBe(ReturnCode.Unavailable);
    expect(down.message).toContain('cannot fetch argument 0 (runner-test/a/b) from the cache at grpc://127.0.0.1:1');
    await expectOk(w);
  });
});

describe('a module that fails to load is reported at session enter', () => {
  it.each([
    ['not found', { module: 'missing/module.js' }, /^module not found: 'missing\/module.js'/],
    ['syntax error', { module: 'broken/syntax.js' }, /^syntax error in broken\/syntax.js:\d+: /],
    ['top-level throw', { module: 'broken/throws.js' }, /threw while loading: Error: cannot start: missing config\n {4}at init \(broken\/throws.js:2:9\)/],
    ['missing export', { module: 'calc', export: 'Nope' }, /^export 'Nope' not found: calc.js has no 'Nope'/],
    ['process.exit at load', { module: 'broken/exits.js' }, /^the session could not be entered: user code called process.exit\(7\) while loading the module$/],
    ['undecodable common data', undefined, /^session common data: pickle is truncated/],
  ])('%s', async (_name, context, message) => {
    const before = liveSessionChildren();
    const entering = context ? h.enter(context) : h.enterWith(Buffer.from([0x80, 0x04, 0x95, 0x00]));
    const err: unknown = await entering.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isFlmError(err)).toBe(true);
    expect((err as { returnCode: number }).returnCode).toBe(ReturnCode.InvalidInput);
    expect(err).toMatchObject({ message: expect.stringMatching(message) });
    await waitFor(() => liveSessionChildren() === before);
  });
});

it('a module whose top-level await never settles meets the start timeout', async () => {
  const err = await h.enter({ module: 'broken/hangs.mjs' }, { startTimeoutMs: 300 }).catch((e: unknown) => e);
  expect(err).toMatchObject({ message: "the user's module did not finish loading within 300 ms (startTimeoutMs)" });
  expect((err as { returnCode: number }).returnCode).toBe(ReturnCode.InvalidInput);
  await waitFor(() => liveSessionChildren() === 0);
});

describe('user code failures fail that task only (code 1)', () => {
  it('throws: class, message and the user frames', async () => {
    const w = await h.enter({ module: 'faulty' });
    const o = await w.invoke('t', h.request('throwsType', [5]));
    expect(o.returnCode).toBe(ReturnCode.GeneralError);
    expect(o.output).toBeUndefined();
    expect(o.message).toMatch(/^TypeError: x.map is not a function\n {4}at add \(lib\/math.js:2:12\)\n {4}at exports.throwsType \(faulty.js:5:\d+\)$/);
    await expectOk(w);
  });

  it('rejects, throws a non-Error, returns what cannot be stored', async () => {
    const w = await h.enter({ module: 'faulty' });
    const rejected = await w.invoke('t', h.request('rejects'));
    expect(rejected.returnCode).toBe(1);
    expect(rejected.message).toMatch(/^RangeError: no such range\n {4}at exports.rejects \(faulty.js:\d+:\d+\)/);
    expect(await w.invoke('t', h.request('throwsString'))).toMatchObject({ returnCode: 1, message: 'thrown string: just a string' });
    const fn = await w.invoke('t', h.request('returnsFunction'));
    expect(fn.returnCode).toBe(1);
    expect(fn.message).toMatch(/^the result of returnsFunction cannot be stored: .*type Function/);
    await expectOk(w);
  });

  it('calls process.exit: the session process is replaced, the module reloaded', async () => {
    const w = await h.enter({ module: 'faulty' });
    expect(await h.run(w, 'calls')).toBe(1);
    expect(await w.invoke('t', h.request('exits', [3]))).toMatchObject({ returnCode: 1, message: 'user code called process.exit(3)' });
    expect(await h.run(w, 'calls')).toBe(1); // a fresh module instance
    expect(liveSessionChildren()).toBe(1);
  });

  it('throws from a timer outside the task', async () => {
    const w = await h.enter({ module: 'faulty' });
    const o = await w.invoke('t', h.request('uncaughtLater'));
    expect(o.returnCode).toBe(1);
    expect(o.message).toMatch(/^uncaught exception in user code: Error: thrown from a timer\n {4}at Timeout._onTimeout \(faulty.js:\d+:\d+\)/);
    await expectOk(w);
  });

  // Timeouts are generous: a task that must not time out (ok, calls) still runs under them on a loaded machine.
  it('blocks the event loop past the timeout while the main thread stays responsive', async () => {
    const w = await h.enter({ module: 'faulty' }, { taskTimeoutMs: 8000, abortGraceMs: 100 });
    const pending = w.invoke('t', h.request('spins'));
    // Had the loop run on this thread, the task would settle before any timer here could fire.
    const first = await Promise.race([pending.then(() => 'task'), new Promise((r) => setTimeout(() => r('main thread timer'), 20))]);
    expect(first).toBe('main thread timer');
    const o = await pending;
    expect(o).toMatchObject({ returnCode: 1, message: 'task timed out after 8000 ms' });
    await expectOk(w);
  });

  it('never settles: timed out; a task that honours its signal keeps its process', async () => {
    const w = await h.enter({ module: 'faulty' }, { taskTimeoutMs: 8000 });
    expect(await w.invoke('t', h.request('hangs'))).toMatchObject({ returnCode: 1, message: 'task timed out after 8000 ms' });
    expect(await h.run(w, 'calls')).toBe(1);
    expect(await w.invoke('t', h.request('honorsAbort'))).toMatchObject({ returnCode: 1, message: 'task timed out after 8000 ms' });
    expect(await h.run(w, 'calls')).toBe(2); // same worker, same module instance
  });

  it('exhausts its heap', async () => {
    const w = await h.enter({ module: 'faulty' }, { workerHeapMb: 48 });
    expect(await w.invoke('t', h.request('hog'))).toMatchObject({ returnCode: 1, message: 'the session process ran out of memory (heap limit 48 MB, --worker-heap-mb)' });
    await expectOk(w);
  });

  it('restores the state of an inline stateful context after a crash', async () => {
    const w = await h.enter({ module: 'counter', stateful: true });
    expect(await h.run(w, 'increment', [4])).toBe(4);
    expect((await w.invoke('t', h.request('crash'))).message).toBe('user code called process.exit(9)');
    expect(await h.run(w, 'get')).toEqual({ count: 4, history: [4] });
  });
});

describe('session leave', () => {
  let dir: string;
  beforeEach(() => {
    dir = makeTempDir();
  });
  afterEach(() => removeDir(dir));

  it('disposes the execution object and ends the session process; idempotent', async () => {
    const marker = path.join(dir, 'disposed');
    const before = liveSessionChildren();
    const w = await h.enter({ module: 'disposable', init_args: [marker] });
    expect(await h.run(w, 'ping')).toBe('pong');
    await Promise.all([w.close(), w.close()]);
    expect(fs.readFileSync(marker, 'utf8')).toBe('disposed');
    expect(liveSessionChildren()).toBe(before);
    expect(await w.invoke('t', h.request('ping'))).toMatchObject({ returnCode: 2, message: expect.stringContaining('has left') });
  });

  it('aborts the running task signal, and forces a disposal that hangs', async () => {
    const marker = path.join(dir, 'm');
    const w = await h.enter({ module: 'disposable', init_args: [marker, true] }, { closeTimeoutMs: 300 });
    const pending = w.invoke('t', h.request('wait'));
    await waitFor(() => liveSessionChildren() > 0);
    await new Promise((r) => setTimeout(r, 50));
    await w.close('shutdown');
    expect(fs.existsSync(marker + '.aborted')).toBe(true);
    const o = await pending;
    // The task saw its signal and settled (and was stored) or was cut off by the forced end: either way it answers.
    expect([0, 1]).toContain(o.returnCode);
  });

  it('a task that ignores its signal is cut off at leave, with a clear message', async () => {
    const w = await h.enter({ module: 'faulty' }, { closeTimeoutMs: 500 });
    const pending = w.invoke('t', h.request('spins'));
    await new Promise((r) => setTimeout(r, 50));
    await w.close('shutdown');
    expect(await pending).toMatchObject({ returnCode: 1, message: 'task aborted: session left (shutdown) while the task was running' });
  });
});

async function waitFor(cond: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}
