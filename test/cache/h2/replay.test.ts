/**
 * Requests a server turned away unprocessed (RFC 9113 §8.7: RST_STREAM REFUSED_STREAM, or a stream
 * above a GOAWAY's last stream id) are sent once more when the whole request is in memory (a get, a
 * put of an in-memory object, a patch); a streamed put (an upload) cannot be and fails UNAVAILABLE;
 * nothing the server may have processed is ever sent twice.
 */
import crypto from 'node:crypto';
import { status as Status } from '@grpc/grpc-js';
import { frameFlightData, Http2Transport } from '../../../src/cache/transport';
import { CacheClient } from '../../../src/cache/client';
import { encodeObjectRef } from '../../../src/wire/object-ref';
import { ErrorCode } from '../../../src/cache/h2/frames';
import type { OutgoingFlightData } from '../../../src/cache/flight-data';
import http2 from 'node:http2';
import { parseEndpoint } from '../../../src/cache/endpoint';
import { callFailure, listenLoopback } from '../helpers';
import { Peer, RawServer, flightData, grpcFrame as grpcFrameOf, putResultOf } from './raw-peer';
import { makeTempDir, removeDir } from '../../helpers/tmp';
import fs from 'node:fs';
import path from 'node:path';

const DEADLINE = 600_000;

const sha = (b: Buffer): Buffer => crypto.createHash('sha256').update(b).digest();

/** A server that turns away its first `n` requests with `refuse`, and answers the others with the SHA-256 of their body. */
function refusing(n: number, refuse: (peer: Peer, id: number) => void): { onRequest: (p: Peer, id: number) => void; onBody: (p: Peer, id: number, body: Buffer) => void; processed: Buffer[] } {
  const refused = new Set<string>();
  const processed: Buffer[] = [];
  let seen = 0;
  return {
    processed,
    onRequest: (peer, id) => {
      if (seen++ >= n) return;
      refused.add(`${peer.socket.localPort}:${peer.socket.remotePort}:${id}`);
      refuse(peer, id);
    },
    onBody: (peer, id, body) => {
      // A refused stream's body may still arrive (it was on its way): it is not processed.
      if (refused.has(`${peer.socket.localPort}:${peer.socket.remotePort}:${id}`)) return;
      processed.push(body);
      peer.respond(id, [putResultOf(body)]);
    },
  };
}

