/**
 * Issue 6.1: the object cache is a separate process that dies, comes back, or
 * answers slowly. flmrun-js (pointed at it as an external endpoint, as in
 * Flame) must fail the affected tasks with code 3 naming the endpoint within
 * the configured cache deadline, and serve again once the cache is back,
 * without being restarted.
 */
import { encodeObjectRef } from '../../src/wire/object-ref';
import { encodeRunnerContext, encodeRunnerRequest, ObjectRefArg } from '../../src/codecs';
import { CacheClient } from '../../src/cache/client';
import { resolveServeOptions, DEFAULTS } from '../../src/config';
import { startTestInstance, fixtureUrl, type TestInstance } from '../helpers/instance';
import { CacheProcess, sleep } from './helpers';
import { freePort } from '../helpers/ports';
import { SlowProxy } from './slow-proxy';

const DEADLINE_MS = 1500;
// The upper bounds below tell "ended at the configured deadline" from "waited out the 30 s default deadline or hung",
// not how fast the machine is: the slack is wide enough for a shared, loaded machine (an enter also boots a session
// process) and still far below the default.
const SLACK_MS = 12_000;

async function timed<T>(p: Promise<T>): Promise<{ value: T; ms: number }> {
  const t0 = Date.now();
  const value = await p;
  return { value, ms: Date.now() - t0 };
}

describe('the cache deadline option', () => {
  it('defaults to 30 s and refuses what is not a whole number from 1 to 2^31-1, naming the flag', () => {
    expect(DEFAULTS.cacheDeadlineMs).toBe(30_000);
    expect(DEADLINE_MS + SLACK_MS).toBeLessThan(DEFAULTS.cacheDeadlineMs / 2);
    expect(resolveServeOptions({ socketPath: '/tmp/x.sock' }).cacheDeadlineMs).toBe(30_000);
    for (const bad of [0, -1, 1.5, NaN]) {
      expect(() => resolveServeOptions({ socketPath: '/tmp/x.sock', cacheDeadlineMs: bad })).toThrow(/--cache-deadline-ms must be a whole number from 1 to 2147483647/);
    }
  });
});

describe('cache outage: the cache process is killed and restarted', () => {
  let cache: CacheProcess;
  let t: TestInstance;
  let seq = 0;
  const sum = (a: number, b: number) =>
    t.client.invoke({ task_id: String(++seq), session_id: 's1', input: t.request('sum', [a, b]) });

  beforeAll(async () => {
    cache = new CacheProcess(await freePort());
    await cache.start();
    t = await startTestInstance({ cacheEndpoint: cache.endpoint, cacheDeadlineMs: DEADLINE_MS });
    expect(t.running.cacheEndpoint).toBe(cache.endpoint); // not the embedded cache
    expect((await t.client.enter({ session_id: 's1', application: { name: 'app', url: fixtureUrl('calc') } })).return_code).toBe(0);
  });
  afterAll(async () => {
    await t?.close();
    await cache?.kill();
  });

  it('serves while the cache is up', async () => {
    expect(await t.valueOf(await sum(1, 2))).toBe(3);
  });

  it('a task running when the cache dies fails with code 3 naming the endpoint', async () => {
    const running = t.client.invoke({ task_id: 'slow', session_id: 's1', input: t.request('slow', [600, 'late']) });
    await sleep(150);
    await cache.kill();
    const { value: res, ms } = await timed(running);
    expect(res.return_code).toBe(3);
    expect(res.message).toContain(cache.endpoint);
    expect(ms).toBeLessThan(600 + DEADLINE_MS + SLACK_MS);
  });

  it('every task while it is down fails with code 3 within the deadline; none hangs', async () => {
    for (let i = 0; i < 5; i++) {
      const { value: res, ms } = await timed(sum(i, i));
      expect(res.return_code).toBe(3);
      expect(res.message).toMatch(/cannot store the result/);
      expect(res.message).toContain(cache.endpoint);
      expect(ms).toBeLessThan(DEADLINE_MS + SLACK_MS);
    }
  });

  it('a session whose context lives in the dead cache fails enter with code 3', async () => {
    const ref = { endpoint: cache.endpoint, key: 'app/contexts/x', version: 1 };
    const { value: res, ms } = await timed(
      t.client.enter({ session_id: 's2', application: { name: 'app', url: fixtureUrl('calc') }, common_data: encodeObjectRef(ref) }),
    );
    expect(res.return_code).toBe(3);
    expect(res.message).toContain(cache.endpoint);
    expect(ms).toBeLessThan(DEADLINE_MS + SLACK_MS);
    expect((await t.client.enter({ session_id: 's1', application: { name: 'app', url: fixtureUrl('calc') } })).return_code).toBe(0);
  });

  it('the cache restarted on the same port: the very next task succeeds, flmrun-js not restarted', async () => {
    // Let the cache client's reconnect backoff grow first, as in a real outage.
    await sleep(1500);
    await cache.start();
    expect(await t.valueOf(await sum(20, 22))).toBe(42);
    for (let i = 0; i < 10; i++) expect(await t.valueOf(await sum(i, 1))).toBe(i + 1);
  });

  it('a stateful session survives an outage: the failed write-back fails its task, the next task persists again', async () => {
    const direct = new CacheClient({ endpoint: cache.endpoint });
    try {
      const ctx = encodeRunnerContext({ export: 'Counter', stateful: true, autoscale: false, warmup: 0 });
      const ctxRef = await direct.put('app/contexts', { kind: 'opaque', chunks: [ctx] });
      const enter = () => t.client.enter({ session_id: 'st', application: { name: 'app', url: fixtureUrl('calc') }, common_data: encodeObjectRef(ctxRef) });
      const inc = () => t.client.invoke({ task_id: 'inc', session_id: 'st', input: t.request('increment') });
      expect((await enter()).return_code).toBe(0);
      expect(await t.valueOf(await inc())).toBe(1);
      await cache.kill();
      expect((await inc()).return_code).toBe(3); // state write-back fails: the task fails
      await cache.start(); // memory-only cache: everything it held is gone
      // The failed task's effect on the live instance stays (as in the Python runner);
      // the next successful task persists it: the write-back re-creates the context object.
      expect(await t.valueOf(await inc())).toBe(3);
      const stored = await direct.get({ ...ctxRef, version: 0 });
      expect(stored.version).toBeGreaterThanOrEqual(1);
    } finally {
      direct.close();
    }
  });
});

