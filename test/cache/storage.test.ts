/** Persistence (restart serves what was stored) and the memory limit, with and without storage. */
import fs from 'node:fs';
import path from 'node:path';
import { tableFromArrays, tableFromIPC, tableToIPC } from 'apache-arrow';
import { CacheClient } from '../../src/cache/client';
import { ErrorCode } from '../../src/errors';
import { makeTempDir, removeDir } from '../helpers/tmp';
import { startServer } from './helpers';

let dir: string;
beforeEach(() => {
  dir = makeTempDir('flm-cache-');
});
afterEach(() => removeDir(dir));

function filesUnder(root: string): string[] {
  return (fs.readdirSync(root, { recursive: true }) as string[]).map((f) => f.split(path.sep).join('/')).sort();
}

test('a restarted server serves what it stored: opaque with deltas, overwrites, native Arrow', async () => {
  let { server, endpoint } = await startServer({ storageDir: dir });
  let client = new CacheClient({ endpoint });
  const a = await client.put('app/s1', Buffer.from('alpha'));
  await client.patch(a.key, Buffer.from('+1'));
  await client.patch(a.key, Buffer.from('+2'));
  await client.update('app/s1/fixed', Buffer.from('first'));
  await client.patch('app/s1/fixed', Buffer.from('stale delta'));
  await client.update('app/s1/fixed', Buffer.from('second')); // removes the deltas
  const table = tableFromArrays({ n: Float64Array.from([1.5, 2.5]) });
  await client.update('app/s2/table', { kind: 'arrow', ipc: tableToIPC(table, 'stream') });
  client.close();
  await server.close();

  const id = a.key.split('/')[2]!;
  expect(filesUnder(dir)).toEqual(
    [
      'app', 'app/s1', `app/s1/${id}.arrow`, `app/s1/${id}.deltas`, `app/s1/${id}.deltas/2.arrow`, `app/s1/${id}.deltas/3.arrow`,
      'app/s1/fixed.arrow', 'app/s2', 'app/s2/table.arrow',
    ].sort(),
  );

  ({ server, endpoint } = await startServer({ storageDir: dir }));
  client = new CacheClient({ endpoint });
  try {
    const obj = await client.get({ ...a, endpoint, version: 0 });
    expect(obj.kind === 'opaque' && [obj.version, obj.base.toString(), obj.patches.map(String)]).toEqual([3, 'alpha', ['+1', '+2']]);
    const fixed = await client.get({ endpoint, key: 'app/s1/fixed', version: 0 });
    expect(fixed.kind === 'opaque' && [fixed.version, fixed.base.toString(), fixed.patches.length]).toEqual([3, 'second', 0]);
    const t = await client.get({ endpoint, key: 'app/s2/table', version: 0 });
    expect(t.kind).toBe('arrow');
    if (t.kind === 'arrow') expect([...tableFromIPC(t.ipc).getChild('n')!.toArray()]).toEqual([1.5, 2.5]);
    // versions continue where they were
    expect((await client.patch(a.key, Buffer.from('+3'))).version).toBe(4);
    expect((await client.list()).length).toBe(3);
    await client.delete('app/*');
    expect(fs.readdirSync(dir)).toEqual([]);
  } finally {
    client.close();
    await server.close();
  }
});

test('the stored files are Arrow IPC files that pyarrow reads', async () => {
  const { server, endpoint } = await startServer({ storageDir: dir });
  const client = new CacheClient({ endpoint });
  try {
    await client.update('app/s/obj', Buffer.from('payload'));
    const { runPython } = await import('../helpers/python');
    const out = runPython(
      `import pyarrow as pa, sys\nt = pa.ipc.open_file(sys.argv[1] if len(sys.argv) > 1 else ${JSON.stringify(path.join(dir, 'app/s/obj.arrow'))}).read_all()\nprint(t.to_pylist())`,
    ).toString();
    expect(out.trim()).toBe("[{'version': 1, 'data': b'payload'}]");
  } finally {
    client.close();
    await server.close();
  }
});

test('with storage, objects past the memory limit are evicted to disk and still served', async () => {
  const { server, endpoint } = await startServer({ storageDir: dir, maxMemoryBytes: 2500 });
  const client = new CacheClient({ endpoint, lruEntries: 0 });
  try {
    const refs = [];
    for (let i = 0; i < 5; i++) refs.push(await client.put('app/ev', Buffer.alloc(1000, i)));
    const big = await client.put('app/ev', Buffer.alloc(10_000, 9)); // larger than the whole limit
    for (const [i, ref] of refs.entries()) {
      const obj = await client.get(ref);
      expect(obj.kind === 'opaque' && obj.base.equals(Buffer.alloc(1000, i))).toBe(true);
    }
    const b = await client.get(big);
    expect(b.kind === 'opaque' && b.base.length).toBe(10_000);
    expect((await client.list()).length).toBe(6);
    const store = (server as unknown as { store: { memoryBytes: number } }).store;
    expect(store.memoryBytes).toBeLessThanOrEqual(2500);
  } finally {
    client.close();
    await server.close();
  }
});

test('without storage, LRU objects are dropped under the limit and a get says so', async () => {
  const { server, endpoint } = await startServer({ maxMemoryBytes: 2500 });
  const client = new CacheClient({ endpoint, lruEntries: 0 });
  try {
    const first = await client.put('app/mem', Buffer.alloc(1000, 1));
    const second = await client.put('app/mem', Buffer.alloc(1000, 2));
    await client.get(first); // first is now more recent than second
    const third = await client.put('app/mem', Buffer.alloc(1000, 3));
    await expect(client.get(second)).rejects.toMatchObject({ code: ErrorCode.NotFound, message: expect.stringContaining('evicted') });
    await expect(client.get(first)).resolves.toBeDefined();
    await expect(client.get(third)).resolves.toBeDefined();
    expect((await client.list()).map((i) => i.key).sort()).toEqual([first.key, third.key].sort());
    await expect(client.put('app/mem', Buffer.alloc(3000))).rejects.toMatchObject({ code: ErrorCode.LimitExceeded });
  } finally {
    client.close();
    await server.close();
  }
});

test('an unreadable stored file is skipped at start, the rest is served', async () => {
  fs.mkdirSync(path.join(dir, 'app', 's'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'app', 's', 'broken.arrow'), 'not arrow at all');
  fs.writeFileSync(path.join(dir, 'app', 's', 'x.arrow.abc.tmp'), 'leftover temp');
  const { server, endpoint } = await startServer({ storageDir: dir });
  const client = new CacheClient({ endpoint });
  try {
    const ref = await client.put('app/s', Buffer.from('fine'));
    expect((await client.list()).map((i) => i.key)).toEqual([ref.key]);
  } finally {
    client.close();
    await server.close();
  }
});
