/**
 * Our cache client against Flame's own object cache (the Rust `flame-object-cache`), when one is at hand:
 * FLAME_CACHE_BIN=/path/to/flame-object-cache runs these tests (CI never builds Flame; without it they are skipped).
 * The binary is started on 127.0.0.1 with a config of its own, memory-only, and stopped by its pid.
 */
import { randomBytes } from 'node:crypto';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { Int32, Table, Utf8, tableFromIPC, tableToIPC, vectorFromArray } from 'apache-arrow';
import { CacheClient } from '../../src/cache/client';
import { ErrorCode } from '../../src/errors';
import { accepting, freePort } from '../helpers/ports';
import { makeTempDir, removeDir } from '../helpers/tmp';

const BIN = process.env.FLAME_CACHE_BIN;
const suite = BIN ? describe : describe.skip;

suite('CacheClient against Flame’s object cache (FLAME_CACHE_BIN)', () => {
  let dir: string;
  let child: ChildProcess;
  let endpoint: string;
  const clients: CacheClient[] = [];
  const client = (opts: ConstructorParameters<typeof CacheClient>[0] = {}): CacheClient => {
    const c = new CacheClient({ endpoint, ...opts });
    clients.push(c);
    return c;
  };

  beforeAll(async () => {
    dir = makeTempDir('flame-cache-');
    const port = await freePort();
    endpoint = `grpc://127.0.0.1:${port}`;
    const config = path.join(dir, 'flame-cluster.yaml');
    // network_interface "^lo$": Flame binds to that interface's IPv4 address, here 127.0.0.1.
    fs.writeFileSync(
      config,
      ['cluster:', '  name: flmrun-js-test', '  endpoint: "http://127.0.0.1:1"', 'cache:', `  endpoint: "${endpoint}"`, '  network_interface: "^lo$"', '  storage: "none"', ''].join('\n'),
    );
    child = spawn(BIN!, ['--config', config], { env: { ...process.env, FLAME_HOME: dir, RUST_LOG: 'warn' }, stdio: 'ignore' });
    await accepting(port, child, 'flame-object-cache');
  }, 60_000);

  afterAll(async () => {
    for (const c of clients) c.close();
    if (child && child.exitCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    }
    removeDir(dir);
  });

  test.each(['http2', 'grpc-js'] as const)('put and get 16 B and 1 MiB, the ref naming Flame’s endpoint (%s)', async (transport) => {
    const c = client({ transport, lruEntries: 0 });
    for (const size of [16, 1 << 20]) {
      const data = Buffer.alloc(size);
      for (let i = 0; i < size; i++) data[i] = (i * 7) & 0xff;
      const ref = await c.put(`t-${transport}/s`, data);
      expect(ref.endpoint).toBe(endpoint);
      expect(ref.key).toMatch(new RegExp(`^t-${transport}/s/.+`));
      expect(ref.version).toBe(1);
      const got = await c.get({ ...ref, version: 0 });
      expect(got.kind === 'opaque' && Buffer.from(got.base).equals(data) && got.patches.length === 0).toBe(true);
    }
  });

  test('update raises the version and replaces the bytes; patch appends deltas that get returns in order', async () => {
    const c = client({ lruEntries: 0 });
    const key = 'upd/s/obj';
    const v1 = await c.update(key, Buffer.from('one'));
    const v2 = await c.update(key, Buffer.from('two'));
    expect(v2.version).toBe(v1.version + 1);
    const p1 = await c.patch(key, Buffer.from('+a'));
    const p2 = await c.patch(key, Buffer.from('+b'));
    expect([p1.version, p2.version]).toEqual([v2.version + 1, v2.version + 2]);
    const got = await c.get({ endpoint, key, version: 0 });
    expect(got.kind).toBe('opaque');
    if (got.kind !== 'opaque') return;
    expect(got.version).toBe(p2.version);
    expect(Buffer.from(got.base).toString()).toBe('two');
    expect(got.patches.map((p) => Buffer.from(p).toString())).toEqual(['+a', '+b']);
  });

  test('a client holding a copy is answered not-modified, then only the new patches', async () => {
    const c = client();
    const key = 'lru/s/obj';
    const ref = await c.update(key, Buffer.from('base'));
    const first = await c.get(ref);
    expect(first.kind === 'opaque' && Buffer.from(first.base).toString()).toBe('base');
    const again = await c.get(ref); // not modified: the held copy
    expect(again.kind === 'opaque' && Buffer.from(again.base).toString()).toBe('base');
    const p = await c.patch(key, Buffer.from('+x'));
    const patched = await c.get({ ...ref, version: p.version });
    expect(patched.version).toBe(p.version);
    expect(patched.kind === 'opaque' && [Buffer.from(patched.base).toString(), ...patched.patches.map((x) => Buffer.from(x).toString())]).toEqual(['base', '+x']);
  });

  test('a highly compressed object the LRU keeps as its answer: not-modified and patch-only answers give bytes of the caller’s own', async () => {
    const c = client();
    const key = 'lru/s/zeros';
    const base = Buffer.alloc(1 << 20, 3); // Flame's ZSTD makes this a few hundred bytes
    const ref = await c.update(key, base);
    const first = await c.get(ref);
    if (first.kind !== 'opaque') throw new Error('expected an opaque object');
    new Uint8Array(first.base.buffer).fill(9); // the caller scribbles over all it can reach
    const again = await c.get(ref); // not modified
    expect(again.kind === 'opaque' && again.base.equals(base)).toBe(true);
    const p = await c.patch(key, Buffer.from('+x'));
    const patched = await c.get({ ...ref, version: p.version }); // the patch only, on top of the kept answer
    if (patched.kind !== 'opaque') throw new Error('expected an opaque object');
    expect(patched.version).toBe(p.version);
    expect(patched.base.equals(base)).toBe(true);
    expect(patched.patches.map((x) => Buffer.from(x).toString())).toEqual(['+x']);
    new Uint8Array(patched.base.buffer).fill(9);
    const last = await c.get({ ...ref, version: p.version });
    expect(last.kind === 'opaque' && [last.base.equals(base), last.patches.map((x) => Buffer.from(x).toString())]).toEqual([true, ['+x']]);
  });

  test('an incompressible 20 MiB object (frames of 16 MiB, read straight into the message): whole, and each get the caller’s own', async () => {
    const c = client();
    const key = 'lru/s/random';
    const base = randomBytes(20 * 1024 * 1024 + 3);
    const ref = await c.update(key, base);
    for (const lru of [c, client({ lruEntries: 0 })]) {
      const first = await lru.get({ ...ref, version: 0 });
      if (first.kind !== 'opaque') throw new Error('expected an opaque object');
      expect(first.base.equals(base)).toBe(true);
      new Uint8Array(first.base.buffer).fill(9); // the caller scribbles over all it can reach
      const again = await lru.get(ref); // not modified (from what the LRU kept), or the whole object again
      expect(again.kind === 'opaque' && again.base.equals(base)).toBe(true);
    }
  });

  test('delete by key and by session prefix; a deleted object is NotFound', async () => {
    const c = client({ lruEntries: 0 });
    const a = await c.put('del/s1', Buffer.from('a'));
    const b = await c.put('del/s2', Buffer.from('b'));
    await c.delete(a.key);
    await expect(c.get({ ...a, version: 0 })).rejects.toMatchObject({ code: ErrorCode.NotFound });
    await c.delete('del/s2');
    await expect(c.get({ ...b, version: 0 })).rejects.toMatchObject({ code: ErrorCode.NotFound });
  });

  // Plain columns: Flame's cache (0.6) refuses DictionaryBatch messages ("Unable to convert flight data
  // header to a record batch"), which apache-arrow writes for string columns made by tableFromArrays.
  test('a native Arrow table goes in and comes back as a table', async () => {
    const c = client({ lruEntries: 0 });
    const table = new Table({ a: vectorFromArray([1, 2, 3], new Int32()), b: vectorFromArray(['x', 'y', 'z'], new Utf8()) });
    const ref = await c.update('arrow/s/t', { kind: 'arrow', ipc: tableToIPC(table, 'stream') });
    const got = await c.get({ ...ref, version: 0 });
    expect(got.kind).toBe('arrow');
    if (got.kind !== 'arrow') return;
    const back = tableFromIPC(got.ipc);
    expect(back.getChild('a')?.toArray()).toEqual(Int32Array.from([1, 2, 3]));
    expect(back.getChild('b')?.toArray()).toEqual(['x', 'y', 'z']);
  });

  test('upload of a file in many rows and download of it byte for byte', async () => {
    const c = client({ lruEntries: 0, chunkBytes: 64 * 1024 });
    const src = path.join(dir, 'src.bin');
    const data = Buffer.alloc(300 * 1024);
    for (let i = 0; i < data.length; i++) data[i] = (i * 13) & 0xff;
    fs.writeFileSync(src, data);
    const ref = await c.upload('up/s', src);
    const dest = path.join(dir, 'dest.bin');
    await c.download(ref, dest);
    expect(fs.readFileSync(dest).equals(data)).toBe(true);
  });
});