describe('slow cache: a TCP proxy that delays every byte', () => {
  let cache: CacheProcess;
  let proxy: SlowProxy;
  let t: TestInstance;

  beforeAll(async () => {
    cache = new CacheProcess(await freePort());
    await cache.start();
    proxy = new SlowProxy(cache.port, 0);
    await proxy.start();
    t = await startTestInstance({ cacheEndpoint: proxy.endpoint, cacheDeadlineMs: DEADLINE_MS });
    expect((await t.client.enter({ session_id: 'slow', application: { name: 'app', url: fixtureUrl('calc') } })).return_code).toBe(0);
  });
  afterAll(async () => {
    await t?.close();
    await proxy?.close();
    await cache?.kill();
  });
  const sum = () => t.client.invoke({ task_id: 'x', session_id: 'slow', input: t.request('sum', [2, 3]) });
  // setDelay cuts the proxy's connections; give the client a moment to see the close,
  // so that the next call meets the new delay rather than the cut.
  const delay = (ms: number) => {
    proxy.setDelay(ms);
    return sleep(100);
  };

  it('a cache slower than usual but within the deadline: tasks succeed', async () => {
    await delay(100);
    expect((await sum()).return_code).toBe(0);
  });

  it('a cache slower than the deadline: the task fails with code 3 at the deadline, naming the endpoint', async () => {
    await delay(DEADLINE_MS * 3);
    const { value: res, ms } = await timed(sum());
    expect(res.return_code).toBe(3);
    expect(res.message).toContain(proxy.endpoint);
    expect(res.message).toMatch(/DEADLINE_EXCEEDED|deadline/i);
    expect(ms).toBeGreaterThanOrEqual(DEADLINE_MS - 50);
    expect(ms).toBeLessThan(DEADLINE_MS + SLACK_MS);
  });

  it('a cache that accepts and never answers: an ObjectRef argument fetch fails at the deadline', async () => {
    await delay(Infinity);
    const ref = { endpoint: proxy.endpoint, key: 'app/slow/obj', version: 1 };
    const input = encodeRunnerRequest({ method: 'sum', args: [new ObjectRefArg(ref), 1], kwargs: null });
    const { value: res, ms } = await timed(t.client.invoke({ task_id: 'y', session_id: 'slow', input }));
    expect(res.return_code).toBe(3);
    expect(res.message).toContain('app/slow/obj');
    expect(res.message).toContain(proxy.endpoint);
    expect(ms).toBeLessThan(DEADLINE_MS + SLACK_MS);
  });

  it('the cache fast again (its connections cut): the next task succeeds', async () => {
    await delay(0);
    const res = await sum();
    expect(res.message).toBeUndefined();
    expect(res.return_code).toBe(0);
  });
});
