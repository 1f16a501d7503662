/**
 * What the embedded server does to keep small puts and gets cheap and large
 * puts flowing (src/cache/server/session-windows.ts, decoded-headers.ts,
 * raw-call.ts `joinSmall`), checked for their effect on the wire and on results.
 */
import http2 from 'node:http2';
import net from 'node:net';
import * as grpc from '@grpc/grpc-js';
import { BSON } from 'bson';
import pino from 'pino';
import { CacheClient } from '../../src/cache/client';
import { frameFlightData } from '../../src/cache/transport';
import { ANSWER_SCHEMA_HEADER, encodeRow, PUT_SCHEMA_HEADER } from '../../src/cache/opaque';
import { FlmError, ErrorCode } from '../../src/errors';
import { decodeHeader } from '../../src/cache/server/decoded-headers';
import { joinSmall } from '../../src/cache/server/raw-call';
import { CONNECTION_WINDOW_BYTES, MAX_FRAME_BYTES, STREAM_WINDOW_BYTES } from '../../src/cache/server/session-windows';
import { FrameParser, PREFACE } from '../../src/cache/h2/frames';
import { FramedMessage } from '../../src/cache/server/shared-answers';
import { answerFor } from '../../src/cache/server/flight-service';
import * as smallAnswers from '../../src/cache/server/small-answer';
import * as keys from '../../src/wire/keys';
import type { StoredObject } from '../../src/cache/server/stored-object';
import { grpcCode, rawClient, rawGet, rawPut, startServer } from './helpers';

test('a connection is opened with the 1 MiB stream and connection windows of Flame’s cache, and larger frames', async () => {
  const { server, endpoint } = await startServer();
  const session = http2.connect(endpoint.replace(/^grpc:/, 'http:'));
  try {
    await new Promise<void>((resolve, reject) => {
      session.once('error', reject);
      const check = (): void => {
        if (session.remoteSettings.initialWindowSize === STREAM_WINDOW_BYTES) resolve();
        else session.once('remoteSettings', check);
      };
      session.once('remoteSettings', check);
    });
    // The connection's WINDOW_UPDATE was sent before the SETTINGS change; a ping's answer comes after both.
    await new Promise<void>((resolve, reject) => session.ping((err) => (err ? reject(err) : resolve())));
    expect(session.state.remoteWindowSize).toBe(CONNECTION_WINDOW_BYTES);
    // Sent in the same SETTINGS frame as the stream window.
    expect(session.remoteSettings.maxFrameSize).toBe(MAX_FRAME_BYTES);
  } finally {
    session.close();
    await server.close();
  }
});

/**
 * A loopback TCP proxy that reads the client's HTTP/2 frames on their way to `upstream`: the sizes
 * of the DATA frames a real client sends, as the server's settings let it.
 */
async function framesProxy(upstream: string): Promise<{ endpoint: string; dataFrames: number[]; close: () => void }> {
  const port = Number(new URL(upstream.replace(/^grpc:/, 'http:')).port);
  const dataFrames: number[] = [];
  const sockets: net.Socket[] = [];
  const proxy = net.createServer((client) => {
    const server = net.connect(port, '127.0.0.1');
    sockets.push(client, server);
    const parser = new FrameParser(
      { onFrame: () => undefined, onDataStart: (_id, _flags, length) => dataFrames.push(length), onData: () => undefined, onDataEnd: () => undefined },
      2 ** 24 - 1,
    );
    let preface = PREFACE.length;
    client.on('data', (chunk: Buffer) => {
      const skip = Math.min(preface, chunk.length);
      preface -= skip;
      if (chunk.length > skip) parser.push(chunk.subarray(skip));
      server.write(chunk);
    });
    server.pipe(client);
    client.on('error', () => server.destroy());
    server.on('error', () => client.destroy());
    client.on('close', () => server.destroy());
  });
  await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
  const { port: proxyPort } = proxy.address() as net.AddressInfo;
  return {
    endpoint: `grpc://127.0.0.1:${proxyPort}`,
    dataFrames,
    close: () => {
      for (const s of sockets) s.destroy();
      proxy.close();
    },
  };
}

