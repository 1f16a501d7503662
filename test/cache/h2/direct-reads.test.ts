/**
 * Reads through `onread` (H2Connection.readBuffer/readDone): the rest of a large DATA frame is read
 * straight into the gRPC message being gathered, everything else into one reused buffer. The answer
 * must come out the same however the server's bytes are cut into reads and frames, what was handed out
 * must never change when the read buffer is reused, and every check of the frame layer still holds.
 */
import crypto from 'node:crypto';
import net from 'node:net';
import { status as Status } from '@grpc/grpc-js';
import { H2Connection, READ_SCRATCH_BYTES, type StreamEvents } from '../../../src/cache/h2/connection';
import { Flag, FrameType, Setting, frame, writeFrameHeader, FRAME_HEADER } from '../../../src/cache/h2/frames';
import { encodeHeaders } from '../../../src/cache/h2/hpack';
import { MessageReader } from '../../../src/cache/grpc-messages';
import { Http2Transport, frameFlightData } from '../../../src/cache/transport';
import { callFailure } from '../helpers';
import { Peer, RawServer, grpcFrame } from './raw-peer';

const WINDOW = 32 * 1024 * 1024;

/** DATA frames carrying `bytes`, cut at `cuts` (offsets into bytes), each padded with `pad` bytes when pad > 0. */
function dataFrames(id: number, bytes: Buffer, cuts: number[], pad = 0): Buffer[] {
  const out: Buffer[] = [];
  const bounds = [0, ...cuts.filter((c) => c > 0 && c < bytes.length), bytes.length];
  for (let i = 0; i + 1 < bounds.length; i++) {
    const data = bytes.subarray(bounds[i], bounds[i + 1]);
    if (pad > 0) out.push(frame(FrameType.DATA, Flag.PADDED, id, Buffer.concat([Buffer.from([pad]), data, Buffer.alloc(pad)])));
    else out.push(frame(FrameType.DATA, 0, id, data));
  }
  return out;
}

const responseHeaders = (id: number): Buffer => frame(FrameType.HEADERS, Flag.END_HEADERS, id, encodeHeaders([[':status', '200'], ['content-type', 'application/grpc']]));
const trailers = (id: number): Buffer => frame(FrameType.HEADERS, Flag.END_HEADERS | Flag.END_STREAM, id, encodeHeaders([['grpc-status', '0']]));

function serverPreface(): Buffer {
  const settings = Buffer.alloc(6);
  settings.writeUInt16BE(Setting.MAX_FRAME_SIZE, 0);
  settings.writeUInt32BE(2 ** 24 - 1, 2);
  return frame(FrameType.SETTINGS, 0, 0, settings);
}

