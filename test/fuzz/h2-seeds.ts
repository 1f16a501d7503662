/**
 * Seeds for the fuzzers of the cache client's HTTP/2 layer (h2.test.ts): what servers send it.
 *
 * Recorded at test time: the client's put (stream 1) and get (stream 3) on one connection, through a
 * TCP relay that keeps the server's bytes, against the embedded cache server served both ways
 * (node:http2 directly and grpc-js; nghttp2 underneath both, so header blocks are indexed and
 * Huffman-coded as Flight servers send them): answers, refusals (NOT_FOUND as trailers only, a put
 * over the server's memory) and a get large enough for several DATA frames. Then hand-made
 * variants of the first answer, each using one part of HTTP/2 a server may use and nghttp2 did not
 * here: odd SETTINGS, header blocks in CONTINUATIONs, padding and priority, WINDOW_UPDATE edges,
 * GOAWAY, RST_STREAM, PING, 1xx header blocks, PRIORITY and unknown frames.
 *
 * A stream is kept as its frames, each one chunk (one socket write) of the fuzz server.
 */
import net from 'node:net';
import { CacheClient, type CacheClientOptions } from '../../src/cache/client';
import { ErrorCode, FRAME_HEADER, Flag, FrameType, Setting, frame } from '../../src/cache/h2/frames';
import { encodeHeaders } from '../../src/cache/h2/hpack';
import { startServer } from '../cache/helpers';
import { GET_KEY, PUT_PREFIX } from './h2-target';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const hpack = require('hpack.js') as { compressor: { create(o: { table: { maxSize: number } }): HpackCompressor } };
interface HpackCompressor {
  write(headers: Array<{ name: string; value: string; huffman: boolean; neverIndex: boolean }>): void;
  read(): Buffer | null;
}

/** A stream cut into its frames (a torn last frame kept as it is). */
export function splitFrames(stream: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let i = 0;
  while (i + FRAME_HEADER <= stream.length) {
    const end = Math.min(stream.length, i + FRAME_HEADER + stream.readUIntBE(i, 3));
    out.push(stream.subarray(i, end));
    i = end;
  }
  if (i < stream.length) out.push(stream.subarray(i));
  return out;
}

export interface Frame {
  type: number;
  flags: number;
  id: number;
  payload: Buffer;
}

export const parse = (f: Buffer): Frame => ({ type: f[3]!, flags: f[4]!, id: f.readUInt32BE(5) & 0x7fffffff, payload: f.subarray(FRAME_HEADER) });

/** A HEADERS frame's header block fragment (without pad length, priority and padding). */
function fragmentOf(f: Frame): Buffer {
  let start = 0;
  let end = f.payload.length;
  if (f.flags & Flag.PADDED) {
    start = 1;
    end -= f.payload[0]!;
  }
  if (f.flags & Flag.PRIORITY) start += 5;
  return f.payload.subarray(start, end);
}

/**
 * The bytes a server sent on the client's one connection while `calls` ran: the client talks to a
 * relay that passes everything on and keeps what the server sent.
 */
export async function record(
  serverEndpoint: string,
  calls: (client: CacheClient, endpoint: string) => Promise<unknown>[],
  clientOptions: Partial<CacheClientOptions> = {},
): Promise<Buffer> {
  const port = Number(new URL(serverEndpoint.replace(/^grpc:/, 'http:')).port);
  const received: Buffer[] = [];
  const sockets = new Set<net.Socket>();
  const relay = net.createServer((client) => {
    const server = net.connect(port, '127.0.0.1');
    for (const s of [client, server]) {
      sockets.add(s);
      s.on('error', () => undefined);
      s.on('close', () => (s === client ? server : client).destroy());
    }
    client.pipe(server);
    server.on('data', (d: Buffer) => {
      received.push(Buffer.from(d));
      client.write(d);
    });
  });
  await new Promise<void>((r) => relay.listen(0, '127.0.0.1', r));
  const endpoint = `grpc://127.0.0.1:${(relay.address() as net.AddressInfo).port}`;
  const client = new CacheClient({ endpoint, retries: 0, keepaliveMs: 0, ...clientOptions });
  try {
    await Promise.allSettled(calls(client, endpoint));
  } finally {
    client.close();
    for (const s of sockets) s.destroy();
    await new Promise((r) => relay.close(r));
  }
  return Buffer.concat(received);
}

/** The put and the get of the fuzz target, in its order (stream 1, then 3). */
const putAndGet = (putBytes: number) => (client: CacheClient, endpoint: string): Promise<unknown>[] => [
  client.put(PUT_PREFIX, Buffer.alloc(putBytes, 0x61)),
  client.get({ endpoint, key: GET_KEY, version: 0 }),
];

