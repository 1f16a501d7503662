/**
 * Interop with independent Flight implementations: pyarrow.flight as a client of our
 * server, our client against a pyarrow Flight server sending compressed bodies, and
 * Flame's own Python SDK (flamepy) putting and getting through our server.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { CompressionType, tableFromIPC } from 'apache-arrow';
import { CacheClient } from '../../src/cache/client';
import { decodeObjectRef, encodeObjectRef } from '../../src/wire/object-ref';
import type { CacheServer } from '../../src/cache/server/cache-server';
import { testPython } from '../helpers/python';
import { makeTempDir, removeDir } from '../helpers/tmp';
import { rawClient, rawGet, startServer } from './helpers';
import { decodeMessage } from '../../src/wire/ipc';

/** Runs Python without blocking the event loop (our server lives in this process). */
function python(code: string, env: NodeJS.ProcessEnv = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(testPython(), ['-c', code], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`python exited ${code}:\n${err}`))));
  });
}

let server: CacheServer;
let endpoint: string;
let home: string;

beforeAll(async () => {
  testPython(); // builds the venv once, before any timing matters
  ({ server, endpoint } = await startServer());
  home = makeTempDir('flm-home-');
}, 600_000);

afterAll(async () => {
  await server.close();
  removeDir(home);
});

test('pyarrow.flight client: DoPut with the opaque schema, DoGet reading the base row, patches, native table', async () => {
  const out = await python(
    `
import sys, json, bson, pyarrow as pa, pyarrow.flight as fl
c = fl.FlightClient(sys.argv[1] if len(sys.argv) > 1 else ${JSON.stringify(endpoint)})
schema = pa.schema([pa.field("version", pa.uint64()), pa.field("data", pa.binary())])
def put(desc, chunks):
    w, r = c.do_put(desc, schema)
    for ch in chunks:
        w.write_batch(pa.record_batch([pa.array([0], pa.uint64()), pa.array([ch], pa.binary())], schema=schema))
    w.done_writing()
    ref = bson.decode(bytes(r.read()))
    w.close()
    return ref
ref = put(fl.FlightDescriptor.for_path("py/s1"), [b"hello ", b"from ", b"pyarrow"])
ref2 = put(fl.FlightDescriptor.for_command(("PATCH:" + ref["key"]).encode()), [b"delta"])
full = c.do_get(fl.Ticket((ref["key"] + ":0").encode())).read_all()
suffix = c.do_get(fl.Ticket((ref["key"] + ":1").encode())).read_all()
same = c.do_get(fl.Ticket((ref["key"] + ":2").encode())).read_all()
tbl = pa.table({"a": [1, 2, 3]}).replace_schema_metadata({"flame.cache.format": "arrow-table-v1"})
w, r = c.do_put(fl.FlightDescriptor.for_path("py/s1/table"), tbl.schema)
w.write_table(tbl); w.done_writing(); tref = bson.decode(bytes(r.read())); w.close()
t = c.do_get(fl.Ticket(b"py/s1/table:0")).read_all()
info = c.get_flight_info(fl.FlightDescriptor.for_path("py/s1/table"))
print(json.dumps({
  "ref": ref, "ref2": ref2, "tref": tref,
  "full": [[r["version"], r["kind"], r["data"].decode()] for r in full.to_pylist()],
  "suffix": [[r["version"], r["kind"]] for r in suffix.to_pylist()],
  "same_rows": same.num_rows,
  "table": t.column("a").to_pylist(), "table_version": t.schema.metadata[b"flame.cache.version"].decode(),
  "info_schema_version": info.schema.metadata[b"flame.cache.version"].decode(),
  "location": info.endpoints[0].locations[0].uri.decode(),
}))
`,
  );
  const r = JSON.parse(out) as Record<string, unknown>;
  expect(r.ref).toMatchObject({ endpoint, version: 1 });
  expect(r.ref2).toMatchObject({ version: 2 });
  expect(r.full).toEqual([
    [1, 'base', 'hello from pyarrow'],
    [2, 'patch', 'delta'],
  ]);
  expect(r.suffix).toEqual([[2, 'patch']]);
  expect(r.same_rows).toBe(0);
  expect(r.table).toEqual([1, 2, 3]);
  expect(r.table_version).toBe('1');
  expect(r.info_schema_version).toBe('1');
  expect(r.location).toBe(endpoint);

  // and our client reads what pyarrow put
  const client = new CacheClient({ endpoint });
  try {
    const key = (r.ref as { key: string }).key;
    const obj = await client.get({ endpoint, key, version: 0 });
    expect(obj.kind === 'opaque' && [obj.base.toString(), obj.patches.map(String)]).toEqual(['hello from pyarrow', ['delta']]);
  } finally {
    client.close();
  }
}, 120_000);