test('a large put reaches the server in DATA frames of up to MAX_FRAME_BYTES, not 16 KiB ones, and reads back whole', async () => {
  const { server, endpoint } = await startServer();
  const proxy = await framesProxy(endpoint);
  const client = new CacheClient({ endpoint: proxy.endpoint, lruEntries: 0 });
  try {
    const data = Buffer.alloc(6 * 1024 * 1024 + 3);
    for (let i = 0; i < data.length; i++) data[i] = (i * 31) & 0xff;
    const ref = await client.put('frames/s', data);
    const largest = Math.max(...proxy.dataFrames);
    expect(largest).toBeGreaterThan(16 * 1024);
    expect(largest).toBeLessThanOrEqual(MAX_FRAME_BYTES);
    // Over 16 KiB frames the 6 MiB alone would take 385.
    expect(proxy.dataFrames.length).toBeLessThan(6 * 64);
    const got = await client.get(ref);
    expect(got.kind === 'opaque' && Buffer.from(got.base).equals(data)).toBe(true);
  } finally {
    client.close();
    proxy.close();
    await server.close();
  }
});

test('a 3 MiB put (past both windows) and puts of different sizes with the same schema read back whole', async () => {
  const { server, endpoint } = await startServer();
  const client = new CacheClient({ endpoint, lruEntries: 0 });
  try {
    for (const size of [16, 3 * 1024 * 1024 + 5, 16, 17, 0]) {
      const data = Buffer.alloc(size);
      for (let i = 0; i < size; i++) data[i] = (i * 7 + size) & 0xff;
      const ref = await client.put('fast/s', data);
      const got = await client.get(ref);
      expect(got.kind === 'opaque' && Buffer.from(got.base).equals(data)).toBe(true);
    }
  } finally {
    client.close();
    await server.close();
  }
});

test('equal headers decode to one shared message; garbage is still InvalidInput, on every try', () => {
  const a = decodeHeader(Uint8Array.from(PUT_SCHEMA_HEADER), 'first');
  const b = decodeHeader(Uint8Array.from(PUT_SCHEMA_HEADER), 'second');
  expect(b).toBe(a);
  expect(a.isSchema()).toBe(true);
  const row = encodeRow(0, undefined, [Buffer.alloc(16)]);
  const batch = decodeHeader(row.header, 'batch');
  expect(batch.isRecordBatch() && batch.bodyLength).toBe(row.bodyLength);
  const garbage = Buffer.alloc(64, 0x41);
  for (let i = 0; i < 2; i++) {
    let thrown: unknown;
    try {
      decodeHeader(garbage, 'garbage');
    } catch (err) {
      thrown = err;
    }
    expect(thrown instanceof FlmError && thrown.code === ErrorCode.InvalidInput).toBe(true);
  }
});

test('a bad batch after a good put with the same schema is refused, and the server keeps serving', async () => {
  const { server, endpoint } = await startServer();
  const raw = rawClient(endpoint);
  try {
    const good = encodeRow(0, undefined, [Buffer.from('fine')]);
    const meta = await rawPut(raw, [
      { flight_descriptor: { type: 'PATH', path: ['bad/s'] }, data_header: PUT_SCHEMA_HEADER },
      { data_header: good.header, data_body: good.body },
    ]);
    const key = BSON.deserialize(meta).key as string;
    // The same (shared) header with a body shorter than it declares.
    await expect(
      rawPut(raw, [
        { flight_descriptor: { type: 'PATH', path: ['bad/s'] }, data_header: PUT_SCHEMA_HEADER },
        { data_header: good.header, data_body: [Buffer.alloc(4)] },
      ]),
    ).rejects.toMatchObject({ code: grpc.status.INVALID_ARGUMENT });
    const answer = await rawGet(raw, `${key}:0`);
    expect(answer.rows.map((r) => Buffer.from(r.data).toString())).toEqual(['fine']);
  } finally {
    raw.close();
    await server.close();
  }
});

test('joinSmall: a small answer becomes one buffer of its framed messages; a large one keeps its parts', () => {
  const schema = FramedMessage.of({ data_header: ANSWER_SCHEMA_HEADER });
  const small = encodeRow(1, 'base', [Buffer.alloc(16, 1)]);
  const smallMsg = { data_header: small.header, data_body: small.body };
  const joined = joinSmall([schema, smallMsg]);
  expect(joined?.bytes.equals(Buffer.concat([schema.bytes, ...frameFlightData(smallMsg)]))).toBe(true);
  const large = encodeRow(1, 'base', [Buffer.alloc(64 * 1024, 1)]);
  expect(joinSmall([schema, { data_header: large.header, data_body: large.body }])).toBeUndefined();
});

