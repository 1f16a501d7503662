/**
 * The embedded server's node:http2 path for DoPut and DoGet (src/cache/server/raw-call.ts):
 * what it leaves to grpc-js, and that both paths answer alike.
 */
import * as grpc from '@grpc/grpc-js';
import { CacheClient } from '../../src/cache/client';
import { flightClientConstructor, UNLIMITED_MESSAGES, type FlightServiceClient } from '../../src/cache/flight';
import { PUT_SCHEMA_HEADER, encodeRow } from '../../src/cache/opaque';
import { takeStreams } from '../../src/cache/server/raw-call';
import { grpcCode, rawGet, rawPut, startServer } from './helpers';

const row = (data: Buffer): { data_header: Uint8Array; data_body: Uint8Array[] } => {
  const r = encodeRow(0, undefined, [data]);
  return { data_header: r.header, data_body: r.body };
};

/** A grpc-js Flight client that gzip-compresses every message it sends. */
function gzipClient(endpoint: string): FlightServiceClient {
  const Ctor = flightClientConstructor();
  return new Ctor(endpoint.replace(/^grpc:\/\//, ''), grpc.credentials.createInsecure(), {
    ...UNLIMITED_MESSAGES,
    'grpc.default_compression_algorithm': 2, // gzip
  });
}

test('a gzip-compressed DoPut is left to grpc-js, which decodes it; the object reads back on node:http2', async () => {
  const { server, endpoint } = await startServer();
  const gzip = gzipClient(endpoint);
  try {
    const data = Buffer.alloc(100_000, 3);
    const meta = await rawPut(gzip, [{ flight_descriptor: { type: 'PATH', path: ['zip/s'] }, data_header: PUT_SCHEMA_HEADER }, row(data)]);
    const key = (await import('bson')).BSON.deserialize(meta).key as string;
    const client = new CacheClient({ endpoint, lruEntries: 0 });
    try {
      const got = await client.get({ endpoint, key, version: 0 });
      expect(got.kind === 'opaque' && Buffer.from(got.base).equals(data)).toBe(true);
    } finally {
      client.close();
    }
  } finally {
    gzip.close();
    await server.close();
  }
});

test('methods left to grpc-js get their own limits per call: a compressed DoGet a Ticket\'s, an Action 64 KiB, a compressed DoPut the put\'s after them', async () => {
  const { server, endpoint } = await startServer();
  const gzip = gzipClient(endpoint);
  try {
    // A Ticket of 1 MiB compresses to a few KiB: refused by what it decompresses to.
    const bigTicket = rawGet(gzip, `zip/s/${'a'.repeat(1024 * 1024)}`);
    expect((await grpcCode(bigTicket)).code).toBe(grpc.status.RESOURCE_EXHAUSTED);
    const action = (async () => {
      for await (const _ of gzip.DoAction({ type: 'DELETE', body: Buffer.alloc(100_000, 0x61) }, new grpc.Metadata(), {}) as AsyncIterable<unknown>) void _;
    })();
    expect((await grpcCode(action)).code).toBe(grpc.status.RESOURCE_EXHAUSTED);
    // After those two calls the server's own limit is back for the put.
    const data = Buffer.alloc(100_000, 5);
    const meta = await rawPut(gzip, [{ flight_descriptor: { type: 'PATH', path: ['zip/s'] }, data_header: PUT_SCHEMA_HEADER }, row(data)]);
    expect(meta.length).toBeGreaterThan(0);
  } finally {
    gzip.close();
    await server.close();
  }
});

test('DoPut and DoGet answer the same on node:http2 and on grpc-js', async () => {
  const answers = [];
  for (const transport of ['http2', 'grpc-js'] as const) {
    const { server, endpoint } = await startServer({ transport });
    const client = new CacheClient({ endpoint, lruEntries: 0 });
    const Ctor = flightClientConstructor();
    const raw = new Ctor(endpoint.replace(/^grpc:\/\//, ''), grpc.credentials.createInsecure(), UNLIMITED_MESSAGES);
    try {
      const ref = await client.update('same/s/obj', Buffer.from('base'));
      await client.patch(ref.key, Buffer.from('delta'));
      const a = await rawGet(raw, `${ref.key}:0`);
      const b = await rawGet(raw, `${ref.key}:1`);
      answers.push({
        full: a.rows.map((r) => [r.version, r.kind, Buffer.from(r.data).toString()]),
        patches: b.rows.map((r) => [r.version, r.kind, Buffer.from(r.data).toString()]),
        schema: a.schema.fields.map((f) => f.name),
      });
    } finally {
      raw.close();
      client.close();
      await server.close();
    }
  }
  expect(answers[0]).toEqual(answers[1]);
  expect(answers[0]!.full).toEqual([
    [1, 'base', 'base'],
    [2, 'patch', 'delta'],
  ]);
});

test('takeStreams leaves a server whose grpc-js internals moved to grpc-js', () => {
  const server = new grpc.Server();
  const moved = Object.assign(Object.create(null) as object, { _streamHandler: 'not a function' }) as unknown as grpc.Server;
  expect(takeStreams(moved, () => undefined, 1024)).toBe(false);
  expect(takeStreams(server, () => undefined, 1024)).toBe(true);
  server.forceShutdown();
});

test('a put of one 48 MiB message, then its get, on node:http2 (responding before the body was in reset such puts)', async () => {
  const { server, endpoint } = await startServer({ maxMemoryBytes: 256 * 1024 * 1024 });
  const client = new CacheClient({ endpoint, lruEntries: 0, chunkBytes: 64 * 1024 * 1024 });
  try {
    const data = Buffer.alloc(48 * 1024 * 1024);
    for (let i = 0; i < data.length; i += 4096) data.writeUInt32LE(i, i);
    const ref = await client.put('big/s', data);
    const got = await client.get({ ...ref, version: 0 });
    expect(got.kind === 'opaque' && Buffer.from(got.base).equals(data)).toBe(true);
  } finally {
    client.close();
    await server.close();
  }
});
