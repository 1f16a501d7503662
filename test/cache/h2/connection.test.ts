/**
 * The hand-written HTTP/2 client under Http2Transport (src/cache/h2): flow control both ways against
 * node:http2 servers with small windows and a stream limit, and the failures a raw TCP server can
 * cause (GOAWAY, RST_STREAM, a closed socket, garbage, oversized or badly compressed headers).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import tls from 'node:tls';
import http2 from 'node:http2';
import net, { type AddressInfo } from 'node:net';
import { status as Status } from '@grpc/grpc-js';
import { frameFlightData, Http2Transport } from '../../../src/cache/transport';
import { parseEndpoint } from '../../../src/cache/endpoint';
import { callFailure, listenLoopback } from '../helpers';
import { ErrorCode, Flag, FrameParser, FrameType, frame, Setting } from '../../../src/cache/h2/frames';
import { encodeHeaders } from '../../../src/cache/h2/hpack';
import { makeTempDir, removeDir } from '../../helpers/tmp';

const grpcFrame = (m: Buffer): Buffer => Buffer.concat([Buffer.from([0, (m.length >>> 24) & 0xff, (m.length >>> 16) & 0xff, (m.length >>> 8) & 0xff, m.length & 0xff]), m]);
/** PutResult { bytes app_metadata = 1; } */
const putResult = (meta: Buffer): Buffer => grpcFrame(Buffer.concat([Buffer.from([0x0a, meta.length]), meta]));
const sha = (parts: Uint8Array[]): Buffer => {
  const h = crypto.createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest();
};

describe('flow control against node:http2 servers', () => {
  let server: http2.Http2Server;
  let transport: Http2Transport;
  let endpoint: ReturnType<typeof parseEndpoint>;
  let maxOpen = 0;
  let open = 0;

  beforeAll(async () => {
    // The smallest windows and frames HTTP/2 allows by default, and one stream at a time.
    server = http2.createServer({ settings: { initialWindowSize: 65535, maxFrameSize: 16384, maxConcurrentStreams: 1 } });
    server.on('stream', (stream, headers) => {
      open++;
      maxOpen = Math.max(maxOpen, open);
      stream.on('close', () => open--);
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
        stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
        if (headers[':path']?.endsWith('/DoPut')) return void stream.end(putResult(sha(chunks)));
        // DoGet: the ticket names how many MiB to answer with, in one message.
        const mib = Number(Buffer.concat(chunks).subarray(7).toString());
        const body = Buffer.alloc(mib * 1024 * 1024);
        for (let i = 0; i < body.length; i += 4096) body[i] = (i / 4096) & 0xff;
        const parts = frameFlightData({ data_body: body });
        for (const p of parts.slice(0, -1)) stream.write(p);
        stream.end(parts[parts.length - 1]);
      });
    });
    endpoint = await listenLoopback(server);
    transport = new Http2Transport(() => undefined);
  });
  afterAll(async () => {
    transport.close();
    await new Promise((r) => server.close(r));
  });

  it('a put far larger than the server windows arrives whole, in memory and streamed', async () => {
    const body = crypto.randomBytes(5 * 1024 * 1024);
    const msgs = [{ data_header: Buffer.from([1, 2]), data_body: body }];
    const [meta] = await transport.doPut(endpoint, msgs, { deadlineMs: 60_000 });
    expect(meta).toEqual(sha(frameFlightData(msgs[0]!)));
    async function* streamed(): AsyncGenerator<{ data_body: Buffer }> {
      for (let i = 0; i < 5; i++) yield { data_body: body.subarray(i * 1024 * 1024, (i + 1) * 1024 * 1024) };
    }
    const expected: Uint8Array[] = [];
    for await (const m of streamed()) expected.push(...frameFlightData(m));
    const [meta2] = await transport.doPut(endpoint, streamed(), { deadlineMs: 60_000 });
    expect(meta2).toEqual(sha(expected));
  });

  it('a 65 MiB get: WINDOW_UPDATEs keep it coming, with a sync and with an async handler', async () => {
    for (const slow of [false, true]) {
      let got: Buffer | undefined;
      await transport.doGet(
        endpoint,
        Buffer.from('65'),
        { deadlineMs: 120_000 },
        async (m) => {
          got = Buffer.from(m.data_body);
          if (slow) await new Promise((r) => setImmediate(r));
        },
      );
      expect(got?.length).toBe(65 * 1024 * 1024);
      for (let i = 0; i < got!.length; i += 4096 * 97) expect(got![i]).toBe((i / 4096) & 0xff);
    }
  });

  it('calls beyond MAX_CONCURRENT_STREAMS wait their turn instead of being refused', async () => {
    maxOpen = 0;
    const results = await Promise.all(Array.from({ length: 4 }, (_, i) => transport.doPut(endpoint, [{ data_body: Buffer.from(`call ${i}`) }], { deadlineMs: 60_000 })));
    expect(results).toHaveLength(4);
    expect(maxOpen).toBe(1);
  });
});

