/**
 * A raw HTTP/2 server for the keepalive and replay suites: each connection a Peer that speaks frames
 * by hand, so a test decides what a server does with every request and PING (stay silent, refuse,
 * GOAWAY, answer late) and counts what it received.
 */
import net from 'node:net';
import crypto from 'node:crypto';
import { Flag, FrameParser, FrameType, Setting, frame } from '../../../src/cache/h2/frames';
import { encodeHeaders } from '../../../src/cache/h2/hpack';
import { frameFlightData } from '../../../src/cache/transport';
import type { CacheEndpoint } from '../../../src/cache/endpoint';
import { listenLoopback } from '../helpers';

const WINDOW = 16 * 1024 * 1024;

export class Peer {
  readonly bodies = new Map<number, Buffer[]>();
  /** PINGs (not ACKs) this connection received. */
  pings = 0;
  readonly closed: Promise<void>;
  constructor(readonly socket: net.Socket) {
    this.closed = new Promise((r) => socket.once('close', () => r()));
  }
  send(type: number, flags: number, id: number, payload?: Buffer): void {
    if (!this.socket.destroyed) this.socket.write(frame(type, flags, id, payload));
  }
  respond(id: number, messages: Buffer[], status = '0'): void {
    this.headers(id);
    for (const m of messages) this.send(FrameType.DATA, 0, id, grpcFrame(m));
    this.send(FrameType.HEADERS, Flag.END_HEADERS | Flag.END_STREAM, id, encodeHeaders([['grpc-status', status]]));
  }
  headers(id: number): void {
    this.send(FrameType.HEADERS, Flag.END_HEADERS, id, encodeHeaders([[':status', '200'], ['content-type', 'application/grpc']]));
  }
  reset(id: number, code: number): void {
    const b = Buffer.alloc(4);
    b.writeUInt32BE(code, 0);
    this.send(FrameType.RST_STREAM, 0, id, b);
  }
  goaway(lastStreamId: number, code: number, debug = ''): void {
    const b = Buffer.alloc(8);
    b.writeUInt32BE(lastStreamId, 0);
    b.writeUInt32BE(code, 4);
    this.send(FrameType.GOAWAY, 0, 0, Buffer.concat([b, Buffer.from(debug)]));
  }
}

export interface Behaviour {
  /** HEADERS of a request arrived (its body may follow). */
  onRequest?(peer: Peer, id: number): void;
  /** A request's body is whole (END_STREAM). */
  onBody?(peer: Peer, id: number, body: Buffer): void;
  /** A PING arrived; answered with its ACK unless this returns false. */
  onPing?(peer: Peer): boolean | void;
}

export class RawServer {
  /** Peers in connection order. */
  readonly peers: Peer[] = [];
  /** Request HEADERS received, over all connections. */
  requests = 0;
  private readonly server = net.createServer((socket) => this.accept(socket));
  private readonly sockets = new Set<net.Socket>();

  private constructor(
    /** What the next frames are handled by (a connection outlives a behaviour). */
    public behaviour: Behaviour,
    private readonly maxStreams?: number,
    public endpoint?: CacheEndpoint,
  ) {}

  /** `maxStreams`: the SETTINGS_MAX_CONCURRENT_STREAMS announced (none by default). */
  static async start(behaviour: Behaviour, maxStreams?: number): Promise<RawServer & { endpoint: CacheEndpoint }> {
    const s = new RawServer(behaviour, maxStreams);
    s.endpoint = await listenLoopback(s.server);
    return s as RawServer & { endpoint: CacheEndpoint };
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise((r) => this.server.close(r));
  }

  private accept(socket: net.Socket): void {
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
    socket.on('error', () => undefined);
    const peer = new Peer(socket);
    this.peers.push(peer);
    // Windows of 16 MiB, never given back: the tests' requests are smaller.
    const settings = Buffer.alloc(this.maxStreams === undefined ? 6 : 12);
    settings.writeUInt16BE(Setting.INITIAL_WINDOW_SIZE, 0);
    settings.writeUInt32BE(WINDOW, 2);
    if (this.maxStreams !== undefined) {
      settings.writeUInt16BE(Setting.MAX_CONCURRENT_STREAMS, 6);
      settings.writeUInt32BE(this.maxStreams, 8);
    }
    peer.send(FrameType.SETTINGS, 0, 0, settings);
    const increment = Buffer.alloc(4);
    increment.writeUInt32BE(WINDOW - 65535, 0);
    peer.send(FrameType.WINDOW_UPDATE, 0, 0, increment);
    let preface = 24;
    const parser = new FrameParser(
      {
        onFrame: (type, flags, id, payload) => {
          if (type === FrameType.SETTINGS && !(flags & Flag.ACK)) peer.send(FrameType.SETTINGS, Flag.ACK, 0);
          if (type === FrameType.PING && !(flags & Flag.ACK)) {
            peer.pings++;
            if (this.behaviour.onPing?.(peer) !== false) peer.send(FrameType.PING, Flag.ACK, 0, Buffer.from(payload));
          }
          if (type === FrameType.HEADERS) {
            this.requests++;
            peer.bodies.set(id, []);
            this.behaviour.onRequest?.(peer, id);
            if (flags & Flag.END_STREAM) this.behaviour.onBody?.(peer, id, Buffer.alloc(0));
          }
        },
        onDataStart: () => undefined,
        onData: (id, d) => peer.bodies.get(id)?.push(Buffer.from(d)),
        onDataEnd: (id, flags) => {
          if (flags & Flag.END_STREAM) this.behaviour.onBody?.(peer, id, Buffer.concat(peer.bodies.get(id) ?? []));
        },
      },
      2 ** 24 - 1,
    );
    socket.on('data', (chunk: Buffer) => {
      const skip = Math.min(preface, chunk.length);
      preface -= skip;
      if (chunk.length > skip) parser.push(chunk.subarray(skip));
    });
  }
}

export function grpcFrame(m: Buffer): Buffer {
  const head = Buffer.alloc(5);
  head.writeUInt32BE(m.length, 1);
  return Buffer.concat([head, m]);
}

/** A FlightData whose body is one byte, unframed. */
export function flightData(byte: number): Buffer {
  return Buffer.concat(frameFlightData({ data_body: Buffer.from([byte]) })).subarray(5);
}

/** PutResult { bytes app_metadata = 1; } carrying the SHA-256 of what the server received: a put's answer says what arrived. */
export function putResultOf(body: Buffer): Buffer {
  const digest = crypto.createHash('sha256').update(body).digest();
  return Buffer.concat([Buffer.from([0x0a, digest.length]), digest]);
}
