/**
 * A task input that is small on the wire but asks for far more heap than the
 * worker has (a pickle of `N` and millions of MEMOIZE: one memo entry per
 * byte) is refused with code 2 by a real `serve` process with
 * --worker-heap-mb 256; the process survives and the next task works. Before
 * the reader had a heap budget, 5 MB decoded or aborted the process depending
 * on the machine (the report: `FATAL ERROR … Runtime_MapGrow`), and
 * 10 MB aborted it on Node 20 here.
 */
import { decodeValue, encodeRunnerRequest } from '../../src/codecs';
import { decodeObjectRef } from '../../src/wire/object-ref';
import { CacheClient } from '../../src/cache/client';
import { fixtureUrl } from '../helpers/instance';
import { startServeProcess, type ServeProcess } from './serve-process';

const PROTO_4 = [0x80, 0x04];
const NONE = 0x4e;
const MEMOIZE = 0x94;
const STOP = 0x2e;

function memoBomb(entries: number): Buffer {
  const b = Buffer.alloc(PROTO_4.length + 1 + entries + 1, MEMOIZE);
  b.set([...PROTO_4, NONE], 0);
  b[b.length - 1] = STOP;
  return b;
}

let serve: ServeProcess;

beforeAll(async () => {
  serve = await startServeProcess(['--worker-heap-mb', '256']);
});

afterAll(async () => {
  await serve?.stop();
});

test('5 MB and 10 MB memo bombs are refused with code 2; the instance lives and serves the next task', async () => {
  const entered = await serve.client.enter({ session_id: 'bomb', application: { name: 'hostile', url: fixtureUrl('calc') } });
  expect(entered).toMatchObject({ return_code: 0 });

  for (const entries of [5_000_000, 10_000_000]) {
    const bomb = await serve.client.invoke({ task_id: `bomb-${entries}`, session_id: 'bomb', input: memoBomb(entries) });
    expect(bomb.return_code).toBe(2);
    expect(bomb.message).toMatch(/more memory to decode/);
    expect(serve.alive()).toBe(true);
  }

  const next = await serve.client.invoke({ task_id: 'sum', session_id: 'bomb', input: encodeRunnerRequest({ method: 'sum', args: [2, 3] }) });
  expect(next.return_code).toBe(0);
  const ref = decodeObjectRef(next.output!);
  const cache = new CacheClient({ endpoint: ref.endpoint });
  try {
    expect(decodeValue(await cache.get(ref))).toBe(5);
  } finally {
    cache.close();
  }
  expect((await serve.client.leave()).return_code).toBe(0);
  expect(serve.output()).not.toMatch(/FATAL ERROR|heap limit/);
});