/** One connection of the raw server, speaking HTTP/2 frames by hand. */
class Peer {
  readonly bodies = new Map<number, Buffer[]>();
  constructor(readonly socket: net.Socket) {}
  send(type: number, flags: number, id: number, payload?: Buffer): void {
    if (!this.socket.destroyed) this.socket.write(frame(type, flags, id, payload));
  }
  respond(id: number, messages: Buffer[], status = '0'): void {
    this.send(FrameType.HEADERS, Flag.END_HEADERS, id, encodeHeaders([[':status', '200'], ['content-type', 'application/grpc']]));
    for (const m of messages) this.send(FrameType.DATA, 0, id, grpcFrame(m));
    this.send(FrameType.HEADERS, Flag.END_HEADERS | Flag.END_STREAM, id, encodeHeaders([['grpc-status', status]]));
  }
}

interface Behaviour {
  settings?: Buffer;
  /** Sent instead of the SETTINGS preface. */
  preface?: Buffer;
  onRequest?(peer: Peer, id: number): void;
  onBody?(peer: Peer, id: number, body: Buffer): void;
  onData?(peer: Peer, id: number): void;
  /** The client acknowledged a SETTINGS frame (the preface's first). */
  onSettingsAck?(peer: Peer): void;
}

describe('failures a raw HTTP/2 peer causes', () => {
  let server: net.Server;
  let behaviour: Behaviour;
  let transport: Http2Transport;
  let endpoint: ReturnType<typeof parseEndpoint>;
  let connections = 0;
  const good: Behaviour = { onBody: (p, id) => p.respond(id, [flightData(7)]) };

  beforeAll(async () => {
    server = net.createServer((socket) => {
      connections++;
      const peer = new Peer(socket);
      socket.on('error', () => undefined);
      if (behaviour.preface) socket.write(behaviour.preface);
      else peer.send(FrameType.SETTINGS, 0, 0, behaviour.settings);
      // Each frame is handled by the behaviour of the moment: a connection outlives a test.
      const b = {
        onRequest: (peer: Peer, id: number) => behaviour.onRequest?.(peer, id),
        onData: (peer: Peer, id: number) => behaviour.onData?.(peer, id),
        onBody: (peer: Peer, id: number, body: Buffer) => behaviour.onBody?.(peer, id, body),
      };
      let preface = 24;
      const parser = new FrameParser(
        {
          onFrame: (type, flags, id) => {
            if (type === FrameType.SETTINGS && !(flags & Flag.ACK)) peer.send(FrameType.SETTINGS, Flag.ACK, 0);
            if (type === FrameType.SETTINGS && flags & Flag.ACK) behaviour.onSettingsAck?.(peer);
            if (type === FrameType.HEADERS) {
              peer.bodies.set(id, []);
              b.onRequest?.(peer, id);
            }
          },
          onDataStart: (id) => b.onData?.(peer, id),
          onData: (id, d) => peer.bodies.get(id)?.push(Buffer.from(d)),
          onDataEnd: (id, flags) => {
            if (flags & Flag.END_STREAM) b.onBody?.(peer, id, Buffer.concat(peer.bodies.get(id) ?? []));
          },
        },
        2 ** 24 - 1,
      );
      socket.on('data', (chunk: Buffer) => {
        const skip = Math.min(preface, chunk.length);
        preface -= skip;
        if (chunk.length > skip) parser.push(chunk.subarray(skip));
      });
    });
    endpoint = await listenLoopback(server);
    transport = new Http2Transport(() => undefined);
  });
  afterAll(async () => {
    transport.close();
    await new Promise((r) => server.close(r));
  });

  const get = (deadlineMs = 30_000): Promise<Buffer[]> => {
    const got: Buffer[] = [];
    return transport.doGet(endpoint, Buffer.from('k'), { deadlineMs }, (m) => void got.push(Buffer.from(m.data_body))).then(() => got);
  };
  /** After a failure, the next call (on a fresh connection where the old one is gone) succeeds. */
  const nextCallWorks = async (): Promise<void> => {
    behaviour = good;
    await expect(get()).resolves.toHaveLength(1);
  };

  it('a mid-connection INITIAL_WINDOW_SIZE change: a put held by a zero window goes once the window opens', async () => {
    const zero = Buffer.alloc(6);
    zero.writeUInt16BE(Setting.INITIAL_WINDOW_SIZE, 0);
    let opened = false;
    behaviour = {
      settings: zero,
      onRequest: (peer) => {
        opened = true;
        const open = Buffer.alloc(6);
        open.writeUInt16BE(Setting.INITIAL_WINDOW_SIZE, 0);
        open.writeUInt32BE(100_000, 2);
        setImmediate(() => peer.send(FrameType.SETTINGS, 0, 0, open));
      },
      onData: () => expect(opened).toBe(true),
      onBody: (peer, id, body) => peer.respond(id, [Buffer.concat([Buffer.from([0x0a, 32]), sha([body])])]),
    };
    const msgs = [{ data_body: Buffer.alloc(50_000, 3) }];
    const [meta] = await transport.doPut(endpoint, msgs, { deadlineMs: 30_000 });
    expect(meta).toEqual(sha(frameFlightData(msgs[0]!)));
  });

  it('a streamed put that ends while a SETTINGS change holds its window below 0: END_STREAM goes out in an empty DATA frame', async () => {
    // Found by the h2-upload fuzz target's review: with only END_STREAM left to send and the stream's
    // window below 0 (RFC 9113 §6.9.2), the frame's length was the window, negative (a garbage frame
    // header, and the queue counted bytes it did not hold: the next window opened threw from a socket event).
    const message = { data_body: Buffer.alloc(1000, 7) };
    const zero = Buffer.alloc(6);
    zero.writeUInt16BE(Setting.INITIAL_WINDOW_SIZE, 0);
    let acks = 0;
    let allSent!: () => void;
    const held = new Promise<void>((r) => (allSent = r));
    behaviour = {
      // The message went out in the default window; now the window is 0 - its size.
      onData: (peer) => peer.send(FrameType.SETTINGS, 0, 0, zero),
      onSettingsAck: () => void (++acks === 2 && allSent()),
      onBody: (peer, id, body) => peer.respond(id, [Buffer.concat([Buffer.from([0x0a, 32]), sha([body])])]),
    };
    async function* messages(): AsyncGenerator<typeof message> {
      yield message;
      await held; // the client has applied the SETTINGS: the put ends with its window below 0
    }
    // A transport of its own: the shrunk window must not stay with the connection the other tests use.
    const own = new Http2Transport(() => undefined);
    try {
      const [meta] = await own.doPut(endpoint, messages(), { deadlineMs: 30_000 });
      expect(meta).toEqual(sha(frameFlightData(message)));
    } finally {
      own.close();
    }
  });

  it('GOAWAY: calls above its last stream id are sent once more on a fresh connection, then fail UNAVAILABLE; the next call opens a fresh one', async () => {
    const goaway = Buffer.alloc(8);
    goaway.writeUInt32BE(0, 0);
    goaway.writeUInt32BE(ErrorCode.NO_ERROR, 4);
    await nextCallWorks(); // a connection to reuse
    behaviour = { onRequest: (peer) => peer.send(FrameType.GOAWAY, 0, 0, Buffer.concat([goaway, Buffer.from('shutting down')])) };
    const before = connections;
    const err = await callFailure(get());
    expect(err.code).toBe(Status.UNAVAILABLE);
    expect(err.details).toContain('GOAWAY');
    expect(err.details).toContain('shutting down');
    expect(connections).toBe(before + 1); // the second attempt's (replay.test.ts tests the replay)
    await nextCallWorks();
    expect(connections).toBe(before + 2);
  });

  it('RST_STREAM mid-answer is UNAVAILABLE; the connection serves the next call', async () => {
    behaviour = {
      onBody: (peer, id) => {
        peer.send(FrameType.HEADERS, Flag.END_HEADERS, id, encodeHeaders([[':status', '200']]));
        peer.send(FrameType.DATA, 0, id, Buffer.from([0, 0, 0, 0, 100, 1, 2, 3]));
        const code = Buffer.alloc(4);
        code.writeUInt32BE(ErrorCode.INTERNAL_ERROR, 0);
        peer.send(FrameType.RST_STREAM, 0, id, code);
      },
    };
    await nextCallWorks(); // a connection to reuse
    behaviour = { ...behaviour, onBody: behaviourRst };
    const before = connections;
    const err = await callFailure(get());
    expect(err.code).toBe(Status.UNAVAILABLE);
    expect(err.details).toContain('reset');
    await nextCallWorks();
    expect(connections).toBe(before);
  });

  it('the socket closed mid-answer: UNAVAILABLE with a clear message, then a fresh connection', async () => {
    behaviour = {
      onBody: (peer, id) => {
        peer.send(FrameType.HEADERS, Flag.END_HEADERS, id, encodeHeaders([[':status', '200']]));
        peer.send(FrameType.DATA, 0, id, Buffer.from([0, 0, 0, 0, 100, 1]));
        setImmediate(() => peer.socket.destroy());
      },
    };
    const err = await callFailure(get());
    expect(err.code).toBe(Status.UNAVAILABLE);
    expect(err.details).toMatch(/connection to 127\.0\.0\.1:\d+ closed/);
    await nextCallWorks();
  });

  it.each([
    ['garbage that reads as a PING on a stream', (peer: Peer) => peer.socket.write(Buffer.from('000008060000000001676172626167652121', 'hex')), 'a PING on a stream'],
    ['garbage that reads as a WINDOW_UPDATE of 8 bytes', (peer: Peer) => peer.socket.write(Buffer.from('00000808000000000041424344454647', 'hex')), '8 bytes (4 expected)'],
    ['a HEADERS frame of 1 MiB', (peer: Peer, id: number) => peer.send(FrameType.HEADERS, Flag.END_HEADERS, id, Buffer.alloc(1024 * 1024, 0x88)), 'header block above'],
    [
      'a header block that never ends (CONTINUATION flood)',
      (peer: Peer, id: number) => {
        peer.send(FrameType.HEADERS, 0, id, Buffer.alloc(16000, 0x88));
        for (let i = 0; i < 20; i++) peer.send(FrameType.CONTINUATION, 0, id, Buffer.alloc(16000, 0x88));
      },
      'header block above',
    ],
    [
      'empty CONTINUATION frames, never the last (the byte cap never reached)',
      (peer: Peer, id: number) => {
        peer.send(FrameType.HEADERS, 0, id, Buffer.alloc(0));
        for (let i = 0; i < 100; i++) peer.send(FrameType.CONTINUATION, 0, id, Buffer.alloc(0));
      },
      'more than 64 frames',
    ],
    ['a header list too large', (peer: Peer, id: number) => peer.send(FrameType.HEADERS, Flag.END_HEADERS, id, encodeHeaders([['x-big', 'v'.repeat(200_000)]])), 'header list larger'],
    ['a header index past the table', (peer: Peer, id: number) => peer.send(FrameType.HEADERS, Flag.END_HEADERS, id, Buffer.from([0xff, 0x40])), 'header compression'],
    ['a PUSH_PROMISE though push is off', (peer: Peer, id: number) => peer.send(FrameType.PUSH_PROMISE, Flag.END_HEADERS, id, Buffer.from([0, 0, 0, 2])), 'PUSH_PROMISE'],
    ['a SETTINGS frame of the wrong length', (peer: Peer) => peer.send(FrameType.SETTINGS, 0, 0, Buffer.alloc(5)), 'SETTINGS frame of 5 bytes'],
    ['DATA on a stream never opened', (peer: Peer) => peer.send(FrameType.DATA, 0, 99, Buffer.from('x')), 'never opened'],
  ])('%s: the call fails with a clear message, nothing throws, and the next call works', async (_name, act, words) => {
    behaviour = { onBody: (peer, id) => act(peer, id) };
    const err = await callFailure(get());
    expect(err.code).toBe(Status.UNAVAILABLE);
    expect(err.details).toContain(words);
    await nextCallWorks();
  });

  it.each([
    ['abc', Status.UNKNOWN, 'the server sent grpc-status "abc", not a gRPC status code'],
    ['99', Status.UNKNOWN, 'the server sent grpc-status "99", not a gRPC status code'],
    ['', Status.UNKNOWN, 'the server sent grpc-status "", not a gRPC status code'],
    ['13', Status.INTERNAL, 'the server ended the call with INTERNAL and no grpc-message'],
  ])('grpc-status %j without a grpc-message: the call fails with a known code and words that say what came', async (status, code, words) => {
    behaviour = { onBody: (peer, id) => peer.respond(id, [], status) };
    const err = await callFailure(get());
    expect([err.code, err.details]).toEqual([code, words]);
    await nextCallWorks();
  });

  it.each([
    [[[':status', 'abc'], ['content-type', 'application/grpc']], 'the server\'s answer has :status "abc", not an HTTP status'],
    [[[':status', ''], ['content-type', 'application/grpc']], 'the server\'s answer has :status "", not an HTTP status'],
    [[['content-type', 'application/grpc']], "the server's answer has no :status"],
  ] as [[string, string][], string][])('response headers %j: the call fails INTERNAL, saying what came', async (headers, words) => {
    behaviour = {
      onBody: (peer, id) => {
        peer.send(FrameType.HEADERS, Flag.END_HEADERS, id, encodeHeaders(headers));
        peer.send(FrameType.HEADERS, Flag.END_HEADERS | Flag.END_STREAM, id, encodeHeaders([['grpc-status', '0']]));
      },
    };
    const err = await callFailure(get());
    expect([err.code, err.details]).toEqual([Status.INTERNAL, words]);
    await nextCallWorks();
  });

  it('a PING flood from a server that does not read the acknowledgements: the connection is refused, nothing piles up', async () => {
    behaviour = {
      onBody: (peer) => {
        peer.socket.pause();
        // 25 MB of PINGs: their acknowledgements outgrow both ends' socket buffers on loopback.
        const ping = Buffer.from('000008060000000000' + '70696e67706f6e67', 'hex');
        peer.socket.write(Buffer.concat(Array.from({ length: 1_500_000 }, () => ping)));
      },
    };
    const err = await callFailure(get());
    expect(err.code).toBe(Status.UNAVAILABLE);
    expect(err.details).toContain('acknowledgements without reading them');
    await nextCallWorks();
  });

  it('an informational 1xx header block before the response is passed over', async () => {
    behaviour = {
      onBody: (peer, id) => {
        peer.send(FrameType.HEADERS, Flag.END_HEADERS, id, encodeHeaders([[':status', '100']]));
        peer.respond(id, [flightData(9)]);
      },
    };
    expect((await get()).map((b) => [...b])).toEqual([[9]]);
  });

  it('an HTTP/1.1 server: a clear error at its first bytes, not a wait for the deadline', async () => {
    behaviour = { preface: Buffer.from('HTTP/1.1 400 Bad Request\r\nconnection: close\r\n\r\n') };
    transport.close(); // a fresh connection, to meet this preface
    transport = new Http2Transport(() => undefined);
    const err = await callFailure(get(600_000));
    expect(err.code).toBe(Status.UNAVAILABLE);
    expect(err.details).toContain('not an HTTP/2 server');
    await nextCallWorks();
  });

  it('PING is answered, unknown frame types and padded, prioritised HEADERS are understood', async () => {
    let pong: Buffer | undefined;
    behaviour = {
      onBody: (peer, id) => {
        peer.send(FrameType.PING, 0, 0, Buffer.from('pingpong'));
        peer.send(0xee, 0xff, 0, Buffer.from('ignore me'));
        const block = encodeHeaders([[':status', '200'], ['content-type', 'application/grpc']]);
        // PADDED | PRIORITY: pad length, 5 bytes of priority, the block, padding.
        peer.send(FrameType.HEADERS, Flag.END_HEADERS | Flag.PADDED | Flag.PRIORITY, id, Buffer.concat([Buffer.from([3, 0, 0, 0, 0, 16]), block, Buffer.alloc(3)]));
        peer.send(FrameType.DATA, Flag.PADDED, id, Buffer.concat([Buffer.from([2]), grpcFrame(flightData(7)), Buffer.alloc(2)]));
        // Trailers split into HEADERS and a CONTINUATION.
        const trailers = encodeHeaders([['grpc-status', '0']]);
        peer.send(FrameType.HEADERS, Flag.END_STREAM, id, trailers.subarray(0, 3));
        peer.send(FrameType.CONTINUATION, Flag.END_HEADERS, id, trailers.subarray(3));
      },
    };
    server.once('connection', (s: net.Socket) => {
      const parser = new FrameParser(
        {
          onFrame: (type, flags, _id, payload) => {
            if (type === FrameType.PING && flags & Flag.ACK) pong = Buffer.from(payload);
          },
          onDataStart: () => undefined,
          onData: () => undefined,
          onDataEnd: () => undefined,
        },
        2 ** 24 - 1,
      );
      let preface = 24;
      s.on('data', (chunk: Buffer) => {
        const skip = Math.min(preface, chunk.length);
        preface -= skip;
        if (chunk.length > skip) parser.push(chunk.subarray(skip));
      });
    });
    transport.close();
    transport = new Http2Transport(() => undefined);
    const got = await get();
    expect(got.map((b) => [...b])).toEqual([[7]]);
    await new Promise<void>((r) => {
      const wait = (): void => void (pong ? r() : setImmediate(wait));
      wait();
    });
    expect(pong?.toString()).toBe('pingpong');
  });
});

