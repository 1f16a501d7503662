/**
 * The embedded cache server's bounds under abusive clients: bytes of unfinished
 * puts bounded server-wide (headers included), idle streams ended, stored puts
 * streamed to disk and their leftovers removed, DoGet answers encoded once for
 * every reader, status messages bounded and free of storage paths.
 */
import fs from 'node:fs';
import http2 from 'node:http2';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { Field, Int32, Schema, tableFromArrays, tableToIPC } from 'apache-arrow';
import { CacheClient } from '../../src/cache/client';
import { encodeFlightData, type OutgoingFlightData } from '../../src/cache/flight-data';
import type { FlightServiceClient } from '../../src/cache/flight';
import { encodeSchema } from '../../src/wire/ipc';
import { encodeRow, PUT_SCHEMA_HEADER } from '../../src/cache/opaque';
import { arrowPutMessages } from '../../src/cache/put-messages';
import { MAX_STATUS_CHARS } from '../../src/cache/server/status';
import { OTHER_METHODS_MAX_MESSAGE } from '../../src/cache/server/cache-server';
import { decodeObjectRef } from '../../src/wire/object-ref';
import { makeTempDir, removeDir } from '../helpers/tmp';
import { grpcCode, heldGet, rawClient, rawPut, startServer } from './helpers';

const MiB = 1024 * 1024;
const path1 = (p: string) => ({ type: 'PATH' as const, path: [p] });
const chunk = (n: number, fill: number): OutgoingFlightData => {
  const r = encodeRow(0, undefined, [Buffer.alloc(n, fill)]);
  return { data_header: r.header, data_body: r.body };
};

/** Waits (without a deadline of its own: jest's test timeout bounds it) until `cond` holds. */
async function until(cond: () => boolean): Promise<void> {
  while (!cond()) await new Promise((r) => setTimeout(r, 20));
}

/** A DoPut kept open: its messages are written, the stream is not ended; `outcome` settles with its status. */
function openPut(client: FlightServiceClient, messages: OutgoingFlightData[]): { call: grpc.ClientDuplexStream<OutgoingFlightData, unknown>; outcome: Promise<grpc.StatusObject> } {
  const call = client.DoPut(new grpc.Metadata(), {});
  const outcome = new Promise<grpc.StatusObject>((resolve) => {
    call.on('error', () => undefined);
    call.on('data', () => undefined);
    call.on('status', resolve);
  });
  for (const m of messages) call.write(m);
  return { call, outcome };
}

let dir: string;
beforeEach(() => {
  dir = makeTempDir('flm-cache-limits-');
});
afterEach(() => removeDir(dir));

