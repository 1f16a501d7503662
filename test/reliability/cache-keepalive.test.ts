/**
 * serve --cache-keepalive-ms reaches the session process's cache client: a cache that accepts a task's
 * result put and then goes silent (reads, answers nothing, not even PINGs) fails the task with code 3
 * by keepalive (1 s, the flag's minimum: found dead in 2-3 s), before its cache deadline (15 s), which
 * the client's own default keepalive (10 s, so 20-30 s to find the connection dead) would not beat: the
 * option must have reached it.
 */
import { resolveServeOptions, DEFAULTS } from '../../src/config';
import { keepaliveOptions } from '../../src/cache/client';
import { startTestInstance, fixtureUrl, type TestInstance } from '../helpers/instance';
import { RawServer } from '../cache/h2/raw-peer';

describe('the cache keepalive option', () => {
  it('defaults to 10 s, 0 turns it off, and anything not 0 or a whole number from 1000 ms is refused naming the flag', () => {
    expect(DEFAULTS.cacheKeepaliveMs).toBe(10_000);
    expect(resolveServeOptions({ socketPath: '/tmp/x.sock', cacheKeepaliveMs: 0 }).cacheKeepaliveMs).toBe(0);
    for (const bad of [-1, 1.5, NaN, 1, 999, 2 ** 31]) {
      expect(() => resolveServeOptions({ socketPath: '/tmp/x.sock', cacheKeepaliveMs: bad })).toThrow(/--cache-keepalive-ms must be 0 \(off\) or a whole number from 1000 to 2147483647/);
    }
    expect(keepaliveOptions(0)).toEqual({ keepaliveMs: 0, keepaliveTimeoutMs: undefined });
    expect(keepaliveOptions(250)).toEqual({ keepaliveMs: 250, keepaliveTimeoutMs: 250 });
    expect(keepaliveOptions(undefined)).toEqual({});
  });
});

describe('a cache gone silent under a task', () => {
  let cache: RawServer & { endpoint: NonNullable<RawServer['endpoint']> };
  let t: TestInstance | undefined;

  beforeAll(async () => {
    cache = await RawServer.start({ onBody: () => undefined, onPing: () => false });
  });
  afterAll(async () => {
    await t?.close();
    await cache.close();
  });

  it('the task fails with code 3 by keepalive, not at the deadline', async () => {
    const endpoint = `grpc://${cache.endpoint.target}`;
    t = await startTestInstance({ cacheEndpoint: endpoint, cacheDeadlineMs: 15_000, cacheKeepaliveMs: 1000 });
    expect((await t.client.enter({ session_id: 'ka', application: { name: 'app', url: fixtureUrl('calc') } })).return_code).toBe(0);
    const res = await t.client.invoke({ task_id: '1', session_id: 'ka', input: t.request('sum', [2, 3]) });
    expect(res.return_code).toBe(3);
    expect(res.message).toContain('keepalive PING');
    expect(res.message).toContain(cache.endpoint.target);
    expect(cache.requests).toBeGreaterThanOrEqual(1);
  });
});