describe('requests the server did not process', () => {
  let server: RawServer & { endpoint: NonNullable<RawServer['endpoint']> };
  let transport: Http2Transport;

  beforeEach(async () => {
    server = await RawServer.start({});
    transport = new Http2Transport(() => undefined);
  });
  afterEach(async () => {
    transport.close();
    await server.close();
  });

  const msgs: OutgoingFlightData[] = [{ data_header: Buffer.from('head') }, { data_body: Buffer.alloc(100_000, 5) }];
  const wire = Buffer.concat(msgs.flatMap(frameFlightData));
  const put = (m: Iterable<OutgoingFlightData> | AsyncIterable<OutgoingFlightData> = msgs): Promise<Buffer[]> => transport.doPut(server.endpoint, m, { deadlineMs: DEADLINE });

  it('REFUSED_STREAM: an in-memory put is sent once more and processed once, on the same connection', async () => {
    const b = refusing(1, (p, id) => p.reset(id, ErrorCode.REFUSED_STREAM));
    server.behaviour = b;
    const [meta] = await put();
    expect(meta).toEqual(sha(wire));
    expect(server.requests).toBe(2);
    expect(b.processed).toEqual([wire]);
    expect(server.peers).toHaveLength(1);
  });

  it('GOAWAY below the stream: the put is sent once more on a fresh connection', async () => {
    const b = refusing(1, (p) => p.goaway(0, ErrorCode.NO_ERROR, 'draining'));
    server.behaviour = b;
    const [meta] = await put();
    expect(meta).toEqual(sha(wire));
    expect(server.requests).toBe(2);
    expect(b.processed).toHaveLength(1);
    expect(server.peers).toHaveLength(2);
  });

  it('refused twice: UNAVAILABLE naming REFUSED_STREAM, after exactly two attempts', async () => {
    const b = refusing(5, (p, id) => p.reset(id, ErrorCode.REFUSED_STREAM));
    server.behaviour = b;
    const err = await callFailure(put());
    expect(err.code).toBe(Status.UNAVAILABLE);
    expect(err.details).toContain('REFUSED_STREAM');
    expect(server.requests).toBe(2);
    expect(b.processed).toHaveLength(0);
  });

  it('a streamed put (async source) is not sent again: UNAVAILABLE, saying why', async () => {
    const b = refusing(1, (p, id) => p.reset(id, ErrorCode.REFUSED_STREAM));
    server.behaviour = b;
    async function* stream(): AsyncGenerator<OutgoingFlightData> {
      yield* msgs;
    }
    const err = await callFailure(put(stream()));
    expect(err.code).toBe(Status.UNAVAILABLE);
    expect(err.details).toContain('cannot be replayed');
    expect(server.requests).toBe(1);
  });

  it('GOAWAY that covers the stream, then the connection closes with no answer: not sent again (it may have been processed)', async () => {
    server.behaviour = {
      onBody: (peer, id) => {
        peer.goaway(id, ErrorCode.NO_ERROR);
        setImmediate(() => peer.socket.destroy());
      },
    };
    const err = await callFailure(put());
    expect(err.code).toBe(Status.UNAVAILABLE);
    expect(server.requests).toBe(1);
  });

  it.each([
    ['RST_STREAM INTERNAL_ERROR before any answer', (p: Peer, id: number) => p.reset(id, ErrorCode.INTERNAL_ERROR)],
    ['RST_STREAM CANCEL before any answer', (p: Peer, id: number) => p.reset(id, ErrorCode.CANCEL)],
    [
      'REFUSED_STREAM after the answer began (a server that answered cannot claim it did not process)',
      (p: Peer, id: number) => {
        p.headers(id);
        p.reset(id, ErrorCode.REFUSED_STREAM);
      },
    ],
  ])('%s: not sent again', async (_name, act) => {
    server.behaviour = { onBody: act };
    const err = await callFailure(put());
    expect(err.code).toBe(Status.UNAVAILABLE);
    expect(server.requests).toBe(1);
  });

  it('a get refused once is sent once more', async () => {
    let seen = 0;
    server.behaviour = {
      onRequest: (p, id) => {
        if (seen++ === 0) p.reset(id, ErrorCode.REFUSED_STREAM);
      },
      onBody: (p, id) => {
        if (seen > 1) p.respond(id, [flightData(4)]);
      },
    };
    const got: number[] = [];
    await transport.doGet(server.endpoint, Buffer.from('k'), { deadlineMs: DEADLINE }, (m) => void got.push(...m.data_body));
    expect(got).toEqual([4]);
    expect(server.requests).toBe(2);
  });

  it('the second attempt runs within the first one\'s deadline (its message names the call\'s deadline)', async () => {
    let seen = 0;
    server.behaviour = {
      onRequest: (p, id) => {
        if (seen++ === 0) p.reset(id, ErrorCode.REFUSED_STREAM);
      },
    };
    // Generous: on a busy machine a short deadline could end before the re-send is even written.
    const err = await callFailure(transport.doPut(server.endpoint, msgs, { deadlineMs: 5000 }));
    expect(err.code).toBe(Status.DEADLINE_EXCEEDED);
    expect(err.details).toBe('deadline of 5000 ms exceeded');
    expect(server.requests).toBe(2);
  });
});

describe('calls waiting for a stream slot when GOAWAY comes', () => {
  it('never sent, they are sent on a fresh connection; the one in flight below the last stream id completes', async () => {
    const server = await RawServer.start({ onBody: (p, id) => p.respond(id, [flightData(1)]) }, 1);
    const transport = new Http2Transport(() => undefined);
    try {
      // A connection that has seen the server's SETTINGS (its limit of one stream) before the puts.
      await transport.doGet(server.endpoint, Buffer.from('k'), { deadlineMs: DEADLINE }, () => undefined);
      server.behaviour = {
        onBody: (peer, id, body) => {
          if (peer !== server.peers[0]) return peer.respond(id, [putResultOf(body)]);
          // The first connection: GOAWAY covering this stream (the others wait for its slot), then its answer.
          peer.goaway(id, ErrorCode.NO_ERROR, 'draining');
          setImmediate(() => peer.respond(id, [putResultOf(body)]));
        },
      };
      const bodies = [0, 1, 2].map((i) => Buffer.from(`put ${i}`));
      const results = await Promise.all(bodies.map((b) => transport.doPut(server.endpoint, [{ data_body: b }], { deadlineMs: DEADLINE })));
      expect(results.map(([meta]) => meta)).toEqual(bodies.map((b) => sha(Buffer.concat(frameFlightData({ data_body: b })))));
      expect(server.peers).toHaveLength(2);
      // One get and one put on the first connection, the two waiting puts once each on the second.
      expect(server.requests).toBe(4);
    } finally {
      transport.close();
      await server.close();
    }
  });
});

