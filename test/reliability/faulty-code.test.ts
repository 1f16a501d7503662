/**
 * Issue 6.2 at the service level: user code that throws, rejects, exits,
 * spins, exhausts its heap, never settles, leaves resources open, or cannot
 * even load, driven through the real gRPC Instance service. Each fault fails
 * its own task (or session enter) with a clear message, the next task works,
 * and after every round session processes, file descriptors and sockets are back
 * at their baseline. (test/runner covers the SessionWorker mechanics; this
 * suite adds the service's view and the leak counts.)
 */
import { encodeRunnerContext } from '../../src/codecs';
import { startTestInstance, type TestInstance } from '../helpers/instance';
import { fixtureUrl, settledCounts, type ResourceCounts } from './helpers';

// The timeout is generous: tasks that must not time out run under it on a loaded machine too (issue 11.12).
const TIMEOUT_MS = 8000;
const HEAP_MB = 64;
const ROUNDS = 2;

const FAULTS: [name: string, method: string, args: unknown[], message: RegExp][] = [
  ['throws', 'throws', ['thrown on purpose'], /^TypeError: thrown on purpose\n\s+at .*index\.js:\d+:\d+/],
  ['rejects', 'rejects', ['rejected on purpose'], /^RangeError: rejected on purpose/],
  ['calls process.exit', 'exits', [4], /^user code called process\.exit\(4\)$/],
  ['loops forever past the timeout', 'spins', [], new RegExp(`^task timed out after ${TIMEOUT_MS} ms$`)],
  ['never settles its promise', 'never', [], new RegExp(`^task timed out after ${TIMEOUT_MS} ms$`)],
  ['opens a file and a server, then exits', 'leaksThenExits', [], /^user code called process\.exit\(5\)$/],
];

describe('faulty user code through the Instance service', () => {
  let t: TestInstance;
  let seq = 0;
  const enter = (sessionId: string, common?: Buffer) =>
    t.client.enter({ session_id: sessionId, application: { name: 'faulty-app', url: fixtureUrl('faulty') }, common_data: common });
  const invoke = (sessionId: string, method: string, args: unknown[] = []) =>
    t.client.invoke({ task_id: `t${++seq}`, session_id: sessionId, input: t.request(method, args) });

  beforeAll(async () => {
    t = await startTestInstance({ taskTimeoutMs: TIMEOUT_MS, workerHeapMb: HEAP_MB });
  });
  afterAll(async () => {
    await t?.close();
  });

  let baseline: ResourceCounts;
  it('warm-up round: a session, one good task, leave (channels and pools the process keeps open)', async () => {
    expect((await enter('warm')).return_code).toBe(0);
    expect(await t.valueOf(await invoke('warm', 'ok', [1]))).toBe(1);
    expect((await t.client.leave()).return_code).toBe(0);
    baseline = await settledCounts({ threads: 0, fds: Infinity, sockets: Infinity });
    expect(baseline.threads).toBe(0);
  });

  for (let round = 1; round <= ROUNDS; round++) {
    describe(`round ${round}`, () => {
      const sid = `round${round}`;
      beforeAll(async () => expect((await enter(sid)).return_code).toBe(0));

      it.each(FAULTS)('%s: the task fails with code 1 and a clear message; the next task works', async (_n, method, args, message) => {
        const res = await invoke(sid, method, args);
        expect(res.return_code).toBe(1);
        expect(res.message).toMatch(message);
        expect(res.output).toBeUndefined();
        expect(await t.valueOf(await invoke(sid, 'ok', [round]))).toBe(round);
      });

      it('leaves resources open and returns: the task succeeds; leave reclaims them', async () => {
        expect(await t.valueOf(await invoke(sid, 'leaks'))).toBe('leaked');
        expect((await t.client.leave()).return_code).toBe(0);
      });

      it('after the round: no session process, file descriptor or socket left behind', async () => {
        const after = await settledCounts(baseline);
        expect(after).toEqual({ threads: baseline.threads, fds: baseline.fds, sockets: baseline.sockets });
      });
    });
  }

  it('exhausts its heap, slowly or at once: only the session process ends; the next task works', async () => {
    // Its own instance without a task timeout: how fast the heap fills must not matter (issue 11.12).
    const heap = await startTestInstance({ taskTimeoutMs: 0, workerHeapMb: HEAP_MB });
    try {
      const expected = `the session process ran out of memory (heap limit ${HEAP_MB} MB, --worker-heap-mb)`;
      expect((await heap.client.enter({ session_id: 'heap', application: { name: 'faulty-app', url: fixtureUrl('faulty') } })).return_code).toBe(0);
      for (const method of ['hog', 'bigString', 'bigBuffer']) {
        const res = await heap.client.invoke({ task_id: method, session_id: 'heap', input: heap.request(method) });
        expect(res).toMatchObject({ return_code: 1, message: expected });
        expect(await heap.valueOf(await heap.client.invoke({ task_id: 'ok', session_id: 'heap', input: heap.request('ok', [method]) }))).toBe(method);
      }
    } finally {
      await heap.close();
    }
  });

  it('a module whose top level throws fails session enter with code 2 and the user frame; no session process is left', async () => {
    const res = await enter('toplevel', encodeRunnerContext({ module: 'toplevel-throws.js', stateful: false, autoscale: false, warmup: 0 }));
    expect(res.return_code).toBe(2);
    expect(res.message).toMatch(/threw while loading: Error: cannot start: the fixture refuses to load\n\s+at .*toplevel-throws\.js:2:7/);
    expect((await invoke('toplevel', 'ok', [1])).return_code).toBe(2); // no session was kept
    expect((await enter('after-toplevel')).return_code).toBe(0);
    expect(await t.valueOf(await invoke('after-toplevel', 'ok', ['fine']))).toBe('fine');
    expect((await t.client.leave()).return_code).toBe(0);
    const after = await settledCounts(baseline);
    expect(after).toEqual({ threads: baseline.threads, fds: baseline.fds, sockets: baseline.sockets });
  });

  // Ten session processes start one after another: the limit is only a hang guard on a loaded machine.
  it('session enter of a faulty module, 10 times over: nothing accumulates', async () => {
    for (let i = 0; i < 10; i++) {
      const res = await enter(`again${i}`, encodeRunnerContext({ module: 'toplevel-throws.js', stateful: false, autoscale: false, warmup: 0 }));
      expect(res.return_code).toBe(2);
    }
    const after = await settledCounts(baseline);
    expect(after).toEqual({ threads: baseline.threads, fds: baseline.fds, sockets: baseline.sockets });
  }, 600_000);
});