test('smallAnswer: the same bytes as answerFor + joinSmall for a base row, whatever its size and chunks', () => {
  const obj = (version: number, chunks: Buffer[]): StoredObject => {
    const size = chunks.reduce((n, c) => n + c.length, 0);
    return { key: 'a/b/c', baseVersion: version, version, value: { kind: 'opaque', chunks, size }, deltas: [], size };
  };
  for (const size of [0, 1, 4, 7, 8, 9, 16, 100, 1000, smallAnswers.SMALL_ANSWER_MAX_BYTES]) {
    const data = Buffer.alloc(size);
    for (let i = 0; i < size; i++) data[i] = (i * 13 + size) & 0xff;
    const splits = size > 2 ? [[data], [data.subarray(0, 1), data.subarray(1, size - 1), data.subarray(size - 1)]] : [[data]];
    for (const chunks of splits) {
      for (const version of [1, 7, 2 ** 32 + 5, Number.MAX_SAFE_INTEGER]) {
        const expected = joinSmall(answerFor(obj(version, chunks), 0))!.bytes;
        expect(smallAnswers.smallAnswer(version, chunks, size).equals(expected)).toBe(true);
      }
    }
  }
});

test('a small get is answered whole, by version as before: the schema alone for the version the client holds', async () => {
  const { server, endpoint } = await startServer();
  const raw = rawClient(endpoint);
  const client = new CacheClient({ endpoint, lruEntries: 0 });
  // The answers written in place (the at-once path) are counted: the general path would give the same rows.
  const atOnce = jest.spyOn(smallAnswers, 'smallAnswer');
  try {
    const ref = await client.put('fast/s', Buffer.from('sixteen bytes!!!'));
    atOnce.mockClear();
    const whole = await rawGet(raw, `${ref.key}:0`);
    expect(whole.rows.map((r) => [r.version, r.kind, Buffer.from(r.data).toString()])).toEqual([[1, 'base', 'sixteen bytes!!!']]);
    expect(atOnce).toHaveBeenCalledTimes(1);
    const newer = await rawGet(raw, `${ref.key}:5`);
    expect(newer.rows.map((r) => Buffer.from(r.data).toString())).toEqual(['sixteen bytes!!!']);
    expect(atOnce).toHaveBeenCalledTimes(2);
    // The version the client holds goes to the general path (answerFor: the schema alone).
    const same = await rawGet(raw, `${ref.key}:1`);
    expect(same.rows).toEqual([]);
    expect(atOnce).toHaveBeenCalledTimes(2);
    // A leading byte order mark is not part of the ticket's text (as a UTF-8 decoder reads it); a lone surrogate's bytes are not UTF-8.
    const marked = await rawGet(raw, `\ufeff${ref.key}:0`);
    expect(marked.rows.map((r) => Buffer.from(r.data).toString())).toEqual(['sixteen bytes!!!']);
    expect(atOnce).toHaveBeenCalledTimes(3);
    const surrogate = await grpcCode(rawGet(raw, Buffer.concat([Buffer.from(ref.key), Buffer.from([0xed, 0xa0, 0x80]), Buffer.from(':0')])));
    expect(surrogate).toMatchObject({ code: grpc.status.INVALID_ARGUMENT, details: expect.stringContaining('UTF-8') });
    const got = await client.get(ref);
    expect(got.kind === 'opaque' && Buffer.from(got.base).toString()).toBe('sixteen bytes!!!');
    // An object too large for it is not answered this way.
    const large = await client.put('fast/s', Buffer.alloc(smallAnswers.SMALL_ANSWER_MAX_BYTES + 1, 7));
    atOnce.mockClear();
    const big = await rawGet(raw, `${large.key}:0`);
    expect(big.rows.map((r) => r.data.length)).toEqual([smallAnswers.SMALL_ANSWER_MAX_BYTES + 1]);
    expect(atOnce).not.toHaveBeenCalled();
  } finally {
    atOnce.mockRestore();
    client.close();
    raw.close();
    await server.close();
  }
});

