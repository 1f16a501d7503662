/**
 * The hand-written gRPC path of the cache client (src/cache/transport.ts): framing,
 * reading messages however the bytes are split, and the statuses it reports when
 * the peer is not a well-behaved gRPC server.
 */
import http2 from 'node:http2';
import { status as Status } from '@grpc/grpc-js';
import { decodeFlightData } from '../../src/cache/flight-data';
import { CallError, frameFlightData, Http2Transport } from '../../src/cache/transport';
import { MessageReader } from '../../src/cache/grpc-messages';
import { parseEndpoint } from '../../src/cache/endpoint';
import { listenLoopback } from './helpers';

const unframe = (parts: Uint8Array[]): Buffer => {
  const all = Buffer.concat(parts);
  expect(all[0]).toBe(0);
  expect(all.readUInt32BE(1)).toBe(all.length - 5);
  return all.subarray(5);
};

describe('frameFlightData', () => {
  it('frames small and large bodies (the large one as its own, uncopied parts) into FlightData that decodes back', () => {
    const big = [Buffer.alloc(70 * 1024, 1), Buffer.alloc(300, 2)];
    for (const body of [[Buffer.from('tiny')], big]) {
      const msg = { flight_descriptor: { type: 'PATH' as const, path: ['a/b'] }, data_header: Buffer.from([9, 9]), data_body: body };
      const parts = frameFlightData(msg);
      if (body === big) parts.slice(1).forEach((p, i) => expect(p).toBe(big[i])); // the caller's buffers themselves, uncopied
      const back = decodeFlightData(unframe(parts));
      expect(back.flight_descriptor?.path).toEqual(['a/b']);
      expect([...back.data_header]).toEqual([9, 9]);
      expect(Buffer.compare(back.data_body, Buffer.concat(body))).toBe(0);
    }
  });
});

describe('MessageReader', () => {
  it('reads the same messages whatever the chunk boundaries, including empty messages', () => {
    const messages = [Buffer.from('first'), Buffer.alloc(0), Buffer.alloc(3000, 7), Buffer.from('x')];
    const wire = Buffer.concat(messages.flatMap((m) => [Buffer.from([0, ...[24, 16, 8, 0].map((s) => (m.length >>> s) & 0xff)]), m]));
    for (const size of [1, 2, 3, 5, 7, 64, 4096, wire.length]) {
      const got: Buffer[] = [];
      const r = new MessageReader((m) => got.push(Buffer.from(m)));
      for (let i = 0; i < wire.length; i += size) r.push(wire.subarray(i, i + size));
      expect(got).toEqual(messages);
      expect(r.partial).toBe(false);
    }
  });

  it('with own, hands out copies of their own whatever the boundaries; bytes read straight into target() are taken without a copy', () => {
    const messages = [Buffer.from('first'), Buffer.alloc(0), Buffer.alloc(3000, 7), Buffer.from('x')];
    const wire = Buffer.concat(messages.flatMap((m) => [Buffer.from([0, ...[24, 16, 8, 0].map((s) => (m.length >>> s) & 0xff)]), m]));
    for (const size of [1, 3, 7, 4096, wire.length]) {
      for (const direct of [false, true]) {
        const scratch = Buffer.alloc(size); // one reused read buffer, as the connection's
        const got: Buffer[] = [];
        const r = new MessageReader((m) => got.push(m), Infinity, true);
        for (let i = 0; i < wire.length; ) {
          const t = direct ? r.target(size) : undefined;
          const into = t ?? scratch;
          const n = Math.min(into.length, wire.length - i);
          wire.copy(into, 0, i, i + n);
          r.push(into.subarray(0, n));
          i += n;
        }
        expect(got.map((m) => Buffer.from(m))).toEqual(messages);
        for (const m of got) {
          expect(m.byteLength === 0 || m.buffer.byteLength === m.byteLength).toBe(true); // not a view into a chunk, not in the pool
          expect(m.buffer).not.toBe(scratch.buffer);
        }
        scratch.fill(0xee);
        expect(got.map((m) => Buffer.from(m))).toEqual(messages);
      }
    }
  });

  it('target() is only offered inside a message, never over its end or a prefix', () => {
    const r = new MessageReader(() => undefined, Infinity, true);
    expect(r.target(100)).toBeUndefined();
    r.push(Buffer.from([0, 0, 0]));
    expect(r.target(100)).toBeUndefined();
    r.push(Buffer.from([0, 10, 1, 2]));
    expect(r.target(100)).toHaveLength(8);
    expect(r.target(3)).toHaveLength(3);
  });

  it('refuses a message longer than its limit at the length prefix, whole or split across chunks', () => {
    const got: Buffer[] = [];
    const whole = new MessageReader((m) => got.push(m), 4);
    whole.push(Buffer.from([0, 0, 0, 0, 4, 1, 2, 3, 4]));
    expect(got).toHaveLength(1);
    expect(() => whole.push(Buffer.from([0, 0, 0, 0, 5]))).toThrow(expect.objectContaining({ code: Status.RESOURCE_EXHAUSTED }));
    const split = new MessageReader(() => undefined, 4);
    split.push(Buffer.from([0, 0, 0]));
    expect(() => split.push(Buffer.from([0, 5]))).toThrow(expect.objectContaining({ code: Status.RESOURCE_EXHAUSTED }));
  });

  it('refuses a compressed message (none was negotiated)', () => {
    const r = new MessageReader(() => undefined);
    expect(() => r.push(Buffer.from([1, 0, 0, 0, 1, 0]))).toThrow(CallError);
  });
});