/** A FlightData whose body is one byte, unframed. */
function flightData(byte: number): Buffer {
  return Buffer.concat(frameFlightData({ data_body: Buffer.from([byte]) })).subarray(5);
}

function behaviourRst(peer: Peer, id: number): void {
  peer.send(FrameType.HEADERS, Flag.END_HEADERS, id, encodeHeaders([[':status', '200']]));
  peer.send(FrameType.DATA, 0, id, Buffer.from([0, 0, 0, 0, 100, 1, 2, 3]));
  const code = Buffer.alloc(4);
  code.writeUInt32BE(ErrorCode.INTERNAL_ERROR, 0);
  peer.send(FrameType.RST_STREAM, 0, id, code);
}

const haveOpenssl = spawnSync('openssl', ['version']).status === 0;

(haveOpenssl ? it : it.skip)('a TLS server that does not offer h2 by ALPN: UNAVAILABLE, saying so', async () => {
  const dir = makeTempDir('flm-h2-alpn-');
  const key = path.join(dir, 'key.pem');
  const cert = path.join(dir, 'cert.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
  // No ALPNProtocols: the handshake completes with no protocol chosen.
  const server = tls.createServer({ key: fs.readFileSync(key), cert: fs.readFileSync(cert) }, (s) => s.on('error', () => undefined));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const transport = new Http2Transport(() => fs.readFileSync(cert));
  try {
    const ep = parseEndpoint(`grpcs://127.0.0.1:${(server.address() as AddressInfo).port}`);
    const err = await callFailure(transport.doGet(ep, Buffer.from('k'), { deadlineMs: 30_000 }, () => undefined));
    expect(err.code).toBe(Status.UNAVAILABLE);
    expect(err.details).toContain('does not offer HTTP/2 over TLS');
  } finally {
    transport.close();
    await new Promise((r) => server.close(r));
    removeDir(dir);
  }
});