describe('our client against a pyarrow Flight server sending compressed bodies', () => {
  let child: ChildProcess;
  let remote: string;
  let client: CacheClient;

  beforeAll(async () => {
    child = spawn(testPython(), [path.join(__dirname, 'py', 'compressed_server.py')], { stdio: ['pipe', 'pipe', 'inherit'] });
    const port = await new Promise<string>((resolve, reject) => {
      child.stdout!.once('data', (d: Buffer) => resolve(d.toString().trim()));
      child.once('exit', (code) => reject(new Error(`python server exited ${code}`)));
    });
    remote = `grpc://127.0.0.1:${port}`;
    client = new CacheClient({ endpoint: remote });
  }, 120_000);

  afterAll(async () => {
    client.close();
    child.stdin!.end();
    await new Promise((r) => child.once('exit', r));
  });

  test.each(['zstd', 'lz4', 'none'])('opaque answer with %s bodies', async (codec) => {
    const obj = await client.get({ endpoint: remote, key: `app/${codec}/obj`, version: 0 });
    expect(obj.kind).toBe('opaque');
    if (obj.kind !== 'opaque') return;
    expect(obj.version).toBe(4);
    expect(obj.base.equals(Buffer.from('flame '.repeat(50_000)))).toBe(true);
    expect(obj.patches.map((p) => p.equals(Buffer.from('delta '.repeat(1000))))).toEqual([true]);
  });

  test('a zstd answer above 16 MiB of text, one frame as pyarrow writes it, decodes to its bytes', async () => {
    // Past the kept WebAssembly decoder's 16 MiB on Node 20 (an instance of its own then), node:zlib on Node >= 22.15.
    const lines: string[] = [];
    for (let i = 0; i < 800_000; i++) lines.push(`{"id":${i},"score":${(i * 7919) % 100003}}\n`);
    const big = Buffer.from(lines.join(''));
    expect(big.length).toBeGreaterThan(16 * 1024 * 1024);
    const obj = await client.get({ endpoint: remote, key: 'app/zstd/big', version: 0 });
    expect(obj.kind === 'opaque' && obj.version).toBe(3);
    expect(obj.kind === 'opaque' && obj.base.equals(big)).toBe(true);
  });

  test.each(['zstd', 'lz4'])('native table with %s bodies arrives as a plain IPC stream', async (codec) => {
    const obj = await client.get({ endpoint: remote, key: `app/${codec}/table`, version: 0 });
    expect(obj.kind).toBe('arrow');
    if (obj.kind !== 'arrow') return;
    expect(obj.version).toBe(7);
    const t = tableFromIPC(obj.ipc); // apache-arrow has no codec registered: the stream must be plain
    expect(t.numRows).toBe(100_000);
    expect(Number(t.getChild('n')!.get(99_999))).toBe(99_999);
    expect(t.getChild('s')!.get(5)).toBe('x'.repeat(10));
  });

  test.each(['zstd', 'lz4'])('a %s answer the LRU keeps as it came: every get gets bytes of its own', async (codec) => {
    const key = `app/${codec}/kept`;
    const own = new CacheClient({ endpoint: remote });
    try {
      const first = await own.get({ endpoint: remote, key, version: 0 });
      if (first.kind !== 'opaque') throw new Error('expected an opaque object');
      // The caller scribbles over all it can reach, the whole memory behind its bytes included.
      new Uint8Array(first.base.buffer).fill(0x21);
      for (const p of first.patches) new Uint8Array(p.buffer).fill(0x21);
      for (let i = 0; i < 2; i++) {
        const again = await own.get({ endpoint: remote, key, version: 4 }); // answered "not modified"
        if (again.kind !== 'opaque') throw new Error('expected an opaque object');
        expect(again.version).toBe(4);
        expect(again.base.equals(Buffer.from('flame '.repeat(50_000)))).toBe(true);
        expect(again.patches.map((p) => p.equals(Buffer.from('delta '.repeat(1000))))).toEqual([true]);
        expect(again.base.buffer).not.toBe(first.base.buffer);
        new Uint8Array(again.base.buffer).fill(0x22);
      }
    } finally {
      own.close();
    }
  });

  test('the bodies really are compressed on the wire', async () => {
    const raw = rawClient(remote);
    try {
      for (const [codec, type] of [['zstd', CompressionType.ZSTD], ['lz4', CompressionType.LZ4_FRAME]] as const) {
        const answer = await rawGet(raw, `app/${codec}/obj:0`);
        const header = decodeMessage(answer.messages[1]!.data_header).header() as { compression: { type: number } | null };
        expect(header.compression?.type).toBe(type);
        expect(answer.messages[1]!.data_body.length).toBeLessThan(50_000);
      }
    } finally {
      raw.close();
    }
  });

  test('download refuses an answer with patch rows and leaves no partial file', async () => {
    const dir = makeTempDir();
    try {
      const dest = path.join(dir, 'out.bin');
      await expect(client.download({ endpoint: remote, key: 'app/zstd/obj', version: 0 }, dest)).rejects.toThrow(/base rows only/);
      expect(fs.readdirSync(dir)).toEqual([]); // no partial file
    } finally {
      removeDir(dir);
    }
  });
});