/** Runs `fn` with a client of its own, closed after. */
export async function withClient(endpoint: string, fn: (client: CacheClient) => Promise<unknown>): Promise<void> {
  const client = new CacheClient({ endpoint });
  try {
    await fn(client);
  } finally {
    client.close();
  }
}

/** Recorded answers of the embedded server, each as its frames; `large`: a get of 200 KB. */
async function recorded(): Promise<{ answers: Buffer[][]; large: Buffer[] }> {
  const answers: Buffer[][] = [];
  let large: Buffer[] = [];
  for (const transport of ['http2', 'grpc-js'] as const) {
    const { server, endpoint } = await startServer({ transport, maxMemoryBytes: 1 << 20 });
    try {
      await withClient(endpoint, async (c) => {
        await c.update(GET_KEY, Buffer.from('the base of the object'));
        await c.patch(GET_KEY, Buffer.from('patch one'));
        await c.patch(GET_KEY, Buffer.from('patch two'));
      });
      answers.push(splitFrames(await record(endpoint, putAndGet(16))));
      // NOT_FOUND as a trailers-only answer, and a put above the server's memory refused.
      await withClient(endpoint, (c) => c.delete(GET_KEY));
      answers.push(splitFrames(await record(endpoint, putAndGet(2 << 20))));
      // A get in several DATA frames (nghttp2 sends at most 16 KiB in one).
      await withClient(endpoint, (c) => c.update(GET_KEY, Buffer.alloc(40_000, 0x62)));
      answers.push(splitFrames(await record(endpoint, putAndGet(16))));
      if (transport === 'http2') {
        await withClient(endpoint, (c) => c.update(GET_KEY, Buffer.alloc(200_000, 0x63)));
        large = splitFrames(await record(endpoint, putAndGet(16)));
      }
    } finally {
      await server.close();
    }
  }
  return { answers, large };
}

/**
 * Each stream's DATA frames joined into one (a server may send up to the 16 MiB frame we allow): past
 * its first 64 KiB, the client reads such a frame straight into the message (H2Connection.readBuffer).
 */
function oneDataFrame(answer: Buffer[]): Buffer[] {
  const out: Buffer[] = [];
  const data = new Map<number, { at: number; flags: number; parts: Buffer[] }>();
  for (const raw of answer) {
    const f = parse(raw);
    if (f.type !== FrameType.DATA) {
      out.push(raw);
      continue;
    }
    const d = data.get(f.id);
    if (d) {
      d.flags |= f.flags;
      d.parts.push(f.payload);
    } else {
      data.set(f.id, { at: out.length, flags: f.flags, parts: [f.payload] });
      out.push(raw);
    }
  }
  for (const [id, d] of data) out[d.at] = frame(FrameType.DATA, d.flags, id, Buffer.concat(d.parts));
  return out;
}

export function settings(pairs: [number, number][]): Buffer {
  const b = Buffer.alloc(6 * pairs.length);
  pairs.forEach(([id, value], i) => {
    b.writeUInt16BE(id, 6 * i);
    b.writeUInt32BE(value, 6 * i + 2);
  });
  return frame(FrameType.SETTINGS, 0, 0, b);
}

export const u32 = (...values: number[]): Buffer => {
  const b = Buffer.alloc(4 * values.length);
  values.forEach((v, i) => b.writeUInt32BE(v >>> 0, 4 * i));
  return b;
};
export const goaway = (last: number, code: number, debug: string): Buffer => frame(FrameType.GOAWAY, 0, 0, Buffer.concat([u32(last, code), Buffer.from(debug)]));
const isTrailers = (f: Frame, id: number): boolean => f.type === FrameType.HEADERS && f.id === id && (f.flags & Flag.END_STREAM) !== 0;

/** `answer` with `extra` frames put before the first frame `where` picks (at the end when none does). */
export function insertBefore(answer: Buffer[], where: (f: Frame) => boolean, extra: Buffer[]): Buffer[] {
  const i = answer.findIndex((f) => where(parse(f)));
  const at = i < 0 ? answer.length : i;
  return [...answer.slice(0, at), ...extra, ...answer.slice(at)];
}

/** `answer` with `extra` frames put after the first frame `where` picks (at the end when none does). */
export function insertAfter(answer: Buffer[], where: (f: Frame) => boolean, extra: Buffer[]): Buffer[] {
  const i = answer.findIndex((f) => where(parse(f)));
  const at = i < 0 ? answer.length : i + 1;
  return [...answer.slice(0, at), ...extra, ...answer.slice(at)];
}