describe('bytes of unfinished puts are bounded server-wide', () => {
  test('concurrent streams held open: the one past the limit is refused, the others and later puts go through', async () => {
    const { server, endpoint } = await startServer({ maxMemoryBytes: 8 * MiB });
    const raw = rawClient(endpoint);
    try {
      const open = (n: number) => openPut(raw, [{ flight_descriptor: path1(`app/held${n}`), data_header: PUT_SCHEMA_HEADER }, chunk(MiB, 1), chunk(MiB, 2), chunk(MiB, 3)]);
      const first = open(1);
      const second = open(2);
      await until(() => server.unfinishedPutBytes >= 6 * MiB);
      const third = open(3);
      const refused = await third.outcome;
      expect(refused.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
      expect(refused.details).toMatch(/unfinished puts.*limit for all of them together is 8388608 bytes/);
      // The two held streams are not harmed: they commit when they end.
      first.call.end();
      second.call.end();
      expect((await first.outcome).code).toBe(grpc.status.OK);
      expect((await second.outcome).code).toBe(grpc.status.OK);
      expect(server.unfinishedPutBytes).toBe(0);
      await expect(rawPut(raw, [{ flight_descriptor: path1('app/after'), data_header: PUT_SCHEMA_HEADER }, chunk(MiB, 4)])).resolves.toBeDefined();
    } finally {
      raw.close();
      await server.close();
    }
  });

  test('native Arrow headers count: megabytes of batch headers with tiny bodies are refused', async () => {
    const { server, endpoint } = await startServer({ maxMemoryBytes: 4 * MiB });
    const raw = rawClient(endpoint);
    try {
      const ipc = tableToIPC(tableFromArrays({ x: Int32Array.from([1, 2, 3]) }), 'stream');
      const [schema, batch] = arrowPutMessages(path1('app/native'), ipc);
      // A valid batch header followed by 1 MiB the flatbuffer never points at.
      const fat = { ...batch!, data_header: Buffer.concat([batch!.data_header!, Buffer.alloc(MiB)]) };
      const { code, details } = await grpcCode(rawPut(raw, [schema!, ...Array.from({ length: 10 }, () => fat)]));
      expect(code).toBe(grpc.status.RESOURCE_EXHAUSTED);
      expect(details).toMatch(/unfinished puts/);
      expect(server.unfinishedPutBytes).toBe(0);
    } finally {
      raw.close();
      await server.close();
    }
  });

  test('a stream that sends nothing for idleTimeoutMs is ended and its bytes released', async () => {
    const { server, endpoint } = await startServer({ maxMemoryBytes: 8 * MiB, idleTimeoutMs: 300 });
    const raw = rawClient(endpoint);
    try {
      const idle = openPut(raw, [{ flight_descriptor: path1('app/idle'), data_header: PUT_SCHEMA_HEADER }, chunk(MiB, 1)]);
      const status = await idle.outcome;
      expect(status.code).toBe(grpc.status.DEADLINE_EXCEEDED);
      expect(status.details).toMatch(/sent nothing for 300 ms/);
      expect(server.unfinishedPutBytes).toBe(0);
    } finally {
      raw.close();
      await server.close();
    }
  });
});

/**
 * A DoPut or DoGet over plain node:http2, as a client that is not grpc-js may send it (grpc-js's cancel
 * sends END_STREAM before its RST_STREAM, so a cut made with it is not a cut); `status` is the gRPC
 * status once it comes (undefined when the stream closes without one).
 */
function rawFlightCall(endpoint: string, method: 'DoPut' | 'DoGet', headers: http2.OutgoingHttpHeaders = {}): { session: http2.ClientHttp2Session; stream: http2.ClientHttp2Stream; status: Promise<string | undefined> } {
  const session = http2.connect(endpoint.replace(/^grpc:/, 'http:'));
  session.on('error', () => undefined);
  const stream = session.request({ ':method': 'POST', ':path': `/arrow.flight.protocol.FlightService/${method}`, 'content-type': 'application/grpc', te: 'trailers', ...headers });
  stream.on('error', () => undefined);
  stream.on('data', () => undefined);
  const status = new Promise<string | undefined>((resolve) => {
    stream.on('response', (h) => {
      if (h['grpc-status'] !== undefined) resolve(String(h['grpc-status']));
    });
    stream.on('trailers', (t) => resolve(String(t['grpc-status'])));
    stream.on('close', () => resolve(undefined));
  });
  return { session, stream, status };
}

/** The 5-byte gRPC prefix announcing `announced` bytes (by default the body's length), then the body. */
function grpcMessage(body: Uint8Array, announced = body.length): Buffer {
  const prefix = Buffer.alloc(5);
  prefix.writeUInt32BE(announced, 1);
  return Buffer.concat([prefix, body]);
}

/** A DoPut whose message is announced as `announced` bytes and left unfinished after `sent` of them. */
function unfinishedMessage(endpoint: string, announced: number, sent: number): { stream: http2.ClientHttp2Stream; session: http2.ClientHttp2Session } {
  const { session, stream } = rawFlightCall(endpoint, 'DoPut');
  stream.write(grpcMessage(Buffer.alloc(0), announced));
  for (let at = 0; at < sent; at += 256 * 1024) stream.write(Buffer.alloc(Math.min(256 * 1024, sent - at), 7));
  return { stream, session };
}

describe('bytes of messages still arriving count too', () => {
  test('a put message held half-sent holds its bytes: a put past the limit is refused meanwhile, and they are released when it is cut', async () => {
    const { server, endpoint } = await startServer({ maxMemoryBytes: 8 * MiB });
    const raw = rawClient(endpoint);
    const held = unfinishedMessage(endpoint, 8.5 * MiB, 6 * MiB); // under the largest message (8 MiB + 1 MiB)
    try {
      await until(() => server.unfinishedPutBytes >= 6 * MiB);
      const { code, details } = await grpcCode(rawPut(raw, [{ flight_descriptor: path1('app/next'), data_header: PUT_SCHEMA_HEADER }, chunk(3 * MiB, 1)]));
      expect(code).toBe(grpc.status.RESOURCE_EXHAUSTED);
      expect(details).toMatch(/unfinished puts.*limit for all of them together is 8388608 bytes/);
      held.stream.close(http2.constants.NGHTTP2_CANCEL);
      await until(() => server.unfinishedPutBytes === 0);
      await expect(rawPut(raw, [{ flight_descriptor: path1('app/after'), data_header: PUT_SCHEMA_HEADER }, chunk(3 * MiB, 2)])).resolves.toBeDefined();
      expect(server.unfinishedPutBytes).toBe(0);
    } finally {
      held.session.destroy();
      raw.close();
      await server.close();
    }
  });

  test('charged as it arrives, a lone message above the limit still passes whole (with storage); one arriving while others are held is refused', async () => {
    const { server, endpoint } = await startServer({ maxMemoryBytes: 2 * MiB, storageDir: dir });
    const raw = rawClient(endpoint);
    const client = new CacheClient({ endpoint });
    try {
      // Alone: one 5 MiB message (CacheClient would send 1 MiB ones) is gathered over many reads, charged
      // as it comes, and passes.
      const big = Buffer.alloc(5 * MiB, 3);
      const ref = decodeObjectRef(await rawPut(raw, [{ flight_descriptor: path1('app/alone'), data_header: PUT_SCHEMA_HEADER }, chunk(5 * MiB, 3)]));
      expect(server.unfinishedPutBytes).toBe(0);
      const back = await client.get(ref);
      expect(back.kind === 'opaque' && back.base.equals(big)).toBe(true);
      // With 1.5 MiB of another put's message still arriving (held until it is whole or cut: a whole message
      // would be written to the storage directory and released, too soon to watch), a message growing past
      // the limit is refused as it grows.
      const other = unfinishedMessage(endpoint, 3 * MiB, 1.5 * MiB);
      try {
        await until(() => server.unfinishedPutBytes >= 1.5 * MiB);
        const { code } = await grpcCode(rawPut(raw, [{ flight_descriptor: path1('app/late'), data_header: PUT_SCHEMA_HEADER }, chunk(5 * MiB, 2)]));
        expect(code).toBe(grpc.status.RESOURCE_EXHAUSTED);
        other.stream.close(http2.constants.NGHTTP2_CANCEL);
        await until(() => server.unfinishedPutBytes === 0);
      } finally {
        other.session.destroy();
      }
    } finally {
      client.close();
      raw.close();
      await server.close();
    }
  });

  test('a put refused at a later message\'s prefix (too large) releases its earlier messages at once, not at its idle timeout', async () => {
    const { server, endpoint } = await startServer({ maxMemoryBytes: 8 * MiB, idleTimeoutMs: 600_000 });
    try {
      const { session, stream, status } = rawFlightCall(endpoint, 'DoPut');
      stream.write(grpcMessage(encodeFlightData({ flight_descriptor: path1('app/refused'), data_header: PUT_SCHEMA_HEADER })));
      stream.write(grpcMessage(encodeFlightData(chunk(MiB, 1))));
      await until(() => server.unfinishedPutBytes >= MiB);
      stream.write(grpcMessage(Buffer.alloc(0), 100 * MiB));
      expect(await status).toBe(String(grpc.status.RESOURCE_EXHAUSTED));
      await until(() => server.unfinishedPutBytes === 0);
      session.destroy();
    } finally {
      await server.close();
    }
  });

  test('a put whose deadline lies further than a timer holds (grpc-timeout 99999999H) is served as one without', async () => {
    const { server, endpoint } = await startServer();
    const { session, stream, status } = rawFlightCall(endpoint, 'DoPut', { 'grpc-timeout': '99999999H' });
    try {
      stream.write(grpcMessage(encodeFlightData({ flight_descriptor: path1('app/far'), data_header: PUT_SCHEMA_HEADER })));
      // The call stays open a while (a timer that overflowed would fire after 1 ms, within it).
      await new Promise((resolve) => setTimeout(resolve, 50));
      stream.end(grpcMessage(encodeFlightData(chunk(1024, 1))));
      expect(await status).toBe(String(grpc.status.OK));
    } finally {
      session.destroy();
      await server.close();
    }
  });

  test('a put past its deadline in the middle of a message releases all it held at once, the client still connected', async () => {
    const { server, endpoint } = await startServer({ maxMemoryBytes: 8 * MiB, idleTimeoutMs: 600_000 });
    const { session, stream, status } = rawFlightCall(endpoint, 'DoPut', { 'grpc-timeout': '500m' });
    try {
      stream.write(grpcMessage(encodeFlightData({ flight_descriptor: path1('app/late'), data_header: PUT_SCHEMA_HEADER })));
      stream.write(grpcMessage(encodeFlightData(chunk(MiB, 1))));
      stream.write(grpcMessage(Buffer.alloc(2 * MiB, 2), 4 * MiB)); // half of a 4 MiB message
      expect(await status).toBe(String(grpc.status.DEADLINE_EXCEEDED));
      // Our side is ended, the client's is not: nothing closed the stream, yet nothing stays charged.
      await until(() => server.unfinishedPutBytes === 0);
      expect(stream.closed).toBe(false);
    } finally {
      session.destroy();
      await server.close();
    }
  });

  test('a DoGet request longer than any Ticket is RESOURCE_EXHAUSTED at its prefix; the server serves on', async () => {
    const { server, endpoint } = await startServer();
    const raw = rawClient(endpoint);
    try {
      const { session, stream, status } = rawFlightCall(endpoint, 'DoGet');
      // A whole Ticket message of 1 MiB (field 1, a 1 MiB key): far under the largest put message.
      stream.end(grpcMessage(Buffer.concat([Buffer.from([0x0a, 0x80, 0x80, 0x40]), Buffer.alloc(MiB, 0x61)])));
      expect(await status).toBe(String(grpc.status.RESOURCE_EXHAUSTED));
      session.destroy();
      const ref = await rawPut(raw, [{ flight_descriptor: path1('app/still'), data_header: PUT_SCHEMA_HEADER }, chunk(10, 1)]);
      expect(ref.length).toBeGreaterThan(0);
    } finally {
      raw.close();
      await server.close();
    }
  });
});

describe('methods grpc-js serves take small messages only', () => {
  const action = async (raw: FlightServiceClient, body: Buffer): Promise<void> => {
    for await (const _ of raw.DoAction({ type: 'DELETE', body }, new grpc.Metadata(), {}) as AsyncIterable<unknown>) void _;
  };

  test('an Action above OTHER_METHODS_MAX_MESSAGE is RESOURCE_EXHAUSTED; a small one, puts and gets go on', async () => {
    const { server, endpoint } = await startServer();
    const raw = rawClient(endpoint);
    const client = new CacheClient({ endpoint });
    try {
      expect((await grpcCode(action(raw, Buffer.alloc(OTHER_METHODS_MAX_MESSAGE + 1, 0x61)))).code).toBe(grpc.status.RESOURCE_EXHAUSTED);
      const big = Buffer.alloc(MiB, 7);
      const ref = await client.put('app/big', big);
      const back = await client.get(ref);
      expect(back.kind === 'opaque' && back.base.equals(big)).toBe(true);
      await action(raw, Buffer.from('app/*'));
      await expect(client.get(ref)).rejects.toThrow(/not found/i);
    } finally {
      client.close();
      raw.close();
      await server.close();
    }
  });

  test("with transport 'grpc-js' (DoPut gathered by grpc-js too) the limit stays the put's", async () => {
    const { server, endpoint } = await startServer({ transport: 'grpc-js' });
    const raw = rawClient(endpoint);
    try {
      const ref = await rawPut(raw, [{ flight_descriptor: path1('app/big'), data_header: PUT_SCHEMA_HEADER }, chunk(MiB, 3)]);
      expect(ref.length).toBeGreaterThan(0);
    } finally {
      raw.close();
      await server.close();
    }
  });
});

describe('stored puts stream to disk', () => {
  const tmpFiles = (): { name: string; size: number }[] =>
    (fs.readdirSync(dir, { recursive: true }) as string[])
      .filter((f) => f.endsWith('.tmp'))
      .map((f) => ({ name: f, size: fs.statSync(path.join(dir, f)).size }));

  test('the object reaches its file while the stream is open; a cut put leaves no file', async () => {
    const { server, endpoint } = await startServer({ storageDir: dir, maxMemoryBytes: 2 * MiB });
    const raw = rawClient(endpoint);
    try {
      // Raw HTTP/2, so that the cut is a cut.
      const { session, stream } = rawFlightCall(endpoint, 'DoPut');
      for (const m of [{ flight_descriptor: path1('app/spool/obj'), data_header: PUT_SCHEMA_HEADER }, ...Array.from({ length: 6 }, (_, i) => chunk(MiB, i))]) {
        stream.write(grpcMessage(encodeFlightData(m)));
      }
      // 6 MiB on disk before the stream ends, while the server holds no more than its 2 MiB limit.
      await until(() => tmpFiles().some((f) => f.size >= 6 * MiB));
      expect(server.unfinishedPutBytes).toBeLessThanOrEqual(2 * MiB);
      session.destroy();
      await until(() => tmpFiles().length === 0);
      expect(fs.existsSync(path.join(dir, 'app', 'spool', 'obj.arrow'))).toBe(false);
    } finally {
      raw.close();
      await server.close();
    }
  });

  test('a streamed put is served, survives a restart, and files left by a killed server are removed at start', async () => {
    const data = Buffer.alloc(3 * MiB + 5);
    for (let i = 0; i < data.length; i++) data[i] = (i * 7) & 0xff;
    const first = await startServer({ storageDir: dir, maxMemoryBytes: 2 * MiB });
    let client = new CacheClient({ endpoint: first.endpoint, lruEntries: 0 });
    const ref = await client.put('app/sess', data);
    const native = tableFromArrays({ x: Int32Array.from({ length: 100_000 }, (_, i) => i) });
    const nref = await client.put('app/sess', { kind: 'arrow', ipc: tableToIPC(native, 'stream') });
    const got = await client.get(ref);
    expect(got.kind === 'opaque' && got.base.equals(data)).toBe(true);
    client.close();
    await first.server.close();
    // What a kill -9 mid-put leaves: a temporary file beside the objects (and one in a deltas directory).
    const leftover = path.join(dir, 'app', 'sess', 'x.arrow.0123456789ab.tmp');
    fs.writeFileSync(leftover, Buffer.alloc(1000));
    fs.mkdirSync(path.join(dir, 'app', 'sess', 'y.deltas'));
    fs.writeFileSync(path.join(dir, 'app', 'sess', 'y.deltas', '2.arrow.0123456789ab.tmp'), 'x');
    const second = await startServer({ storageDir: dir, maxMemoryBytes: 2 * MiB });
    client = new CacheClient({ endpoint: second.endpoint, lruEntries: 0 });
    try {
      expect(tmpFiles()).toEqual([]);
      const again = await client.get({ ...ref, endpoint: second.endpoint });
      expect(again.kind === 'opaque' && again.base.equals(data) && again.version).toBe(1);
      const table = await client.get({ ...nref, endpoint: second.endpoint });
      expect(table.kind).toBe('arrow');
    } finally {
      client.close();
      await second.server.close();
    }
  });
});

test('on grpc-js, readers of one object version share one encoded answer', async () => {
  const { server, endpoint } = await startServer({ maxMemoryBytes: 64 * MiB, transport: 'grpc-js' });
  const client = new CacheClient({ endpoint, lruEntries: 0 });
  try {
    const ref = await client.put('app/shared', Buffer.alloc(8 * MiB, 7));
    // Ten readers that take nothing until all have asked: the answer is encoded once.
    const calls = Array.from({ length: 10 }, () => heldGet(endpoint, Buffer.from(`${ref.key}:0`)));
    await until(() => server.sharedAnswerReaders === 10);
    const lengths = await Promise.all(
      calls.map(async (c) => {
        try {
          return (await c.read()).reduce((n, m) => n + m.data_body.length, 0);
        } finally {
          c.close();
        }
      }),
    );
    for (const n of lengths) expect(n).toBeGreaterThan(8 * MiB);
    expect(server.answerEncodings).toBe(1);
    // A new version is a new answer.
    await client.update(ref.key, Buffer.alloc(10, 1));
    const next = await client.get({ ...ref, version: 0 });
    expect(next.kind === 'opaque' && next.base.length).toBe(10);
    expect(server.answerEncodings).toBe(2);
  } finally {
    client.close();
    await server.close();
  }
});

test('on node:http2, readers of one object version are answered with the stored bytes, never encoded', async () => {
  const { server, endpoint } = await startServer({ maxMemoryBytes: 64 * MiB });
  const client = new CacheClient({ endpoint, lruEntries: 0 });
  try {
    const ref = await client.put('app/shared', Buffer.alloc(8 * MiB, 7));
    const calls = Array.from({ length: 10 }, () => heldGet(endpoint, Buffer.from(`${ref.key}:0`)));
    const bodies = await Promise.all(
      calls.map(async (c) => {
        try {
          return Buffer.concat((await c.read()).map((m) => m.data_body));
        } finally {
          c.close();
        }
      }),
    );
    for (const b of bodies) {
      expect(b.length).toBeGreaterThan(8 * MiB);
      expect(b.subarray(b.length - 8 * MiB).equals(Buffer.alloc(8 * MiB, 7))).toBe(true);
    }
    expect(server.answerEncodings).toBe(0);
    expect(server.sharedAnswerReaders).toBe(0);
  } finally {
    client.close();
    await server.close();
  }
});

describe('status messages', () => {
  test('a 2,000-column schema is INVALID_ARGUMENT with a bounded message', async () => {
    const { server, endpoint } = await startServer();
    const raw = rawClient(endpoint);
    try {
      const wide = new Schema(Array.from({ length: 2000 }, (_, i) => new Field(`a_rather_long_column_name_${i}`, new Int32())));
      const { code, details } = await grpcCode(rawPut(raw, [{ flight_descriptor: path1('app/wide'), data_header: encodeSchema(wide) }]));
      expect(code).toBe(grpc.status.INVALID_ARGUMENT);
      expect(details.length).toBeLessThanOrEqual(MAX_STATUS_CHARS);
      expect(details).toMatch(/not an opaque object schema/);
    } finally {
      raw.close();
      await server.close();
    }
  });

  test('a key too long for the storage directory is INVALID_ARGUMENT and does not name the directory', async () => {
    const { server, endpoint } = await startServer({ storageDir: dir });
    const raw = rawClient(endpoint);
    try {
      for (const key of [`app/sess/${'k'.repeat(300)}`, `app/${'s'.repeat(300)}`]) {
        const { code, details } = await grpcCode(rawPut(raw, [{ flight_descriptor: path1(key), data_header: PUT_SCHEMA_HEADER }, chunk(10, 1)]));
        expect(code).toBe(grpc.status.INVALID_ARGUMENT);
        expect(details).not.toContain(dir);
        expect(details).not.toMatch(/ENAMETOOLONG/);
      }
    } finally {
      raw.close();
      await server.close();
    }
  });
});
