/**
 * The spare session process (src/runner/spare-process.ts): an enter takes it,
 * a new one is started only once the session is over, one that dies while
 * idle is replaced and never handed out, and close() leaves no process.
 */
import pino from 'pino';
import { ErrorCode, FlmError } from '../../src/errors';
import { liveSessionChildren, SessionSupervisor, type SessionSpec } from '../../src/runner/supervisor';
import { SpareProcess } from '../../src/runner/spare-process';
import { APP, APP_ROOT, Harness, useHarness } from './harness';

const harness = useHarness();
let h: Harness;
beforeAll(() => {
  h = harness();
});

const spec = (sessionId: string): SessionSpec => ({ sessionId, appName: APP, workDir: APP_ROOT });

async function until(what: string, ok: () => boolean): Promise<void> {
  for (let i = 0; i < 6000 && !ok(); i++) await new Promise((r) => setTimeout(r, 10));
  if (!ok()) throw new Error(`never: ${what}`);
}

function processGone(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return false;
  } catch {
    return true;
  }
}

describe('SpareProcess', () => {
  let spare: SpareProcess;
  let before: number;
  beforeEach(() => {
    before = liveSessionChildren();
    spare = new SpareProcess(undefined, pino({ level: 'silent' }));
  });
  afterEach(async () => {
    await spare.close();
    await until('every session process ended', () => liveSessionChildren() === before);
  });

  it('an enter takes the spare; a new one starts when the session leaves, and the next session takes that', async () => {
    spare.refill();
    const first = spare.pid!;
    expect(first).toBeGreaterThan(0);
    expect(liveSessionChildren()).toBe(before + 1);

    const w = await SessionSupervisor.start(spec('one'), { cacheEndpoint: h.endpoint, spare });
    expect(w.childPid).toBe(first);
    // No second process while the session runs: its spare would compete with the enter for the CPU.
    expect(spare.pid).toBeUndefined();
    expect(liveSessionChildren()).toBe(before + 1);
    expect(await h.run(w, null, [2, 3])).toBe(5);
    await w.close('test end');

    const second = spare.pid!;
    expect(second).toBeGreaterThan(0);
    expect(second).not.toBe(first);
    const w2 = await SessionSupervisor.start(spec('two'), { cacheEndpoint: h.endpoint, spare });
    try {
      expect(w2.childPid).toBe(second);
      expect(await h.run(w2, null, [4, 5])).toBe(9);
    } finally {
      await w2.close('test end');
    }
  });

  it("the session's log lines reach the session's logger, not the spare's", async () => {
    const spareLines: string[] = [];
    spare = new SpareProcess(undefined, pino({ level: 'info' }, { write: (l: string) => spareLines.push(l) }));
    spare.refill();
    const lines: Record<string, unknown>[] = [];
    const logger = pino({ level: 'info' }, { write: (l: string) => lines.push(JSON.parse(l) as Record<string, unknown>) });
    const w = await h.enter({ module: 'faulty' }, { logger, spare }, 'spare-log');
    try {
      await h.valueOf(await w.invoke('log-task', h.request('taskInfo')));
    } finally {
      await w.close('test end');
    }
    expect(lines).toContainEqual(expect.objectContaining({ msg: 'hello from the task', sessionId: 'spare-log', taskId: 'log-task' }));
    expect(spareLines).toEqual([]);
  });

  it('a spare killed while idle is replaced, and an enter right after its death gets a working process', async () => {
    spare.refill();
    const dead = spare.pid!;
    process.kill(dead, 'SIGKILL');
    // Entered before the spare's end is even noticed: the dead process is not handed out.
    const w = await SessionSupervisor.start(spec('after-death'), { cacheEndpoint: h.endpoint, spare });
    try {
      expect(w.childPid).not.toBe(dead);
      expect(await h.run(w, null, [1, 1])).toBe(2);
    } finally {
      await w.close('test end');
    }
    await until('a spare again', () => spare.pid !== undefined && spare.pid !== dead);
  });

  it('a spare that keeps dying while idle is replaced a few times only; enters still work', async () => {
    const pids = new Set<number>();
    spare.refill();
    for (let i = 0; i < 10 && spare.pid !== undefined; i++) {
      const pid = spare.pid;
      pids.add(pid);
      process.kill(pid, 'SIGKILL');
      await until('the killed spare noticed', () => spare.pid !== pid);
    }
    expect(spare.pid).toBeUndefined();
    expect(pids.size).toBe(3);
    const w = await SessionSupervisor.start(spec('no-spare-left'), { cacheEndpoint: h.endpoint, spare });
    try {
      expect(await h.run(w, null, [3, 4])).toBe(7);
    } finally {
      await w.close('test end');
    }
    // A session used a process: spares are started again.
    expect(spare.pid).toBeGreaterThan(0);
  });

  it('a failed install ends the taken spare and starts a new one', async () => {
    spare.refill();
    const first = spare.pid!;
    const failure = new FlmError(ErrorCode.InvalidInput, 'package file:///x.tgz: not a valid tar archive');
    const err = await SessionSupervisor.start(Promise.reject(failure), { cacheEndpoint: h.endpoint, spare }).catch((e: unknown) => e);
    expect(err).toBe(failure);
    await until('the taken spare ended', () => processGone(first));
    expect(spare.pid).toBeGreaterThan(0);
    expect(spare.pid).not.toBe(first);
  });

  it('close() ends the spare and starts no other, even when a session leaves afterwards', async () => {
    const w = await SessionSupervisor.start(spec('closing'), { cacheEndpoint: h.endpoint, spare });
    spare.refill();
    const pid = spare.pid!;
    await spare.close();
    expect(processGone(pid)).toBe(true);
    await w.close('test end');
    expect(spare.pid).toBeUndefined();
    expect(liveSessionChildren()).toBe(before);
  });
});