describe('Http2Transport against peers that are not a well-behaved Flight server', () => {
  let server: http2.Http2Server;
  let behaviour: (stream: http2.ServerHttp2Stream) => void;
  let transport: Http2Transport;
  let endpoint: ReturnType<typeof parseEndpoint>;

  beforeAll(async () => {
    server = http2.createServer();
    server.on('stream', (stream) => behaviour(stream));
    endpoint = await listenLoopback(server);
    transport = new Http2Transport(() => undefined);
  });
  afterAll(async () => {
    transport.close();
    await new Promise((r) => server.close(r));
  });

  const codeOf = async (p: Promise<unknown>): Promise<number> => {
    try {
      await p;
    } catch (err) {
      expect(err).toBeInstanceOf(CallError);
      return (err as CallError).code;
    }
    throw new Error('the call succeeded');
  };

  it('an HTTP 503 (a proxy in the way) is UNAVAILABLE, so idempotent calls retry', async () => {
    behaviour = (s) => s.respond({ ':status': 503 }, { endStream: true });
    expect(await codeOf(transport.doGet(endpoint, Buffer.from('k:0'), { deadlineMs: 10_000 }, () => undefined))).toBe(Status.UNAVAILABLE);
  });

  it("the server's grpc-status and percent-encoded grpc-message, in trailers-only form", async () => {
    behaviour = (s) => s.respond({ ':status': 200, 'content-type': 'application/grpc', 'grpc-status': '5', 'grpc-message': 'no%20such%20key' }, { endStream: true });
    const err = await transport.doGet(endpoint, Buffer.from('k:0'), { deadlineMs: 10_000 }, () => undefined).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: Status.NOT_FOUND, details: 'no such key' });
  });

  it('a stream reset before any status is UNAVAILABLE', async () => {
    behaviour = (s) => {
      s.on('error', () => undefined);
      s.close(http2.constants.NGHTTP2_INTERNAL_ERROR);
    };
    expect(await codeOf(transport.doPut(endpoint, [{ data_body: Buffer.from('x') }], { deadlineMs: 10_000 }))).toBe(Status.UNAVAILABLE);
  });

  it('a server that never answers: DEADLINE_EXCEEDED, and the session serves the next call', async () => {
    behaviour = () => undefined;
    expect(await codeOf(transport.doGet(endpoint, Buffer.from('k:0'), { deadlineMs: 200 }, () => undefined))).toBe(Status.DEADLINE_EXCEEDED);
    behaviour = (s) => {
      s.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
      s.on('wantTrailers', () => s.sendTrailers({ 'grpc-status': '0' }));
      s.end(Buffer.from([0, 0, 0, 0, 0]));
    };
    const got: unknown[] = [];
    await transport.doGet(endpoint, Buffer.from('k:0'), { deadlineMs: 10_000 }, (m) => void got.push(m));
    expect(got).toHaveLength(1);
  });

  it('an answer cut inside a message is an error, not a short object', async () => {
    behaviour = (s) => {
      s.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
      s.on('wantTrailers', () => s.sendTrailers({ 'grpc-status': '0' }));
      s.end(Buffer.from([0, 0, 0, 0, 9, 1, 2]));
    };
    expect(await codeOf(transport.doGet(endpoint, Buffer.from('k:0'), { deadlineMs: 10_000 }, () => undefined))).toBe(Status.INTERNAL);
  });
});