test('a get the at-once path passes on (an object with a patch) has its ticket parsed once', async () => {
  const { server, endpoint } = await startServer();
  const raw = rawClient(endpoint);
  const client = new CacheClient({ endpoint, lruEntries: 0 });
  const parsed = jest.spyOn(keys, 'parseKey');
  try {
    const ref = await client.put('fast/s', Buffer.from('base'));
    await client.patch(ref.key, Buffer.from('delta'));
    parsed.mockClear();
    const answer = await rawGet(raw, `${ref.key}:0`);
    expect(answer.rows.map((r) => Buffer.from(r.data).toString())).toEqual(['base', 'delta']);
    expect(parsed).toHaveBeenCalledTimes(1);
  } finally {
    parsed.mockRestore();
    client.close();
    raw.close();
    await server.close();
  }
});

test('DoGet answers carry no date header, whether with messages or trailers only', async () => {
  const { server, endpoint } = await startServer();
  const client = new CacheClient({ endpoint, lruEntries: 0 });
  const session = http2.connect(endpoint.replace(/^grpc:/, 'http:'));
  const get = (ticket: string): Promise<{ headers: http2.IncomingHttpHeaders; trailers: http2.IncomingHttpHeaders }> =>
    new Promise((resolve, reject) => {
      const t = Buffer.from(ticket);
      const req = session.request({ ':method': 'POST', ':path': '/arrow.flight.protocol.FlightService/DoGet', 'content-type': 'application/grpc', te: 'trailers' });
      let headers: http2.IncomingHttpHeaders = {};
      let trailers: http2.IncomingHttpHeaders = {};
      req.on('response', (h) => (headers = h));
      req.on('trailers', (h) => (trailers = h));
      req.on('data', () => undefined);
      req.on('error', reject);
      req.on('close', () => resolve({ headers, trailers }));
      const framed = Buffer.alloc(5 + 2 + t.length);
      framed.writeUInt32BE(2 + t.length, 1);
      framed[5] = 0x0a;
      framed[6] = t.length;
      t.copy(framed, 7);
      req.end(framed);
    });
  try {
    const ref = await client.put('fast/s', Buffer.from('no date'));
    const found = await get(`${ref.key}:0`);
    expect(found.headers[':status']).toBe(200);
    expect(found.trailers['grpc-status']).toBe('0');
    const missing = await get('fast/s/none:0');
    expect(missing.headers['grpc-status']).toBe(String(grpc.status.NOT_FOUND));
    for (const h of [found.headers, found.trailers, missing.headers]) expect(h.date).toBeUndefined();
  } finally {
    session.close();
    client.close();
    await server.close();
  }
});

test('DoGets reset by the client just after their ticket leave no internal error, and the server keeps serving', async () => {
  const lines: string[] = [];
  const logger = pino({ level: 'warn' }, { write: (line: string) => void lines.push(line) });
  const { server, endpoint } = await startServer({ logger });
  const client = new CacheClient({ endpoint, lruEntries: 0 });
  const session = http2.connect(endpoint.replace(/^grpc:/, 'http:'));
  try {
    const ref = await client.put('fast/s', Buffer.from('reset me'));
    const t = Buffer.from(`${ref.key}:0`);
    const framed = Buffer.concat([Buffer.from([0, 0, 0, 0, t.length + 2, 0x0a, t.length]), t]);
    const closed: Promise<void>[] = [];
    for (let i = 0; i < 50; i++) {
      const req = session.request({ ':method': 'POST', ':path': '/arrow.flight.protocol.FlightService/DoGet', 'content-type': 'application/grpc', te: 'trailers' });
      req.on('error', () => undefined);
      req.end(framed);
      // Reset at once or after the request went out, so that the server meets the reset at different points.
      if (i % 2 === 0) req.close(http2.constants.NGHTTP2_CANCEL);
      else setImmediate(() => req.close(http2.constants.NGHTTP2_CANCEL));
      closed.push(new Promise((resolve) => req.on('close', resolve)));
    }
    await Promise.all(closed);
    const got = await client.get(ref);
    expect(got.kind === 'opaque' && Buffer.from(got.base).toString()).toBe('reset me');
    expect(lines.filter((l) => (JSON.parse(l) as { level: number }).level >= 50)).toEqual([]);
  } finally {
    session.close();
    client.close();
    await server.close();
  }
});