/** Hand-made variants of a recorded answer (its first frame the server's SETTINGS). */
export function variants(answer: Buffer[]): Buffer[][] {
  const [first, ...rest] = answer;
  const mapFrames = (fn: (f: Frame, raw: Buffer) => Buffer[]): Buffer[] => answer.flatMap((raw) => fn(parse(raw), raw));
  return [
    // Odd SETTINGS: no send window at first (the put waits), then the largest; the largest frame size;
    // no concurrent streams; an empty table; unknown settings; an empty SETTINGS and an unasked ACK.
    [
      settings([
        [Setting.INITIAL_WINDOW_SIZE, 0],
        [Setting.MAX_FRAME_SIZE, 2 ** 24 - 1],
        [Setting.MAX_CONCURRENT_STREAMS, 0],
        [Setting.HEADER_TABLE_SIZE, 0],
        [Setting.ENABLE_PUSH, 0],
        [Setting.MAX_HEADER_LIST_SIZE, 0xffffffff],
        [0xffff, 0xffffffff],
      ]),
      frame(FrameType.SETTINGS, 0, 0),
      frame(FrameType.SETTINGS, Flag.ACK, 0),
      settings([[Setting.INITIAL_WINDOW_SIZE, 0x7fffffff], [Setting.MAX_CONCURRENT_STREAMS, 100]]),
      ...rest,
    ],
    // Every header block in pieces: HEADERS with one byte, CONTINUATIONs of one byte and of the rest.
    mapFrames((f, raw) => {
      if (f.type !== FrameType.HEADERS) return [raw];
      const block = fragmentOf(f);
      const head = f.flags & Flag.END_STREAM;
      if (block.length < 3) return [frame(FrameType.HEADERS, head, f.id, block.subarray(0, 1)), frame(FrameType.CONTINUATION, Flag.END_HEADERS, f.id, block.subarray(1))];
      return [
        frame(FrameType.HEADERS, head, f.id, block.subarray(0, 1)),
        frame(FrameType.CONTINUATION, 0, f.id, block.subarray(1, 2)),
        frame(FrameType.CONTINUATION, 0, f.id, Buffer.alloc(0)),
        frame(FrameType.CONTINUATION, Flag.END_HEADERS, f.id, block.subarray(2)),
      ];
    }),
    // Padding everywhere, of every length a byte allows, and priority on the header blocks.
    mapFrames((f, raw) => {
      if (f.type === FrameType.HEADERS) {
        const pad = 255;
        const payload = Buffer.concat([Buffer.from([pad]), u32(0x80000000 | f.id), Buffer.from([255]), fragmentOf(f), Buffer.alloc(pad)]);
        return [frame(FrameType.HEADERS, (f.flags & ~Flag.PADDED) | Flag.PADDED | Flag.PRIORITY, f.id, payload)];
      }
      if (f.type === FrameType.DATA) {
        const pad = f.payload.length % 2 === 0 ? 0 : 200;
        return [frame(FrameType.DATA, f.flags | Flag.PADDED, f.id, Buffer.concat([Buffer.from([pad]), f.payload, Buffer.alloc(pad)]))];
      }
      return [raw];
    }),
    // WINDOW_UPDATEs with the reserved bit set, for a stream already answered, and one that overflows the
    // connection's window once both calls are answered.
    insertBefore(
      [...answer, frame(FrameType.WINDOW_UPDATE, 0, 1, u32(0x80000010)), frame(FrameType.WINDOW_UPDATE, 0, 0, u32(0x7fffffff))],
      (f) => f.type === FrameType.HEADERS,
      [frame(FrameType.WINDOW_UPDATE, 0, 0, u32(0x80000001)), frame(FrameType.WINDOW_UPDATE, 0, 1, u32(1)), frame(FrameType.WINDOW_UPDATE, 0, 3, u32(0x40000000))],
    ),
    // A WINDOW_UPDATE of 0 on the get's stream: a stream error (the get fails), the put goes on.
    insertBefore(answer, (f) => f.type === FrameType.HEADERS, [frame(FrameType.WINDOW_UPDATE, 0, 3, u32(0))]),
    // GOAWAY once the put is answered: the get (stream 3, above the last stream id 1) was not processed.
    insertAfter(answer, (f) => isTrailers(f, 1), [goaway(1, ErrorCode.NO_ERROR, 'draining')]),
    // GOAWAY too_many_pings after both answers, and a GOAWAY with an unknown code and a long debug text.
    [...answer, goaway(3, ErrorCode.ENHANCE_YOUR_CALM, 'too_many_pings'), goaway(3, 0xdead, 'x'.repeat(300))],
    // REFUSED_STREAM for the get before its answer (sent again, as stream 5, on this connection), and a
    // reset of the put's stream after its trailers.
    insertAfter(insertBefore(answer, (f) => f.type === FrameType.HEADERS, [frame(FrameType.RST_STREAM, 0, 3, u32(ErrorCode.REFUSED_STREAM))]), (f) => isTrailers(f, 1), [
      frame(FrameType.RST_STREAM, 0, 1, u32(ErrorCode.CANCEL)),
    ]),
    // RST_STREAM of the get mid-answer, after its header block.
    insertAfter(answer, (f) => f.type === FrameType.DATA && f.id === 3, [frame(FrameType.RST_STREAM, 0, 3, u32(ErrorCode.INTERNAL_ERROR))]),
    // PINGs among the frames, and an ACK nobody asked for.
    mapFrames((f, raw) => (f.type === FrameType.SETTINGS ? [raw] : [frame(FrameType.PING, 0, 0, Buffer.from('pingpong')), raw])).concat(frame(FrameType.PING, Flag.ACK, 0, Buffer.alloc(8))),
    // 1xx header blocks before each stream's answer (literal, unindexed: the server's table is untouched).
    mapFrames((f, raw) =>
      f.type === FrameType.HEADERS && (f.flags & Flag.END_STREAM) === 0 ? [frame(FrameType.HEADERS, Flag.END_HEADERS, f.id, encodeHeaders([[':status', '100']])), raw] : [raw],
    ),
    // PRIORITY frames (also for a stream never opened) and unknown frame types with flags, between the others.
    [first!, frame(FrameType.PRIORITY, 0, 5, Buffer.from([0, 0, 0, 1, 16])), ...rest.flatMap((raw) => [raw, frame(0xfa, 0xff, parse(raw).id, Buffer.from('unknown'))])],
  ];
}