describe('reads into the message: a scripted server answer, cut into reads of every size', () => {
  let server: net.Server;
  let port = 0;
  const sockets: net.Socket[] = [];

  beforeAll(async () => {
    // The client's writes go somewhere real; what it reads is fed by the test through readBuffer/readDone.
    server = net.createServer((s) => {
      sockets.push(s);
      s.on('error', () => undefined);
      s.resume();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as net.AddressInfo).port;
  });
  afterAll(async () => {
    for (const s of sockets) s.destroy();
    await new Promise((r) => server.close(r));
  });

  interface Outcome {
    messages: Buffer[];
    copiesBefore: Buffer[];
    ended: boolean;
    failed?: string;
    partial: boolean;
    directReads: number;
    connectionLost: boolean;
  }

  /** Feeds `wire` (after the server's preface) to a fresh connection in reads of at most `readSize` bytes. */
  async function run(wire: Buffer, readSize: number, consume = true): Promise<Outcome> {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.on('error', () => undefined);
    await new Promise((r) => socket.once('connect', r));
    const scratch = Buffer.allocUnsafeSlow(READ_SCRATCH_BYTES);
    let lost = false;
    const conn = new H2Connection(socket, { window: WINDOW, maxFrame: 2 ** 24 - 1, target: 'test', keepaliveMs: 0, keepaliveTimeoutMs: 0, readScratch: scratch }, () => (lost = true));
    const out: Outcome = { messages: [], copiesBefore: [], ended: false, partial: false, directReads: 0, connectionLost: false };
    const reader = new MessageReader(
      (m) => {
        out.messages.push(m);
        out.copiesBefore.push(Buffer.from(m));
      },
      Infinity,
      true,
    );
    const events: StreamEvents = {
      onHeaders: () => undefined,
      onData: (d) => {
        reader.push(d);
        if (consume) stream.consumed(d.length);
      },
      target: (max) => reader.target(max),
      onEnd: () => (out.ended = true),
      onFail: (_status, message) => (out.failed = message),
    };
    const stream = conn.open(encodeHeaders([[':method', 'POST']]), events, [grpcFrame(Buffer.from('ticket'))], true);
    const all = Buffer.concat([serverPreface(), wire]);
    for (let at = 0; at < all.length && !out.ended && out.failed === undefined; ) {
      const buf = conn.readBuffer();
      if (buf !== scratch) out.directReads++;
      const n = Math.min(buf.length, readSize, all.length - at);
      all.copy(buf, 0, at, at + n);
      // Whatever the read buffer held before is overwritten: a view kept into it would show it.
      buf.fill(0xa5, n);
      conn.readDone(n, buf);
      at += n;
    }
    scratch.fill(0x5a);
    out.partial = reader.partial;
    out.connectionLost = lost;
    conn.close();
    socket.destroy();
    return out;
  }

  const big = crypto.randomBytes(300 * 1024);
  const small = Buffer.from('a small message after the large one');
  const body = Buffer.concat([grpcFrame(big), grpcFrame(small)]);
  const framings: Record<string, Buffer[]> = {
    'one DATA frame': dataFrames(1, body, []),
    'the length prefix cut across frames': dataFrames(1, body, [2, 3, 200 * 1024, 300 * 1024 + 5 + 2]),
    'padded frames': dataFrames(1, body, [100 * 1024, 250 * 1024], 200),
    'many small frames': dataFrames(1, body, Array.from({ length: 400 }, (_, i) => i * 797 + 1)),
    'an empty DATA frame and a large padded one': [frame(FrameType.DATA, 0, 1), ...dataFrames(1, body, [], 255)],
  };
  const readSizes = [1, 5, FRAME_HEADER, FRAME_HEADER + 1, 4099, 65536, 100_000, 1 << 20];

  for (const [name, frames] of Object.entries(framings)) {
    it(`${name}: the same two messages at every read size, and they stay as handed out`, async () => {
      const wire = Buffer.concat([responseHeaders(1), ...frames, trailers(1)]);
      let direct = 0;
      for (const size of readSizes) {
        const o = await run(wire, size);
        expect(o.failed).toBeUndefined();
        expect(o.ended).toBe(true);
        expect(o.partial).toBe(false);
        expect(o.messages).toHaveLength(2);
        expect(o.messages[0]!.equals(big)).toBe(true);
        expect(o.messages[1]!.equals(small)).toBe(true);
        // Reused read memory reached none of them (views into it would have changed).
        for (let i = 0; i < 2; i++) expect(o.messages[i]!.equals(o.copiesBefore[i]!)).toBe(true);
        for (const m of o.messages) expect(m.buffer.byteLength).toBe(m.byteLength);
        direct += o.directReads;
      }
      // Frames with 64 KiB or more of data left after a read are read straight into the message.
      if (name !== 'many small frames') expect(direct).toBeGreaterThan(0);
      else expect(direct).toBe(0);
    });
  }

  it('a frame longer than its data (a server lying about lengths): the message stays partial, nothing past it is written', async () => {
    const claimed = grpcFrame(big).subarray(0, 5);
    claimed.writeUInt32BE(big.length + 100_000, 1);
    const wire = Buffer.concat([responseHeaders(1), ...dataFrames(1, Buffer.concat([claimed, big]), [70_000]), trailers(1)]);
    for (const size of [7, 65536, 1 << 20]) {
      const o = await run(wire, size);
      expect(o.messages).toHaveLength(0);
      expect(o.ended).toBe(true);
      expect(o.partial).toBe(true);
    }
  });

  it('a pad length beyond the frame, and a DATA frame past the stream window, are refused as before', async () => {
    const badPad = Buffer.alloc(FRAME_HEADER + 1);
    writeFrameHeader(badPad, 0, 1, FrameType.DATA, Flag.PADDED, 1);
    badPad[FRAME_HEADER] = 5;
    const o1 = await run(Buffer.concat([responseHeaders(1), badPad]), 1 << 20);
    expect(o1.connectionLost).toBe(true);
    expect(o1.failed).toMatch(/padding/);
    // 33 MiB in frames of 16 MiB - 1, none given back: past the 32 MiB window the stream is reset while its message is being read into.
    const huge = Buffer.alloc(33 * 1024 * 1024, 3);
    const max = 2 ** 24 - 1;
    const frames = dataFrames(1, grpcFrame(huge), [max, 2 * max]);
    const o2 = await run(Buffer.concat([responseHeaders(1), ...frames, trailers(1)]), 1 << 20, false);
    expect(o2.failed).toMatch(/receive window/);
    expect(o2.messages).toHaveLength(0);
  });
});

describe('reads into the message over a real loopback TCP connection', () => {
  let server: RawServer & { endpoint: NonNullable<RawServer['endpoint']> };
  let transport: Http2Transport;
  afterEach(async () => {
    transport.close();
    await server.close();
  });

  /** Writes `parts` one by one, each after the client had a chance to read the one before. */
  async function trickle(peer: Peer, parts: Buffer[]): Promise<void> {
    for (const p of parts) {
      if (peer.socket.destroyed) return;
      peer.socket.write(p);
      await new Promise((r) => setImmediate(r));
    }
  }

  it('large messages in large, padded and cut frames, back to back on one connection: each as sent', async () => {
    const a = crypto.randomBytes(3 * 1024 * 1024 + 17);
    const b = crypto.randomBytes(200 * 1024);
    let calls = 0;
    server = await RawServer.start({
      onBody: (peer, id) => {
        calls++;
        const body = Buffer.concat([a, b, Buffer.from('tail')].flatMap((x) => frameFlightData({ data_body: x })));
        const frames = dataFrames(id, body, [3, 1024 * 1024, 2 * 1024 * 1024 + 9, 3 * 1024 * 1024 + 20], calls % 2 === 0 ? 0 : 17);
        // Frame headers and length prefixes cut across writes.
        const wire = Buffer.concat([responseHeaders(id), ...frames, trailers(id)]);
        const pieces: Buffer[] = [];
        for (let at = 0; at < wire.length; ) {
          const n = [4, 70_000, 1 << 20, 13][pieces.length % 4]!;
          pieces.push(wire.subarray(at, at + n));
          at += n;
        }
        void trickle(peer, pieces);
      },
    });
    transport = new Http2Transport(() => undefined);
    for (let i = 0; i < 4; i++) {
      const got: Buffer[] = [];
      await transport.doGet(server.endpoint, Buffer.from('k'), { deadlineMs: 600_000 }, (m) => {
        got.push(m.data_body);
      });
      expect(got.map((m) => m.length)).toEqual([a.length, b.length, 4]);
      expect(got[0]!.equals(a)).toBe(true);
      expect(got[1]!.equals(b)).toBe(true);
      expect(got[2]!.toString()).toBe('tail');
    }
    expect(server.peers).toHaveLength(1);
  });

  it('an answer that ends inside a message is INTERNAL; the connection serves the next call', async () => {
    const a = crypto.randomBytes(1024 * 1024);
    let calls = 0;
    server = await RawServer.start({
      onBody: (peer, id) => {
        calls++;
        const framed = Buffer.concat(frameFlightData({ data_body: a }));
        if (calls === 1) framed.writeUInt32BE(a.length * 2, 1);
        peer.socket.write(Buffer.concat([responseHeaders(id), ...dataFrames(id, framed, [512 * 1024]), trailers(id)]));
      },
    });
    transport = new Http2Transport(() => undefined);
    const get = (): Promise<Buffer[]> => {
      const got: Buffer[] = [];
      return transport.doGet(server.endpoint, Buffer.from('k'), { deadlineMs: 600_000 }, (m) => void got.push(m.data_body)).then(() => got);
    };
    const err = await callFailure(get());
    expect(err).toMatchObject({ code: Status.INTERNAL });
    const got = await get();
    expect(got[0]!.equals(a)).toBe(true);
    expect(server.peers).toHaveLength(1);
  });
});
