import { randomBytes } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import { tableFromArrays, tableFromIPC, tableToIPC } from 'apache-arrow';
import { CacheClient } from '../../src/cache/client';
import { ErrorCode } from '../../src/errors';
import type { CacheServer } from '../../src/cache/server/cache-server';
import type { FlightServiceClient } from '../../src/cache/flight';
import { rawClient, rawGet, startServer } from './helpers';

let server: CacheServer;
let endpoint: string;
let client: CacheClient;
let raw: FlightServiceClient;

beforeAll(async () => {
  ({ server, endpoint } = await startServer());
  client = new CacheClient({ endpoint });
  raw = rawClient(endpoint);
});

afterAll(async () => {
  client.close();
  raw.close();
  await server.close();
});

const text = (b: Buffer): string => b.toString('utf8');

describe('CacheClient against the embedded server', () => {
  test('put names a new object at version 1 under the prefix; get reads it back', async () => {
    const ref = await client.put('app/s1', Buffer.from('hello'));
    expect(ref.endpoint).toBe(endpoint);
    expect(ref.key).toMatch(/^app\/s1\/[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(ref.version).toBe(1);
    const obj = await client.get(ref);
    expect(obj.kind).toBe('opaque');
    if (obj.kind !== 'opaque') return;
    expect(text(obj.base)).toBe('hello');
    expect(obj.patches).toEqual([]);
    expect(obj.version).toBe(1);
  });

  test('update overwrites a full key with version + 1 and drops the patches; patch appends', async () => {
    const created = await client.update('app/s2/obj', Buffer.from('v1'));
    expect(created.version).toBe(1);
    const patched = await client.patch('app/s2/obj', Buffer.from('d2'));
    expect(patched.version).toBe(2);
    const patched2 = await client.patch('app/s2/obj', Buffer.from('d3'));
    expect(patched2.version).toBe(3);
    let obj = await client.get(patched2);
    expect(obj.kind === 'opaque' && obj.patches.map(text)).toEqual(['d2', 'd3']);
    const updated = await client.update('app/s2/obj', Buffer.from('v4'));
    expect(updated.version).toBe(4);
    obj = await client.get(updated);
    expect(obj.kind === 'opaque' && [text(obj.base), obj.patches.length, obj.version]).toEqual(['v4', 0, 4]);
  });

  test('chunks sent as many rows are answered as one base row', async () => {
    const small = new CacheClient({ endpoint, chunkBytes: 3 });
    try {
      const ref = await small.put('app/s3', { kind: 'opaque', chunks: [Buffer.from('abcdefg'), Buffer.from('hij')] });
      const answer = await rawGet(raw, `${ref.key}:0`);
      expect(answer.rows).toHaveLength(1);
      expect(text(Buffer.from(answer.rows[0]!.data))).toBe('abcdefghij');
    } finally {
      small.close();
    }
  });

  test('not-modified and patch-suffix answers on the wire (docs/protocol.md §7)', async () => {
    const ref = await client.put('app/wire', Buffer.from('base'));
    await client.patch(ref.key, Buffer.from('p2'));
    await client.patch(ref.key, Buffer.from('p3'));

    const full = await rawGet(raw, `${ref.key}:0`);
    expect(full.schema.fields.map((f) => f.name)).toEqual(['version', 'kind', 'data']);
    expect(full.rows.map((r) => [r.version, r.kind, text(Buffer.from(r.data))])).toEqual([
      [1, 'base', 'base'],
      [2, 'patch', 'p2'],
      [3, 'patch', 'p3'],
    ]);
    const noColon = await rawGet(raw, ref.key);
    expect(noColon.rows).toHaveLength(3);

    const notModified = await rawGet(raw, `${ref.key}:3`);
    expect(notModified.messages).toHaveLength(1);
    expect(notModified.rows).toHaveLength(0);

    const suffix = await rawGet(raw, `${ref.key}:1`);
    expect(suffix.rows.map((r) => [r.version, r.kind])).toEqual([
      [2, 'patch'],
      [3, 'patch'],
    ]);
    const suffix2 = await rawGet(raw, `${ref.key}:2`);
    expect(suffix2.rows.map((r) => r.version)).toEqual([3]);

    // Newer than the server's, or older than the base: the full object.
    expect((await rawGet(raw, `${ref.key}:9`)).rows).toHaveLength(3);
    await client.update(ref.key, Buffer.from('new base'));
    await client.patch(ref.key, Buffer.from('p5'));
    const afterOverwrite = await rawGet(raw, `${ref.key}:2`);
    expect(afterOverwrite.rows.map((r) => [r.version, r.kind])).toEqual([
      [4, 'base'],
      [5, 'patch'],
    ]);
  });

  test('the client keeps its copy on not-modified and applies patch-only answers', async () => {
    const ref = await client.put('app/lru', Buffer.from('big base'));
    const first = await client.get(ref);
    const again = await client.get(ref);
    expect(again).toEqual(first); // "not modified": answered from the held copy

    const other = new CacheClient({ endpoint });
    try {
      const p = await other.patch(ref.key, Buffer.from('delta'));
      // What travels for the held version is the patch only; the client applies it to its copy.
      expect((await rawGet(raw, `${ref.key}:1`)).rows.map((r) => r.kind)).toEqual(['patch']);
      const patched = await client.get(p);
      expect(patched.kind).toBe('opaque');
      if (patched.kind !== 'opaque') return;
      expect(text(patched.base)).toBe('big base');
      expect(patched.patches.map(text)).toEqual(['delta']);
      expect(patched.version).toBe(2);
      const fresh = await client.get({ ...p, version: 0 });
      expect(fresh.kind === 'opaque' && text(fresh.base)).toBe('big base');
    } finally {
      other.close();
    }
  });

  test('every get hands out its own bytes: mutating one answer changes no other (issue 11.6)', async () => {
    const ref = await client.put('app/mut', Buffer.from('pristine'));
    const arrowRef = await client.put('app/mut', { kind: 'arrow', ipc: tableToIPC(tableFromArrays({ x: Int32Array.from([1, 2, 3]) }), 'stream') });
    for (let i = 0; i < 3; i++) {
      const o = await client.get(ref); // fresh the first time, "not modified" after
      expect(o.kind === 'opaque' && text(o.base)).toBe('pristine');
      if (o.kind === 'opaque') o.base.fill(0x21);
      const a = await client.get(arrowRef);
      expect(a.kind === 'arrow' && [...tableFromIPC(a.ipc).getChild('x')!]).toEqual([1, 2, 3]);
      if (a.kind === 'arrow') a.ipc.fill(0);
    }
    const other = new CacheClient({ endpoint });
    try {
      const p = await other.patch(ref.key, Buffer.from('delta'));
      const patched = await client.get(p); // the patch applied to the held copy
      if (patched.kind !== 'opaque') throw new Error('expected an opaque object');
      patched.base.fill(0x21);
      patched.patches[0]!.fill(0x21);
      const again = await client.get(p);
      expect(again.kind === 'opaque' && [text(again.base), ...again.patches.map(text)]).toEqual(['pristine', 'delta']);
    } finally {
      other.close();
    }
  });

  test('an object above lruMaxBytes: every get is whole and the caller’s own (scribbling over one get does not change the next)', async () => {
    const big = randomBytes(2 * 1024 * 1024 + 1);
    const ref = await client.put('app/too-big', big);
    const small = new CacheClient({ endpoint, lruMaxBytes: 1024 * 1024 });
    try {
      for (let i = 0; i < 2; i++) {
        const o = await small.get(ref);
        expect(o.kind === 'opaque' && o.base.equals(big)).toBe(true);
        if (o.kind === 'opaque') new Uint8Array(o.base.buffer).fill(0x21);
      }
    } finally {
      small.close();
    }
  });

  test('a large object the LRU keeps (one copy of the answer): every get still hands out bytes of its own', async () => {
    const big = randomBytes(3 * 1024 * 1024 + 5); // many HTTP/2 frames and reads: the answer is gathered, and a copy kept
    const ref = await client.put('app/kept', big);
    const own = new CacheClient({ endpoint });
    const other = new CacheClient({ endpoint });
    try {
      const first = await own.get(ref);
      if (first.kind !== 'opaque') throw new Error('expected an opaque object');
      expect(first.base.equals(big)).toBe(true);
      new Uint8Array(first.base.buffer).fill(0x21); // all the caller can reach, not only its view
      for (let i = 0; i < 2; i++) {
        const again = await own.get(ref); // "not modified": read again from what the LRU kept
        expect(again.kind === 'opaque' && again.base.equals(big)).toBe(true);
        if (again.kind === 'opaque') new Uint8Array(again.base.buffer).fill(0x22);
      }
      const p = await other.patch(ref.key, Buffer.from('delta'));
      const patched = await own.get(p); // the patch only, on top of what the LRU kept
      if (patched.kind !== 'opaque') throw new Error('expected an opaque object');
      expect([patched.base.equals(big), patched.patches.map(text)]).toEqual([true, ['delta']]);
      new Uint8Array(patched.base.buffer).fill(0x23);
      const last = await own.get(p);
      expect(last.kind === 'opaque' && [last.base.equals(big), last.patches.map(text)]).toEqual([true, ['delta']]);
    } finally {
      own.close();
      other.close();
    }
  });

  test('both transports (node:http2, grpc-js) put and get the same bytes, small and framed in parts', async () => {
    const grpcJs = new CacheClient({ endpoint, transport: 'grpc-js', lruEntries: 0 });
    try {
      const big = Buffer.alloc(300 * 1024);
      for (let i = 0; i < big.length; i++) big[i] = (i * 7) & 0xff;
      for (const payload of [Buffer.from('tiny'), big]) {
        for (const [writer, reader] of [
          [client, grpcJs],
          [grpcJs, client],
        ] as const) {
          const ref = await writer.put('app/transports', { kind: 'opaque', chunks: [payload.subarray(0, 5), payload.subarray(5)] });
          const back = await reader.get({ ...ref, version: 0 });
          expect(back.kind === 'opaque' && Buffer.compare(back.base, payload)).toBe(0);
        }
      }
      expect(() => new CacheClient({ endpoint, transport: 'carrier-pigeon' as 'http2' })).toThrow(/transport must be/);
    } finally {
      grpcJs.close();
    }
  });

  test('delete by key, by session prefix and by app wildcard; list and info', async () => {
    const a = await client.put('del/s1', Buffer.from('a'));
    const b = await client.put('del/s1', Buffer.from('bb'));
    const c = await client.put('del/s2', Buffer.from('ccc'));
    const d = await client.put('keep/s1', Buffer.from('dddd'));

    const listed = await client.list();
    const sizes = Object.fromEntries(listed.map((i) => [i.key, i.totalBytes]));
    expect(sizes[a.key]).toBe(1);
    expect(sizes[c.key]).toBe(3);
    expect(listed.every((i) => i.endpoint === endpoint)).toBe(true);
    const info = await client.info(b.key);
    expect(info).toMatchObject({ key: b.key, endpoint, totalBytes: 2 });

    await client.delete(a.key);
    await expect(client.get(a)).rejects.toMatchObject({ code: ErrorCode.NotFound });
    await expect(client.get(b)).resolves.toBeDefined();
    await client.delete('del/s1');
    await expect(client.get(b)).rejects.toMatchObject({ code: ErrorCode.NotFound });
    await expect(client.get(c)).resolves.toBeDefined();
    await client.delete('del/*');
    await expect(client.get({ ...c, version: 0 })).rejects.toMatchObject({ code: ErrorCode.NotFound });
    await expect(client.get(d)).resolves.toBeDefined();
    const keys = (await client.list()).map((i) => i.key);
    expect(keys.some((k) => k.startsWith('del/'))).toBe(false);
    expect(keys).toContain(d.key);
  });

  test('native Arrow tables are stored as tables and answered with flame.cache.version', async () => {
    const table = tableFromArrays({ a: Int32Array.from([1, 2, 3]), b: ['x', 'y', 'z'] });
    const ref = await client.update('app/arrow/t', { kind: 'arrow', ipc: tableToIPC(table, 'stream') });
    expect(ref.version).toBe(1);
    const ref2 = await client.update('app/arrow/t', { kind: 'arrow', ipc: tableToIPC(table, 'stream') });
    expect(ref2.version).toBe(2);
    const obj = await client.get(ref2);
    expect(obj.kind).toBe('arrow');
    if (obj.kind !== 'arrow') return;
    expect(obj.version).toBe(2);
    const back = tableFromIPC(obj.ipc);
    expect(back.schema.metadata.get('flame.cache.format')).toBe('arrow-table-v1');
    expect(back.schema.metadata.get('flame.cache.version')).toBe('2');
    expect(back.getChild('b')?.toArray()).toEqual(['x', 'y', 'z']);
    const info = await client.info(ref2.key);
    expect(info.schema.length).toBeGreaterThan(0);
    await expect(client.patch(ref2.key, Buffer.from('x'))).resolves.toMatchObject({ version: 3 });
  });

  test('answers of different schemas read right however they alternate (schemas are remembered by their bytes)', async () => {
    const table = tableFromArrays({ a: Int32Array.from([7, 8]) });
    const opaque = await client.put('app/alt', Buffer.from('opaque bytes'));
    const v1 = await client.update('app/alt/t', { kind: 'arrow', ipc: tableToIPC(table, 'stream') });
    const v2 = await client.update('app/alt/t', { kind: 'arrow', ipc: tableToIPC(table, 'stream') });
    for (let round = 0; round < 2; round++) {
      const o = await client.get({ ...opaque, version: 0 });
      expect(o.kind === 'opaque' && Buffer.from(o.base).toString()).toBe('opaque bytes');
      for (const [ref, version] of [[v1, 2], [v2, 2]] as const) {
        const t = await client.get({ ...ref, version: 0 });
        expect(t.kind === 'arrow' && tableFromIPC(t.ipc).schema.metadata.get('flame.cache.version')).toBe(String(version));
      }
      await client.patch(opaque.key, Buffer.from('!'));
      const p = await client.get({ ...opaque, version: 0 });
      expect(p.kind === 'opaque' && p.patches.map((x) => Buffer.from(x).toString())).toEqual(round === 0 ? ['!'] : ['!', '!']);
    }
  });

  test('concurrent puts to one key get distinct consecutive versions', async () => {
    const n = 20;
    const refs = await Promise.all(
      Array.from({ length: n }, (_, i) => (i % 2 ? client.update('app/race/k', Buffer.from(`v${i}`)) : client.patch('app/race/k', Buffer.from(`p${i}`)).catch(() => undefined))),
    );
    const versions = refs.filter((r) => r !== undefined).map((r) => r!.version).sort((x, y) => x - y);
    expect(new Set(versions).size).toBe(versions.length);
    expect(versions).toEqual(Array.from({ length: versions.length }, (_, i) => i + 1));
    const obj = await client.get({ endpoint, key: 'app/race/k', version: 0 });
    expect(obj.version).toBe(versions.length);
  });

  test('errors name the key and endpoint: bad key, missing object, unreachable server', async () => {
    await expect(client.put('app/../x', Buffer.from('1'))).rejects.toMatchObject({ code: ErrorCode.InvalidInput, message: expect.stringContaining("'app/../x'") });
    await expect(client.put('app/s/id', Buffer.from('1'))).rejects.toMatchObject({ code: ErrorCode.InvalidInput });
    await expect(client.get({ endpoint, key: 'a\\b/c/d', version: 0 })).rejects.toMatchObject({ code: ErrorCode.InvalidInput });
    await expect(client.patch('app/none/missing', Buffer.from('1'))).rejects.toMatchObject({
      code: ErrorCode.NotFound,
      message: expect.stringContaining('app/none/missing'),
    });
    const missing = client.get({ endpoint, key: 'app/none/missing', version: 0 });
    await expect(missing).rejects.toMatchObject({ code: ErrorCode.NotFound, message: expect.stringContaining(endpoint) });

    const lonely = new CacheClient({ endpoint: 'grpc://127.0.0.1:1', retries: 1, deadlineMs: 5000 });
    try {
      const err = await lonely.get({ endpoint: 'grpc://127.0.0.1:1', key: 'app/s/k', version: 0 }).catch((e: unknown) => e);
      expect(err).toMatchObject({ code: ErrorCode.Unavailable, message: expect.stringContaining('grpc://127.0.0.1:1') });
      expect(err).toMatchObject({ message: expect.stringContaining('app/s/k') });
      await expect(lonely.put('app/s', Buffer.from('x'))).rejects.toMatchObject({ code: ErrorCode.Unavailable });
    } finally {
      lonely.close();
    }
    expect(() => new CacheClient({ endpoint: 'http://x:1' })).toThrow(/scheme/);
  });

  test('a closed client refuses calls', async () => {
    const c = new CacheClient({ endpoint });
    c.close();
    c.close();
    await expect(c.put('app/s', Buffer.from('x'))).rejects.toMatchObject({ code: ErrorCode.Unavailable });
  });

  test('ListActions names DELETE; Handshake, DoExchange and PollFlightInfo are UNIMPLEMENTED', async () => {
    const actions: { type: string }[] = [];
    for await (const a of raw.ListActions({}, new grpc.Metadata(), {}) as AsyncIterable<{ type: string }>) actions.push(a);
    expect(actions.map((a) => a.type)).toEqual(['DELETE']);
    const code = (call: grpc.ClientDuplexStream<unknown, unknown>): Promise<number> =>
      new Promise((resolve) => {
        call.on('error', (e: grpc.ServiceError) => resolve(e.code));
        call.on('data', () => undefined);
        call.end();
      });
    expect(await code(raw.Handshake(new grpc.Metadata(), {}))).toBe(grpc.status.UNIMPLEMENTED);
    expect(await code(raw.DoExchange(new grpc.Metadata(), {}) as never)).toBe(grpc.status.UNIMPLEMENTED);
    const poll = (raw as unknown as Record<string, (...a: unknown[]) => void>).PollFlightInfo!;
    const pollCode = await new Promise<number>((resolve) =>
      poll.call(raw, { type: 'PATH', path: ['a/b/c'] }, new grpc.Metadata(), {}, (e: grpc.ServiceError | null) => resolve(e?.code ?? 0)),
    );
    expect(pollCode).toBe(grpc.status.UNIMPLEMENTED);
  });
});