let cache: ReturnType<typeof recorded> | undefined;

/** The h2-server-bytes seeds: recorded answers (the first `recordedCount`), then the hand-made ones. */
export async function h2ServerSeeds(): Promise<{ seeds: Buffer[][]; recordedCount: number }> {
  cache ??= recorded();
  const { answers, large } = await cache;
  return { seeds: [...answers, ...variants(answers[0]!), oneDataFrame(large)], recordedCount: answers.length };
}

/** The header blocks of a stream of frames, in order (each HEADERS with its CONTINUATIONs, joined). */
export function headerBlocksOf(frames: Buffer[]): Buffer[] {
  const out: Buffer[] = [];
  let open: Buffer[] | undefined;
  for (const raw of frames) {
    const f = parse(raw);
    if (f.type === FrameType.HEADERS) open = [fragmentOf(f)];
    else if (f.type === FrameType.CONTINUATION && open) open.push(f.payload);
    else continue;
    if (f.flags & Flag.END_HEADERS) {
      out.push(Buffer.concat(open!));
      open = undefined;
    }
  }
  return out;
}

/**
 * The hpack-block seeds: the header blocks of each recorded answer (one connection's blocks, in
 * order), and blocks of hpack.js's encoder (incremental indexing, Huffman, never-indexed literals,
 * table size updates), one encoder per sequence as one per connection.
 */
export async function hpackSeeds(): Promise<Buffer[][]> {
  const { seeds, recordedCount } = await h2ServerSeeds();
  const out = seeds.slice(0, recordedCount).map(headerBlocksOf);
  let seed = 11;
  const rand = (n: number): number => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed % n);
  for (let s = 0; s < 4; s++) {
    const size = s === 3 ? 256 : 4096;
    let c = hpack.compressor.create({ table: { maxSize: size } });
    const blocks: Buffer[] = [];
    for (let b = 0; b < 6; b++) {
      // Midway a fresh encoder, whose first block empties the table (a size update to 0) and sizes it again.
      const fresh = b === 3;
      if (fresh) c = hpack.compressor.create({ table: { maxSize: size } });
      const headers = Array.from({ length: rand(5) + 1 }, () => ({
        name: [':status', 'content-type', 'grpc-status', 'grpc-message', `x-k${rand(9)}`][rand(5)]!,
        value: Buffer.from(Array.from({ length: rand(40) }, () => 32 + rand(95))).toString('latin1'),
        huffman: rand(2) === 0,
        neverIndex: rand(4) === 0,
      }));
      c.write(headers);
      const parts: Buffer[] = [];
      for (let x = c.read(); x !== null; x = c.read()) parts.push(x);
      blocks.push(Buffer.concat([fresh ? Buffer.from([0x20, 0x3f, ((size - 31) % 128) | 0x80, (size - 31) >> 7]) : Buffer.alloc(0), ...parts]));
    }
    out.push(blocks);
  }
  return out;
}
