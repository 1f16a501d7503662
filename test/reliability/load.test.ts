/**
 * Issue 6.4, load: 64 concurrent clients, each on its own gRPC connection,
 * against one instance. The service serializes operations (one task at a
 * time per instance, as Flame's executor manager sends them; see
 * docs/reliability.md), so what must hold is correctness: every reply is the
 * one for its own request, nothing is lost or duplicated, and a stateful
 * counter incremented by all clients at once ends exact.
 */
import { encodeObjectRef } from '../../src/wire/object-ref';
import { encodeRunnerContext } from '../../src/codecs';
import { connectInstance, type InstanceClient } from '../../src/service/protos';
import { startTestInstance, type TestInstance } from '../helpers/instance';
import { fixtureUrl, resourceCounts, settledCounts } from './helpers';

const CLIENTS = 64;
const STATELESS_PER_CLIENT = 12;
const STATEFUL_PER_CLIENT = 6;
const APP = 'load-app';

// Each test has a generous hang guard: how fast 64 clients are served depends on the machine, and must not fail a test.
describe(`${CLIENTS} concurrent clients against one instance`, () => {
  let t: TestInstance;
  let clients: InstanceClient[];

  beforeAll(async () => {
    t = await startTestInstance({ taskTimeoutMs: 30_000 });
    clients = Array.from({ length: CLIENTS }, () => connectInstance(`unix://${t.socketPath}`));
  });
  afterAll(async () => {
    for (const c of clients ?? []) c.close();
    await t?.close();
  });

  it('stateless tasks: every reply is the right one, none lost or duplicated', async () => {
    const enter = await t.client.enter({ session_id: 'stateless', application: { name: APP, url: fixtureUrl('load') } });
    expect(enter.return_code).toBe(0);
    const replies = await Promise.all(
      clients.map(async (client, c) => {
        const out: unknown[] = [];
        for (let n = 0; n < STATELESS_PER_CLIENT; n++) {
          const payload = `client-${c}-task-${n}-`.repeat(40);
          const res = await client.invoke({ task_id: `${c}-${n}`, session_id: 'stateless', input: t.request('tagged', [c, n, payload]) });
          out.push(await t.valueOf(res));
        }
        return out;
      }),
    );
    const keys = new Set<string>();
    replies.forEach((list, c) =>
      list.forEach((v, n) => {
        expect(v).toEqual({ client: c, n, sum: c * 1000 + n, payload: `client-${c}-task-${n}-`.repeat(40) });
        keys.add(`${c}/${n}`);
      }),
    );
    expect(keys.size).toBe(CLIENTS * STATELESS_PER_CLIENT);
    expect((await t.client.leave()).return_code).toBe(0);
  }, 600_000);

  it('a stateful counter incremented by all clients at once ends exact, and its persisted state too', async () => {
    const ctx = encodeRunnerContext({ export: 'Counter', stateful: true, autoscale: false, warmup: 0 });
    const ctxRef = await t.cache.put(`${APP}/contexts`, { kind: 'opaque', chunks: [ctx] });
    const common = encodeObjectRef(ctxRef);
    const enter = (sid: string) => t.client.enter({ session_id: sid, application: { name: APP, url: fixtureUrl('load') }, common_data: common });
    expect((await enter('stateful')).return_code).toBe(0);

    const counts = (
      await Promise.all(
        clients.map(async (client, c) => {
          const seen: number[] = [];
          for (let n = 0; n < STATEFUL_PER_CLIENT; n++) {
            const res = await client.invoke({ task_id: `${c}-${n}`, session_id: 'stateful', input: t.request('increment', [c]) });
            const v = (await t.valueOf(res)) as { client: number; count: number };
            expect(v.client).toBe(c);
            seen.push(v.count);
          }
          // One client's own tasks run in its order, so its counts only go up.
          expect([...seen].sort((a, b) => a - b)).toEqual(seen);
          return seen;
        }),
      )
    ).flat();
    const total = CLIENTS * STATEFUL_PER_CLIENT;
    // Every count from 1 to total exactly once: no increment lost, none run twice.
    expect([...counts].sort((a, b) => a - b)).toEqual(Array.from({ length: total }, (_, i) => i + 1));
    expect((await t.client.leave()).return_code).toBe(0);

    // The persisted state carries the exact count into the next session.
    expect((await enter('stateful-2')).return_code).toBe(0);
    const next = await t.client.invoke({ task_id: 'next', session_id: 'stateful-2', input: t.request('increment', [-1]) });
    expect(await t.valueOf(next)).toEqual({ client: -1, count: total + 1 });
    expect((await t.client.leave()).return_code).toBe(0);
  }, 600_000);

  it('operations racing a session leave: tasks either complete or answer "no session" / "has left", never anything else', async () => {
    expect((await t.client.enter({ session_id: 'race', application: { name: APP, url: fixtureUrl('load') } })).return_code).toBe(0);
    const tasks = clients.map((client, c) => client.invoke({ task_id: `r${c}`, session_id: 'race', input: t.request('sum', [c, 1]) }));
    const leave = clients[CLIENTS / 2]!.leave();
    const results = await Promise.all(tasks);
    expect((await leave).return_code).toBe(0);
    let done = 0;
    for (const [c, res] of results.entries()) {
      if (res.return_code === 0) {
        expect(await t.valueOf(res)).toBe(c + 1);
        done++;
      } else {
        expect(res.return_code).toBe(2);
        // Not started: after the leave ("no session"), or queued when it arrived ("has left").
        expect(res.message).toMatch(/no session|has left/);
      }
    }
    // Arrival order decides how many ran before the leave; every one answered one of the two.
    expect(results).toHaveLength(CLIENTS);
    expect(done).toBeLessThanOrEqual(CLIENTS);
    expect(resourceCounts().threads).toBeLessThanOrEqual(1);
    expect((await settledCounts({ threads: 0, fds: Infinity, sockets: Infinity })).threads).toBe(0);
  }, 600_000);

  it('one connection with 200 calls in flight (more than max_concurrent_streams = 128): every one answered correctly', async () => {
    expect((await t.client.enter({ session_id: 'streams', application: { name: APP, url: fixtureUrl('load') } })).return_code).toBe(0);
    const calls = Array.from({ length: 200 }, (_, i) =>
      t.client.invoke({ task_id: `s${i}`, session_id: 'streams', input: t.request('sum', [i, 1000]) }),
    );
    const results = await Promise.all(calls);
    for (const [i, res] of results.entries()) expect(await t.valueOf(res)).toBe(i + 1000);
    expect((await t.client.leave()).return_code).toBe(0);
  });

  it('message size limits are lifted deliberately: a 24 MiB task input and result go through', async () => {
    expect((await t.client.enter({ session_id: 'big', application: { name: APP, url: fixtureUrl('load') } })).return_code).toBe(0);
    const big = Buffer.alloc(24 * 1024 * 1024, 0x5a);
    const res = await t.client.invoke({ task_id: 'big', session_id: 'big', input: t.request('tagged', [1, 1, big]) });
    const v = (await t.valueOf(res)) as { payload: Uint8Array };
    expect(Buffer.from(v.payload).equals(big)).toBe(true);
    expect((await t.client.leave()).return_code).toBe(0);
  });
});
