/**
 * What user code cannot do to the instance process (issue 11.1, 11.14): run
 * it out of memory, kill it, signal it, leave subprocesses behind. Each case
 * failed (or took the test process down) when user code ran in a worker thread.
 */
import { ReturnCode } from '../../src/errors';
import { eventually, processAlive } from '../helpers/processes';
import { Harness, useHarness } from './harness';

const harness = useHarness();
let h: Harness;
beforeAll(() => {
  h = harness();
});

describe('memory', () => {
  it.each(['bigString', 'bigBuffer'])('%s past the heap limit fails that task naming the limit; the next task works', async (method) => {
    const w = await h.enter({ module: 'hostile' }, { workerHeapMb: 128 });
    const o = await w.invoke('t', h.request(method));
    expect(o).toMatchObject({ returnCode: ReturnCode.GeneralError });
    expect(o.message).toBe('the session process ran out of memory (heap limit 128 MB, --worker-heap-mb)');
    expect(await h.run(w, 'ok')).toBe('ok');
  });
});

describe("user code's process", () => {
  it('killing its own process ends only the session process', async () => {
    const w = await h.enter({ module: 'hostile' });
    const o = await w.invoke('t', h.request('killsItself'));
    expect(o.returnCode).toBe(ReturnCode.GeneralError);
    expect(o.message).toMatch(/^the session process was killed by SIGKILL from outside flmrun-js/);
    expect(await h.run(w, 'ok')).toBe('ok');
  });

  it('process.exit and process.abort end only the session process', async () => {
    const w = await h.enter({ module: 'hostile' });
    expect(await w.invoke('t', h.request('exits'))).toMatchObject({ returnCode: 1, message: 'user code called process.exit(0)' });
    expect(await w.invoke('t', h.request('aborts'))).toMatchObject({ returnCode: 1, message: 'user code called process.abort()' });
    expect(await h.run(w, 'ok')).toBe('ok');
  });

  it('may not signal the instance process', async () => {
    const w = await h.enter({ module: 'hostile' });
    expect(await h.run(w, 'signalsInstance')).toBe('EPERM');
  });

  it('subprocesses it spawned end when the session leaves', async () => {
    const w = await h.enter({ module: 'hostile' });
    const pid = (await h.run(w, 'spawnsSleeper')) as number;
    expect(processAlive(pid)).toBe(true);
    await w.close();
    await eventually(() => !processAlive(pid));
  });

  it('subprocesses of a session process that ended are ended with it', async () => {
    const w = await h.enter({ module: 'hostile' });
    const pid = (await h.run(w, 'spawnsSleeper')) as number;
    expect((await w.invoke('t', h.request('exits'))).returnCode).toBe(1);
    await eventually(() => !processAlive(pid));
    expect(await h.run(w, 'ok')).toBe('ok');
  });
});

describe("the session process's environment", () => {
  const saved = { GLIBC_TUNABLES: process.env.GLIBC_TUNABLES, FLMRUN_SESSION_GLIBC_TUNABLES: process.env.FLMRUN_SESSION_GLIBC_TUNABLES };
  afterEach(() => {
    for (const [name, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  });

  it("asks glibc's malloc for huge pages when the instance's environment says nothing", async () => {
    delete process.env.GLIBC_TUNABLES;
    delete process.env.FLMRUN_SESSION_GLIBC_TUNABLES;
    const w = await h.enter({ module: 'hostile' });
    expect(await h.run(w, 'envVar', ['GLIBC_TUNABLES'])).toBe('glibc.malloc.hugetlb=1');
  });

  it.each(['glibc.malloc.arena_max=2', ''])('keeps a GLIBC_TUNABLES the user set (%j)', async (value) => {
    delete process.env.FLMRUN_SESSION_GLIBC_TUNABLES;
    process.env.GLIBC_TUNABLES = value;
    const w = await h.enter({ module: 'hostile' });
    expect(await h.run(w, 'envVar', ['GLIBC_TUNABLES'])).toBe(value);
  });

  it.each([undefined, 'glibc.malloc.arena_max=2'])(
    'gives it FLMRUN_SESSION_GLIBC_TUNABLES as its GLIBC_TUNABLES, before serve\'s own (%j)',
    async (serveOwn) => {
      if (serveOwn === undefined) delete process.env.GLIBC_TUNABLES;
      else process.env.GLIBC_TUNABLES = serveOwn;
      process.env.FLMRUN_SESSION_GLIBC_TUNABLES = 'glibc.malloc.hugetlb=1:glibc.malloc.trim_threshold=134217728';
      const w = await h.enter({ module: 'hostile' });
      expect(await h.run(w, 'envVar', ['GLIBC_TUNABLES'])).toBe('glibc.malloc.hugetlb=1:glibc.malloc.trim_threshold=134217728');
    },
  );

  it('keeps its young generation at one fixed size, 8 MiB per semi-space, however much a task allocates', async () => {
    // Left to V8, it grows from 1 MiB per semi-space over tens of thousands of small tasks (RSS climbs long after
    // warm-up), and on Node 22+ to 32 MiB or more (docs/benchmarks.md, section 6).
    const w = await h.enter({ module: 'hostile' });
    const young = (await h.run(w, 'youngGeneration')) as { flags: string[]; capacityMiB: number };
    expect(young.flags).toEqual(expect.arrayContaining(['--min-semi-space-size=8', '--max-semi-space-size=8']));
    expect(young.capacityMiB).toBeLessThanOrEqual(16);
  });
});

describe('leave and cancellation', () => {
  it('leave stops a task that spins, with no task timeout, within the grace', async () => {
    const w = await h.enter({ module: 'hostile' }, { closeTimeoutMs: 200 });
    const pending = w.invoke('t', h.request('spins'));
    await eventually(() => w.stateName === 'running');
    await w.close('session leave');
    expect(await pending).toMatchObject({ returnCode: 1, message: 'task aborted: session left (session leave) while the task was running' });
    expect(w.stateName).toBe('closed');
  });

  it('a task whose caller gave up before it started is not started', async () => {
    const w = await h.enter({ module: 'hostile' });
    const ac = new AbortController();
    ac.abort();
    expect(await w.invoke('t', h.request('spins'), ac.signal)).toMatchObject({ returnCode: ReturnCode.Unavailable });
    expect(await h.run(w, 'ok')).toBe('ok');
  });

  it("a running task sees its signal fire when its caller gives up", async () => {
    const w = await h.enter({ module: 'hostile' });
    const ac = new AbortController();
    const pending = w.invoke('t', h.request('waitForAbort'), ac.signal);
    await eventually(() => w.stateName === 'running');
    ac.abort();
    expect(await h.valueOf(await pending)).toBe('aborted: the caller cancelled the call');
  });
});