describe('node:http2 servers (nghttp2) that turn streams away', () => {
  let server: http2.Http2Server;
  let endpoint: ReturnType<typeof parseEndpoint>;
  let streams = 0;
  let sessions = 0;
  let act: (stream: http2.ServerHttp2Stream, n: number, headers: http2.IncomingHttpHeaders) => boolean;
  const open = new Set<http2.ServerHttp2Session>();

  beforeAll(async () => {
    server = http2.createServer();
    server.on('session', (session) => {
      sessions++;
      open.add(session);
      session.on('close', () => open.delete(session));
      session.on('error', () => undefined);
    });
    server.on('stream', (stream, headers) => {
      stream.on('error', () => undefined);
      if (act(stream, ++streams, headers)) return;
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
        stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
        stream.end(grpcFrameOf(putResultOf(Buffer.concat(chunks))));
      });
    });
    endpoint = await listenLoopback(server);
  });
  afterAll(async () => {
    // A session that sent GOAWAY stops reading its socket in node:http2 and never sees our close: ended here.
    for (const s of open) s.destroy();
    await new Promise((r) => server.close(r));
  });
  beforeEach(() => {
    streams = 0;
    sessions = 0;
  });

  const put = async (): Promise<Buffer | undefined> => {
    const transport = new Http2Transport(() => undefined);
    try {
      const [meta] = await transport.doPut(endpoint, [{ data_body: Buffer.from('object') }], { deadlineMs: DEADLINE });
      return meta;
    } finally {
      transport.close();
    }
  };
  const expected = sha(Buffer.concat(frameFlightData({ data_body: Buffer.from('object') })));

  it('the first stream closed with REFUSED_STREAM: sent once more, answered', async () => {
    act = (stream, n) => n === 1 && (stream.close(http2.constants.NGHTTP2_REFUSED_STREAM), true);
    expect(await put()).toEqual(expected);
    expect(streams).toBe(2);
  });

  it("the second attempt's grpc-timeout is what is left of the call's deadline", async () => {
    const timeouts: string[] = [];
    act = (stream, n, headers) => {
      timeouts.push(String(headers['grpc-timeout']));
      // Refused 20 ms later: at least that much of the deadline is gone when the request goes again.
      if (n === 1) setTimeout(() => stream.close(http2.constants.NGHTTP2_REFUSED_STREAM), 20);
      return n === 1;
    };
    expect(await put()).toEqual(expected);
    expect(timeouts[0]).toBe(`${DEADLINE}m`);
    expect(timeouts[1]).toMatch(/^\d+m$/);
    expect(parseInt(timeouts[1]!, 10)).toBeLessThanOrEqual(DEADLINE - 20);
  });

  it('a session that says GOAWAY as it starts (the server shutting down as we connect): the put is sent once more on a new one', async () => {
    act = () => false;
    // nghttp2 never names a stream it has received as unprocessed: the GOAWAY goes before our request arrives.
    server.once('session', (session: http2.ServerHttp2Session) => session.goaway(http2.constants.NGHTTP2_NO_ERROR, 0));
    expect(await put()).toEqual(expected);
    expect(sessions).toBe(2);
    expect(streams).toBe(1);
  });
});

describe('CacheClient: refused puts and patches are stored once', () => {
  it('put and patch refused once are stored once; an upload refused fails, its file sent once', async () => {
    const stored: Buffer[] = [];
    let refuseNext = true;
    const refusedIds = new Set<number>();
    const server = await RawServer.start({
      onRequest: (p, id) => {
        if (!refuseNext) return;
        refuseNext = false;
        refusedIds.add(id);
        p.reset(id, ErrorCode.REFUSED_STREAM);
      },
      onBody: (p, id, body) => {
        if (refusedIds.has(id)) return;
        stored.push(body);
        const ref = encodeObjectRef({ endpoint: `grpc://${server.endpoint.target}`, key: `app/s/o${stored.length}`, version: 1 });
        p.respond(id, [Buffer.concat([Buffer.from([0x0a, ref.length]), ref])]);
      },
    });
    const client = new CacheClient({ endpoint: `grpc://${server.endpoint.target}`, deadlineMs: DEADLINE });
    const dir = makeTempDir('flm-replay-');
    try {
      const ref = await client.put('app/s', Buffer.from('hello'));
      expect(ref.key).toBe('app/s/o1');
      expect(stored).toHaveLength(1);
      expect(server.requests).toBe(2);

      refuseNext = true;
      await client.patch('app/s/o1', Buffer.from('more'));
      expect(stored).toHaveLength(2);
      expect(server.requests).toBe(4);

      refuseNext = true;
      const file = path.join(dir, 'f.bin');
      fs.writeFileSync(file, Buffer.alloc(1000, 1));
      await expect(client.upload('app/s', file)).rejects.toMatchObject({ message: expect.stringContaining('cannot be replayed') });
      expect(stored).toHaveLength(2);
      expect(server.requests).toBe(5);
    } finally {
      client.close();
      removeDir(dir);
      await server.close();
    }
  });
});