test('Flame Python SDK (flamepy) puts, patches, updates, uploads and gets through our server', async () => {
  const dir = makeTempDir();
  try {
    const file = path.join(dir, 'pkg.bin');
    fs.writeFileSync(file, Buffer.alloc(3 * 1024 * 1024 + 17, 5));
    const out = await python(
      `
import json, sys, os
from flamepy.core import cache
ref = cache.put_object("sdk/s1", {"answer": 42, "list": [1, 2, 3]})
got = cache.get_object(ref)
pref = cache.patch_object(ref, "delta-1")
merged = cache.get_object(pref, deserializer=lambda base, deltas: [base, deltas])
uref = cache.update_object(pref, "replaced")
after = cache.get_object(uref)
up = cache.upload_object("sdk/pkg/pkg.bin", ${JSON.stringify(file)})
print(json.dumps({"ref": ref.encode().hex(), "got": got, "merged": merged, "uref": uref.version,
                  "after": after, "up": up.encode().hex(), "pref": pref.version}))
`,
      { HOME: home, FLAME_CACHE_ENDPOINT: endpoint },
    );
    const r = JSON.parse(out) as Record<string, unknown>;
    expect(r.got).toEqual({ answer: 42, list: [1, 2, 3] });
    expect(r.pref).toBe(2);
    expect(r.merged).toEqual([{ answer: 42, list: [1, 2, 3] }, ['delta-1']]);
    expect(r.uref).toBe(3);
    expect(r.after).toBe('replaced');
    // (flamepy 0.6.0's download_object fails on pyarrow 26 whatever the server: it calls .column on a
    // FlightStreamChunk; so the download side is checked with our client below.)

    // Our client reads the SDK's objects: an FLM-tagged pickle, and the uploaded file.
    const client = new CacheClient({ endpoint });
    try {
      const ref = decodeObjectRef(Buffer.from(r.ref as string, 'hex'));
      expect(ref.endpoint).toBe(endpoint);
      const obj = await client.get({ ...ref, version: 0 });
      expect(obj.kind === 'opaque' && obj.base.subarray(0, 4).toString('latin1')).toBe('FLM\x00');
      const up = decodeObjectRef(Buffer.from(r.up as string, 'hex'));
      expect(up.key).toBe('sdk/pkg/pkg.bin');
      await client.download(up, path.join(dir, 'ours.bin'));
      expect(fs.readFileSync(path.join(dir, 'ours.bin')).equals(fs.readFileSync(file))).toBe(true);

      // and the SDK reads what our client put (bytes the SDK itself would have written)
      const pickled = await python('import cloudpickle, sys; sys.stdout.write((b"FLM\\x00" + cloudpickle.dumps([1, "two", None])).hex())');
      const mine = await client.put('sdk/s2', Buffer.from(pickled, 'hex'));
      const back = await python(
        `import json\nfrom flamepy.core.cache import ObjectRef, get_object, delete_objects\nprint(json.dumps(get_object(ObjectRef.decode(bytes.fromhex("${encodeObjectRef(mine).toString('hex')}")))))\ndelete_objects("sdk/*")`,
        { HOME: home, FLAME_CACHE_ENDPOINT: endpoint },
      );
      expect(JSON.parse(back)).toEqual([1, 'two', null]);
      expect((await client.list()).filter((i) => i.key.startsWith('sdk/'))).toEqual([]);
    } finally {
      client.close();
    }
  } finally {
    removeDir(dir);
  }
}, 120_000);
