/**
 * One client HTTP/2 connection (RFC 9113) over a net.Socket or a tls.TLSSocket, with just what
 * the cache client's DoPut and DoGet need: streams opened by us, flow control both ways,
 * HEADERS + CONTINUATION, trailers, SETTINGS, PING, RST_STREAM, GOAWAY.
 *
 * Why not node:http2: its per-stream objects (a Duplex each, AsyncResource bindings, header
 * objects) cost 0.13-0.35 ms of CPU per request, about pyarrow's whole 16 B put; two gRPC calls
 * need none of it. Nothing in here throws out of a socket event: a broken frame fails the
 * connection's calls with a message that says what the server sent.
 */
import type net from 'node:net';
import type tls from 'node:tls';
import { Status } from '@grpc/grpc-js/build/src/constants';
import { ConnectionError, DEFAULT_MAX_FRAME, ErrorCode, Flag, FRAME_HEADER, FrameParser, FrameType, PREFACE, Setting, frame, writeFrameHeader, type FrameSink } from './frames';
import { HpackDecoder, HpackError, type HeaderList } from './hpack';
import { MAX_TIMER_MS } from '../../options/values';

const MAX_WINDOW = 0x7fffffff;
const DEFAULT_WINDOW = 65535;
const MAX_STREAM_ID = 0x7fffffff;
/** A streamed put waits (write() answers false) while this much is queued unsent, on its stream or the socket. */
const HIGH_WATER = 1024 * 1024;
/** Writes of at most this much go out as one buffer (one syscall, no writev of many pieces). */
const JOIN_BELOW = 64 * 1024;
/** A header block (HEADERS and its CONTINUATIONs) larger than this is refused: no legitimate gRPC answer comes near it. */
const MAX_HEADER_BLOCK = 256 * 1024;
/** CONTINUATION frames per header block: empty ones would pass the byte cap above (the CONTINUATION flood, CVE-2024-27316). */
const MAX_CONTINUATIONS = 64;
/** PING and SETTINGS acknowledgements not yet handed to the kernel: a server that sends them and stops reading is refused. */
const MAX_UNSENT_ACKS = 1024;
/** SETTINGS and GOAWAY larger than this are refused (a GOAWAY's debug data has no use past a line). */
const MAX_CONTROL = 16 * 1024;
/**
 * `onread` sockets: the reused read buffer, and the least rest of a DATA frame read straight into its
 * destination (a smaller one costs a read of its own, dearer than copying it out of a larger read).
 */
export const READ_SCRATCH_BYTES = 64 * 1024;
const DIRECT_MIN = 64 * 1024;
/** Our keepalive PING's payload (any 8 bytes: whatever the server reads back, the read is what counts). */
const KEEPALIVE_PING = Buffer.from('flmrunka', 'latin1');
/** Frame types whose payload has one possible length (RFC 9113 §6). */
const FIXED_LENGTH: Partial<Record<number, number>> = { [FrameType.PRIORITY]: 5, [FrameType.RST_STREAM]: 4, [FrameType.PING]: 8, [FrameType.WINDOW_UPDATE]: 4 };

export interface ConnectionOptions {
  /** Our receive window, per stream and for the connection. */
  window: number;
  /** Our SETTINGS_MAX_FRAME_SIZE. */
  maxFrame: number;
  /** For messages: the endpoint as the user wrote it. */
  target: string;
  /** With calls open and nothing read for this long, a PING is sent; 0: never. */
  keepaliveMs: number;
  /** After a keepalive PING, this long with nothing read (its ACK or anything else) fails the connection. */
  keepaliveTimeoutMs: number;
  /**
   * The socket reads through `onread` (see readBuffer), into this buffer (READ_SCRATCH_BYTES) unless
   * readBuffer() offers a destination; the socket asks for its first one before the connection exists.
   */
  readScratch?: Buffer;
}

/** What a stream tells its call. Exactly one of onEnd and onFail comes, last. */
export interface StreamEvents {
  onHeaders(headers: HeaderList, endStream: boolean): void;
  onData(data: Buffer): void;
  /**
   * Where the next up to `max` data bytes of the stream belong, if the caller knows (a message being
   * gathered): a read may put them there directly, and onData then gets that very view.
   */
  target?(max: number): Buffer | undefined;
  /** The server ended the stream (END_STREAM). */
  onEnd(): void;
  /**
   * The stream is gone without an end: reset by the server (`rstCode`), GOAWAY, or the connection lost.
   * `unprocessed`: the server did not act on it (RFC 9113 §8.7: REFUSED_STREAM, above GOAWAY's last
   * stream id, or never sent), so the same request may be sent again.
   */
  onFail(status: Status, message: string, rstCode?: number, unprocessed?: boolean): void;
}

export class H2Stream {
  id = 0;
  sendWindow = 0;
  /** Bytes received and consumed but not yet given back to the server in a WINDOW_UPDATE. */
  unacked = 0;
  recvWindow: number;
  queue: Uint8Array[] = [];
  queuedBytes = 0;
  /** How much of queue[0] was sent already. */
  queueOffset = 0;
  endQueued = false;
  localClosed = false;
  done = false;
  onDrain?: () => void;

  constructor(
    private readonly conn: H2Connection,
    readonly headerBlock: Buffer,
    readonly events: StreamEvents,
  ) {
    this.recvWindow = conn.options.window;
  }

  /** Queues body bytes (views, not copied) and sends what the windows allow; false: wait for onDrain before more. */
  write(parts: Uint8Array[], end: boolean): boolean {
    return this.conn.write(this, parts, end);
  }

  /** The call is over before the stream: RST_STREAM(CANCEL), or dropped from the queue if never sent. */
  cancel(): void {
    this.conn.cancel(this);
  }

  /** `n` received bytes are dealt with: the server may send that many more. */
  consumed(n: number): void {
    this.conn.consumed(this, n);
  }
}

export class H2Connection implements FrameSink {
  private readonly parser: FrameParser;
  private readonly decoder = new HpackDecoder();
  private readonly streams = new Map<number, H2Stream>();
  /** Opened while the server's MAX_CONCURRENT_STREAMS was reached: sent as others close. */
  private readonly waiting: H2Stream[] = [];
  private readonly blocked = new Set<H2Stream>();
  private readonly draining = new Set<H2Stream>();
  /** Streams a window update made sendable while a socket read is being parsed: sent once it is. */
  private readonly unblocked = new Set<H2Stream>();
  private reading = false;
  private nextId = 1;
  private connSendWindow = DEFAULT_WINDOW;
  private connUnacked = 0;
  private peerInitialWindow = DEFAULT_WINDOW;
  private peerMaxFrame = DEFAULT_MAX_FRAME;
  private peerMaxStreams = Infinity;
  /** The reused read buffer of an `onread` socket, and the destination view the pending read was offered instead. */
  private readonly readScratch?: Buffer;
  private direct?: Buffer;
  /** A header block being gathered across CONTINUATION frames. */
  private headerStream = 0;
  private headerFlags = 0;
  private headerParts: Buffer[] = [];
  private headerBytes = 0;
  private headerFrames = 0;
  private unsentAcks = 0;
  private goneAway = false;
  private settingsSeen = false;
  /** TCP connected (and, over TLS, the handshake done): before that none of our bytes reached the server. */
  private established = false;
  private dead = false;
  /** The current DATA frame's stream and how many of its bytes were data (the rest, padding, is given back at its end). */
  private dataStream?: H2Stream;
  private dataLength = 0;
  private dataSeen = 0;
  /** The keepalive timer (one per connection, armed only while calls are open) and what it watches. */
  private keepaliveTimer?: NodeJS.Timeout;
  private readSinceTick = false;
  /** HEADERS or DATA read since the last tick: what grpc servers count as activity (their ping strikes reset when they send these). */
  private realSinceTick = false;
  private pingOut = false;
  /**
   * The current wait before a PING: keepaliveMs, doubled after each PING cycle in which only its ACK
   * was read, back to keepaliveMs when HEADERS or DATA arrive. grpc servers (C-core, Go, Java) answer
   * GOAWAY too_many_pings after two PINGs closer than 5 min without their sending anything, calls
   * open or not: backing off keeps a long silent call (a slow handler, a large upload) from that.
   */
  private intervalMs: number;
  /** The server's GOAWAY said ENHANCE_YOUR_CALM "too_many_pings": the transport pings its next connections less. */
  tooManyPings = false;
  /** A keepalive verdict is due (after the reads of this loop turn): no second timer meanwhile. */
  private judging = false;

  constructor(
    private readonly socket: net.Socket | tls.TLSSocket,
    readonly options: ConnectionOptions,
    /** Called once, when the connection must not take new calls (GOAWAY, an error, closed). */
    private readonly onGone: () => void,
  ) {
    this.parser = new FrameParser(this, options.maxFrame);
    this.readScratch = options.readScratch;
    this.intervalMs = options.keepaliveMs;
    socket.on('data', (chunk: Buffer) => this.received(chunk, false));
    socket.on('error', (err: Error) => this.lost(`connection to ${options.target} failed: ${err.message}`));
    socket.on('close', () => this.lost(`connection to ${options.target} closed`));
    socket.on('drain', () => this.checkDrain());
    socket.once('encrypted' in socket ? 'secureConnect' : 'connect', () => (this.established = true));
    const settings = Buffer.allocUnsafe(18);
    settings.writeUInt16BE(Setting.ENABLE_PUSH, 0);
    settings.writeUInt32BE(0, 2);
    settings.writeUInt16BE(Setting.INITIAL_WINDOW_SIZE, 6);
    settings.writeUInt32BE(options.window, 8);
    settings.writeUInt16BE(Setting.MAX_FRAME_SIZE, 12);
    settings.writeUInt32BE(options.maxFrame, 14);
    const increment = Buffer.allocUnsafe(4);
    increment.writeUInt32BE(options.window - DEFAULT_WINDOW, 0);
    // Written at once, before the socket connects: the socket holds them until it does.
    socket.write(Buffer.concat([PREFACE, frame(FrameType.SETTINGS, 0, 0, settings), frame(FrameType.WINDOW_UPDATE, 0, 0, increment)]));
  }

  /**
   * For a socket made with `onread` (net.connect's option: plain TCP only, the TLS layer reads its raw
   * socket itself): the memory the next read goes to. The rest of a large DATA frame's data is read
   * straight into its destination (the gRPC message being gathered: no copy, no read buffers to free);
   * everything else into one reused buffer, whose bytes nothing keeps past the read (the message reader
   * copies what it takes, frames are parsed at once).
   */
  readBuffer(): Buffer {
    this.direct = undefined;
    const s = this.dataStream;
    const left = this.parser.dataLeft;
    if (left >= DIRECT_MIN && s && !s.done && s.events.target) {
      const t = s.events.target(left);
      if (t && t.length >= DIRECT_MIN) return (this.direct = t);
    }
    return this.readScratch!;
  }

  /** An `onread` read of `nread` bytes into `buf` (the last readBuffer()); true: go on reading. */
  readDone(nread: number, buf: Uint8Array): boolean {
    const direct = this.direct;
    this.direct = undefined;
    if (direct !== undefined && buf === direct) this.received(direct.subarray(0, nread), true);
    else if (this.readScratch !== undefined && buf === this.readScratch) this.received(this.readScratch.subarray(0, nread), false);
    else this.protocolFailure(new Error('a socket read into memory the connection did not offer'));
    return true;
  }

  private received(chunk: Buffer, direct: boolean): void {
    if (this.dead) return;
    this.readSinceTick = true;
    this.reading = true;
    try {
      if (direct) this.parser.pushData(chunk);
      else this.parser.push(chunk);
    } catch (err) {
      this.protocolFailure(err);
    }
    this.reading = false;
    // What the window updates in this read allow goes out now, in one write per stream (a server
    // that gives back its window every 16 KiB would otherwise cost a socket write per frame).
    if (this.unblocked.size > 0) {
      const streams = [...this.unblocked];
      this.unblocked.clear();
      for (const s of streams) if (!s.done) this.send(s, []);
    }
  }

  /** The wait before the next keepalive PING (see intervalMs). */
  get keepaliveIntervalMs(): number {
    return this.intervalMs;
  }

  /** Takes new calls: not GOAWAY'd, failed or closed, and stream ids left. */
  get usable(): boolean {
    return !this.goneAway && !this.dead && this.nextId <= MAX_STREAM_ID;
  }

  /** Opens a stream: HEADERS now (or once the server's stream limit allows), with `parts` as its first body bytes. */
  open(headerBlock: Buffer, events: StreamEvents, parts: Uint8Array[], end: boolean): H2Stream {
    const s = new H2Stream(this, headerBlock, events);
    if (this.dead) {
      s.done = true;
      const target = this.options.target;
      queueMicrotask(() => events.onFail(Status.UNAVAILABLE, `connection to ${target} is closed`, undefined, true));
      return s;
    }
    this.enqueue(s, parts, end);
    if (this.streams.size >= this.peerMaxStreams) this.waiting.push(s);
    else this.start(s);
    return s;
  }

  /** Ends the connection (the client closed): its calls fail UNAVAILABLE. */
  close(): void {
    this.lost(`the cache client closed its connection to ${this.options.target}`);
  }

  // --- sending ---

  private start(s: H2Stream): void {
    if (this.dead) return;
    s.id = this.nextId;
    this.nextId += 2;
    s.sendWindow = this.peerInitialWindow;
    this.streams.set(s.id, s);
    if (this.keepaliveTimer === undefined && !this.judging && this.options.keepaliveMs > 0) {
      // Reads from before the connection went idle say nothing about it now.
      this.readSinceTick = false;
      this.armKeepalive(this.intervalMs);
    }
    if (this.nextId > MAX_STREAM_ID) this.gone();
    const out: Uint8Array[] = [];
    const head = Buffer.allocUnsafe(FRAME_HEADER);
    const noBody = s.endQueued && s.queuedBytes === 0;
    writeFrameHeader(head, 0, s.headerBlock.length, FrameType.HEADERS, Flag.END_HEADERS | (noBody ? Flag.END_STREAM : 0), s.id);
    out.push(head, s.headerBlock);
    if (noBody) s.localClosed = true;
    this.send(s, out);
  }

  private enqueue(s: H2Stream, parts: Uint8Array[], end: boolean): void {
    for (const p of parts) {
      if (p.length === 0) continue;
      s.queue.push(p);
      s.queuedBytes += p.length;
    }
    if (end) s.endQueued = true;
  }

  write(s: H2Stream, parts: Uint8Array[], end: boolean): boolean {
    if (s.done || s.localClosed) return true;
    this.enqueue(s, parts, end);
    if (s.id !== 0) this.send(s, []);
    const ok = s.queuedBytes + this.socket.writableLength < HIGH_WATER;
    if (!ok) this.draining.add(s);
    return ok;
  }

  /** Sends what the windows allow of a stream's queue, after `out` (frames already made), in one write where small. */
  private send(s: H2Stream, out: Uint8Array[]): void {
    if (this.dead) return;
    let total = 0;
    for (const b of out) total += b.length;
    // Frame headers of this round share one buffer; body slices are plain views (cheaper than
    // Buffer#subarray, and Buffers already, which socket.write would otherwise wrap): a 64 MiB put to a server with 16 KiB frames is 4096 frames.
    const sendable = Math.max(0, Math.min(this.connSendWindow, s.sendWindow, s.queuedBytes));
    const heads = Buffer.allocUnsafe(FRAME_HEADER * (Math.ceil(sendable / this.peerMaxFrame) + 1));
    let headAt = 0;
    while (!s.localClosed && (s.queuedBytes > 0 || s.endQueued)) {
      const allowed = Math.min(this.connSendWindow, s.sendWindow, this.peerMaxFrame);
      if (s.queuedBytes > 0 && allowed <= 0) {
        this.blocked.add(s);
        break;
      }
      // With only END_STREAM left, an empty frame that no window holds back: `allowed` may be below 0
      // then (a SETTINGS_INITIAL_WINDOW_SIZE decrease, RFC 9113 §6.9.2), and the length must not be.
      const n = Math.max(0, Math.min(allowed, s.queuedBytes));
      const last = n === s.queuedBytes && s.endQueued;
      writeFrameHeader(heads, headAt, n, FrameType.DATA, last ? Flag.END_STREAM : 0, s.id);
      out.push(Buffer.from(heads.buffer, heads.byteOffset + headAt, FRAME_HEADER));
      headAt += FRAME_HEADER;
      total += FRAME_HEADER + n;
      let left = n;
      while (left > 0) {
        const p = s.queue[0]!;
        const rest = p.length - s.queueOffset;
        if (rest <= left) {
          out.push(s.queueOffset === 0 ? p : Buffer.from(p.buffer, p.byteOffset + s.queueOffset, rest));
          s.queue.shift();
          s.queueOffset = 0;
          left -= rest;
        } else {
          out.push(Buffer.from(p.buffer, p.byteOffset + s.queueOffset, left));
          s.queueOffset += left;
          left = 0;
        }
      }
      s.queuedBytes -= n;
      this.connSendWindow -= n;
      s.sendWindow -= n;
      if (last) {
        s.localClosed = true;
        this.blocked.delete(s);
      }
    }
    if (s.queuedBytes === 0) this.blocked.delete(s);
    if (out.length === 0) return;
    if (out.length === 1 || total <= JOIN_BELOW) {
      this.socket.write(out.length === 1 ? out[0]! : Buffer.concat(out, total));
    } else {
      this.socket.cork();
      for (const b of out) this.socket.write(b);
      this.socket.uncork();
    }
    this.checkDrain();
  }

  private sendBlocked(): void {
    for (const s of [...this.blocked]) {
      if (this.connSendWindow <= 0) return;
      this.sendLater(s);
    }
  }

  /** Sends a stream's queue now, or after the socket read being parsed (see the 'data' handler). */
  private sendLater(s: H2Stream): void {
    if (this.reading) this.unblocked.add(s);
    else this.send(s, []);
  }

  private checkDrain(): void {
    if (this.draining.size === 0) return;
    for (const s of [...this.draining]) {
      if (s.done || s.queuedBytes + this.socket.writableLength < HIGH_WATER) {
        this.draining.delete(s);
        s.onDrain?.();
      }
    }
  }

  cancel(s: H2Stream): void {
    if (s.done) return;
    s.done = true;
    if (s.id === 0) {
      const i = this.waiting.indexOf(s);
      if (i >= 0) this.waiting.splice(i, 1);
      return;
    }
    this.writeFrame(rstStream(s.id, ErrorCode.CANCEL));
    this.forget(s);
  }

  consumed(s: H2Stream, n: number): void {
    if (s.done || this.dead) return;
    s.unacked += n;
    // Given back in large steps (a quarter of the window): few frames, and the server never waits.
    if (s.unacked >= this.options.window / 4) {
      s.recvWindow += s.unacked;
      this.writeFrame(windowUpdate(s.id, s.unacked));
      s.unacked = 0;
    }
  }

  private writeFrame(b: Buffer): void {
    if (!this.dead) this.socket.write(b);
  }

  /** An acknowledgement the server asked for; one that would queue behind too many unsent ones fails the connection. */
  private writeAck(b: Buffer): void {
    if (this.dead) return;
    if (this.unsentAcks >= MAX_UNSENT_ACKS) {
      throw new ConnectionError(ErrorCode.ENHANCE_YOUR_CALM, `the server asked for more than ${MAX_UNSENT_ACKS} acknowledgements without reading them`);
    }
    this.unsentAcks++;
    this.socket.write(b, () => this.unsentAcks--);
  }

  /** A stream finished or was reset: its slot goes to a waiting one, and a GOAWAY'd connection closes when idle. */
  private forget(s: H2Stream): void {
    this.streams.delete(s.id);
    // A stream forgotten inside one of its DATA frames (cancelled, past its deadline) must not stay reachable
    // through the frame in progress: its message could be large and the connection idle for long.
    if (this.dataStream === s) this.dataStream = undefined;
    this.blocked.delete(s);
    this.draining.delete(s);
    this.unblocked.delete(s);
    s.queue = [];
    s.queueOffset = 0;
    s.queuedBytes = 0;
    while (this.waiting.length > 0 && this.streams.size < this.peerMaxStreams && !this.goneAway) this.start(this.waiting.shift()!);
    if (this.streams.size === 0 && this.waiting.length === 0 && !this.pingOut && !this.judging) {
      // Idle: the next call starts a fresh interval, so reads from this one do not excuse its silence.
      clearTimeout(this.keepaliveTimer);
      this.keepaliveTimer = undefined;
      // A call answered since the last tick ends any backoff: the next call, perhaps on a connection that died
      // while idle, is watched at keepaliveMs again. A call that ended silent keeps it (the server's strikes stand).
      if (this.realSinceTick) this.intervalMs = this.options.keepaliveMs;
      this.realSinceTick = false;
    }
    if (this.goneAway && this.streams.size === 0 && this.waiting.length === 0) this.destroy();
  }

  // --- receiving (FrameSink) ---

  /** Refuses at its header what can be refused there, before a payload is gathered or waited for. */
  onHeader(type: number, _flags: number, _streamId: number, length: number): boolean {
    if (!this.settingsSeen) {
      // The server's preface is a SETTINGS frame (RFC 9113 §3.4): anything else is not an HTTP/2 server.
      if (type !== FrameType.SETTINGS) throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, `its first frame is not SETTINGS (type ${type}, ${length} bytes): not an HTTP/2 server?`);
      this.settingsSeen = true;
    }
    if (type === FrameType.HEADERS || type === FrameType.DATA) this.realSinceTick = true;
    const fixed = FIXED_LENGTH[type];
    if (fixed !== undefined && length !== fixed) throw new ConnectionError(ErrorCode.FRAME_SIZE_ERROR, `a frame of type ${type} with ${length} bytes (${fixed} expected)`);
    if ((type === FrameType.HEADERS || type === FrameType.CONTINUATION) && this.headerBytes + length > MAX_HEADER_BLOCK) {
      throw new ConnectionError(ErrorCode.ENHANCE_YOUR_CALM, `a header block above ${MAX_HEADER_BLOCK} bytes`);
    }
    if ((type === FrameType.SETTINGS || type === FrameType.GOAWAY) && length > MAX_CONTROL) {
      throw new ConnectionError(ErrorCode.FRAME_SIZE_ERROR, `a frame of type ${type} with ${length} bytes`);
    }
    // Unknown types are ignored (RFC 9113 §4.1), their payload skipped unread.
    return type <= FrameType.CONTINUATION;
  }

  onDataStart(streamId: number, flags: number, length: number): void {
    this.expectNoContinuation(FrameType.DATA);
    if (streamId === 0) throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, 'a DATA frame on stream 0');
    this.checkKnown(streamId, 'DATA');
    // The connection window is given back at once: each stream's own window holds back a slow reader.
    this.connUnacked += length;
    if (this.connUnacked >= this.options.window / 4) {
      this.writeFrame(windowUpdate(0, this.connUnacked));
      this.connUnacked = 0;
    }
    const s = this.streams.get(streamId);
    this.dataStream = s && !s.done ? s : undefined;
    this.dataLength = length;
    this.dataSeen = 0;
    if (!this.dataStream) return;
    this.dataStream.recvWindow -= length;
    if (this.dataStream.recvWindow < 0) this.failStream(this.dataStream, ErrorCode.FLOW_CONTROL_ERROR, `the server sent past stream ${streamId}'s receive window`);
  }

  onData(_streamId: number, data: Buffer): void {
    const s = this.dataStream;
    this.dataSeen += data.length;
    if (s && !s.done) s.events.onData(data);
  }

  onDataEnd(_streamId: number, flags: number): void {
    const s = this.dataStream;
    this.dataStream = undefined;
    if (!s || s.done) return;
    // Padding and the pad length byte count against the window but reach no reader: given back now.
    if (this.dataLength > this.dataSeen) this.consumed(s, this.dataLength - this.dataSeen);
    if (flags & Flag.END_STREAM) this.remoteEnd(s);
  }

  onFrame(type: number, flags: number, streamId: number, payload: Buffer): void {
    if (type !== FrameType.CONTINUATION) this.expectNoContinuation(type);
    switch (type) {
      case FrameType.HEADERS:
        return this.onHeadersFrame(flags, streamId, payload);
      case FrameType.CONTINUATION:
        return this.onContinuation(flags, streamId, payload);
      case FrameType.SETTINGS:
        return this.onSettings(flags, streamId, payload);
      case FrameType.WINDOW_UPDATE:
        return this.onWindowUpdate(streamId, payload);
      case FrameType.PING:
        if (streamId !== 0) throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, 'a PING on a stream');
        if (payload.length !== 8) throw new ConnectionError(ErrorCode.FRAME_SIZE_ERROR, `a PING of ${payload.length} bytes`);
        if ((flags & Flag.ACK) === 0) this.writeAck(frame(FrameType.PING, Flag.ACK, 0, payload));
        return;
      case FrameType.RST_STREAM:
        return this.onRstStream(streamId, payload);
      case FrameType.GOAWAY:
        return this.onGoaway(streamId, payload);
      case FrameType.PUSH_PROMISE:
        throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, 'a PUSH_PROMISE, though we disabled push');
      case FrameType.PRIORITY:
        if (streamId === 0) throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, 'a PRIORITY frame on stream 0');
        if (payload.length !== 5) throw new ConnectionError(ErrorCode.FRAME_SIZE_ERROR, `a PRIORITY frame of ${payload.length} bytes`);
        return;
      default:
      // Unknown frame types are ignored (RFC 9113 §4.1).
    }
  }

  private expectNoContinuation(type: number): void {
    if (this.headerStream !== 0) {
      throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, `a frame of type ${type} inside the header block of stream ${this.headerStream} (a CONTINUATION was due)`);
    }
  }

  private checkKnown(streamId: number, what: string): void {
    if (streamId % 2 === 0 || streamId > this.nextId - 2) {
      throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, `${what} on stream ${streamId}, which we never opened`);
    }
  }

  private onHeadersFrame(flags: number, streamId: number, payload: Buffer): void {
    if (streamId === 0) throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, 'a HEADERS frame on stream 0');
    this.checkKnown(streamId, 'HEADERS');
    let start = 0;
    let end = payload.length;
    if (flags & Flag.PADDED) {
      if (payload.length < 1) throw new ConnectionError(ErrorCode.FRAME_SIZE_ERROR, 'a padded HEADERS frame without its pad length');
      end -= payload[0]!;
      start = 1;
    }
    if (flags & Flag.PRIORITY) start += 5;
    if (end < start) throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, `a HEADERS frame's padding and priority (${payload.length - end + start}) exceed its ${payload.length} bytes`);
    const fragment = payload.subarray(start, end);
    if (flags & Flag.END_HEADERS) return this.headerBlock(streamId, flags, fragment);
    // The fragment may be a view into a socket chunk: kept as a copy until the block is whole.
    this.headerStream = streamId;
    this.headerFlags = flags;
    this.headerParts = [Buffer.from(fragment)];
    this.headerBytes = fragment.length;
    this.headerFrames = 1;
  }

  private onContinuation(flags: number, streamId: number, payload: Buffer): void {
    if (this.headerStream === 0 || streamId !== this.headerStream) {
      throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, `a CONTINUATION on stream ${streamId} that continues no header block`);
    }
    this.headerBytes += payload.length;
    if (++this.headerFrames > MAX_CONTINUATIONS) throw new ConnectionError(ErrorCode.ENHANCE_YOUR_CALM, `a header block in more than ${MAX_CONTINUATIONS} frames`);
    if (this.headerBytes > MAX_HEADER_BLOCK) throw new ConnectionError(ErrorCode.ENHANCE_YOUR_CALM, `a header block above ${MAX_HEADER_BLOCK} bytes`);
    if ((flags & Flag.END_HEADERS) === 0) {
      this.headerParts.push(Buffer.from(payload));
      return;
    }
    this.headerParts.push(payload);
    const block = Buffer.concat(this.headerParts, this.headerBytes);
    this.headerStream = 0;
    this.headerParts = [];
    this.headerBytes = 0;
    this.headerBlock(streamId, this.headerFlags, block);
  }

  private headerBlock(streamId: number, flags: number, block: Buffer): void {
    let headers: HeaderList;
    try {
      // Decoded even for a stream we gave up on: the decoder's table follows every block.
      headers = this.decoder.decode(block);
    } catch (err) {
      if (err instanceof HpackError) throw new ConnectionError(ErrorCode.COMPRESSION_ERROR, `bad header compression: ${err.message}`);
      throw err;
    }
    const s = this.streams.get(streamId);
    if (!s || s.done) return;
    const end = (flags & Flag.END_STREAM) !== 0;
    s.events.onHeaders(headers, end);
    if (end && !s.done) this.remoteEnd(s);
  }

  private remoteEnd(s: H2Stream): void {
    s.done = true;
    // The server answered before our request ended (a refused put): the rest is not sent.
    if (!s.localClosed) this.writeFrame(rstStream(s.id, ErrorCode.CANCEL));
    this.forget(s);
    s.events.onEnd();
  }

  private onSettings(flags: number, streamId: number, payload: Buffer): void {
    if (streamId !== 0) throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, 'a SETTINGS frame on a stream');
    if (flags & Flag.ACK) {
      if (payload.length !== 0) throw new ConnectionError(ErrorCode.FRAME_SIZE_ERROR, 'a SETTINGS ACK with a payload');
      return;
    }
    if (payload.length % 6 !== 0) throw new ConnectionError(ErrorCode.FRAME_SIZE_ERROR, `a SETTINGS frame of ${payload.length} bytes`);
    let windowDelta = 0;
    for (let i = 0; i < payload.length; i += 6) {
      const id = payload.readUInt16BE(i);
      const value = payload.readUInt32BE(i + 2);
      if (id === Setting.INITIAL_WINDOW_SIZE) {
        if (value > MAX_WINDOW) throw new ConnectionError(ErrorCode.FLOW_CONTROL_ERROR, `SETTINGS_INITIAL_WINDOW_SIZE ${value}`);
        windowDelta += value - this.peerInitialWindow;
        this.peerInitialWindow = value;
      } else if (id === Setting.MAX_FRAME_SIZE) {
        if (value < DEFAULT_MAX_FRAME || value > 2 ** 24 - 1) throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, `SETTINGS_MAX_FRAME_SIZE ${value}`);
        this.peerMaxFrame = value;
      } else if (id === Setting.MAX_CONCURRENT_STREAMS) {
        this.peerMaxStreams = value;
      } else if (id === Setting.ENABLE_PUSH) {
        if (value > 1) throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, `SETTINGS_ENABLE_PUSH ${value}`);
      }
      // HEADER_TABLE_SIZE bounds an encoder's table; ours keeps none. Unknown settings are ignored.
    }
    this.writeAck(frame(FrameType.SETTINGS, Flag.ACK, 0));
    if (windowDelta !== 0) {
      // A change applies to every open stream's window (RFC 9113 §6.9.2), and may make one overflow.
      for (const s of this.streams.values()) {
        s.sendWindow += windowDelta;
        if (s.sendWindow > MAX_WINDOW) throw new ConnectionError(ErrorCode.FLOW_CONTROL_ERROR, `SETTINGS_INITIAL_WINDOW_SIZE overflows stream ${s.id}'s window`);
      }
      for (const s of this.streams.values()) if (s.sendWindow > 0 && s.queuedBytes > 0) this.sendLater(s);
    }
    while (this.waiting.length > 0 && this.streams.size < this.peerMaxStreams && !this.goneAway) this.start(this.waiting.shift()!);
  }

  private onWindowUpdate(streamId: number, payload: Buffer): void {
    if (payload.length !== 4) throw new ConnectionError(ErrorCode.FRAME_SIZE_ERROR, `a WINDOW_UPDATE of ${payload.length} bytes`);
    const increment = payload.readUInt32BE(0) & 0x7fffffff;
    if (streamId === 0) {
      if (increment === 0) throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, 'a connection WINDOW_UPDATE of 0');
      this.connSendWindow += increment;
      if (this.connSendWindow > MAX_WINDOW) throw new ConnectionError(ErrorCode.FLOW_CONTROL_ERROR, 'the connection send window overflows');
      this.sendBlocked();
      return;
    }
    this.checkKnown(streamId, 'WINDOW_UPDATE');
    const s = this.streams.get(streamId);
    if (!s || s.done) return;
    if (increment === 0) return this.failStream(s, ErrorCode.PROTOCOL_ERROR, `a WINDOW_UPDATE of 0 on stream ${streamId}`);
    s.sendWindow += increment;
    if (s.sendWindow > MAX_WINDOW) return this.failStream(s, ErrorCode.FLOW_CONTROL_ERROR, `stream ${streamId}'s send window overflows`);
    if (s.queuedBytes > 0 || (s.endQueued && !s.localClosed)) this.sendLater(s);
  }

  private onRstStream(streamId: number, payload: Buffer): void {
    if (streamId === 0) throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, 'a RST_STREAM on stream 0');
    if (payload.length !== 4) throw new ConnectionError(ErrorCode.FRAME_SIZE_ERROR, `a RST_STREAM of ${payload.length} bytes`);
    this.checkKnown(streamId, 'RST_STREAM');
    const s = this.streams.get(streamId);
    if (!s || s.done) return;
    const code = payload.readUInt32BE(0);
    s.done = true;
    this.forget(s);
    const refused = code === ErrorCode.REFUSED_STREAM;
    s.events.onFail(Status.UNAVAILABLE, `the server reset the stream (HTTP/2 error ${code}${refused ? ', REFUSED_STREAM' : ''})`, code, refused);
  }

  private onGoaway(streamId: number, payload: Buffer): void {
    if (streamId !== 0) throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, 'a GOAWAY on a stream');
    if (payload.length < 8) throw new ConnectionError(ErrorCode.FRAME_SIZE_ERROR, `a GOAWAY of ${payload.length} bytes`);
    const last = payload.readUInt32BE(0) & 0x7fffffff;
    const code = payload.readUInt32BE(4);
    const debug = payload.subarray(8, Math.min(payload.length, 8 + 200)).toString('utf8');
    const why = `the server at ${this.options.target} is going away (GOAWAY, HTTP/2 error ${code}${debug ? `: ${debug}` : ''})`;
    // The debug text grpc servers send with it (A8); the code alone is also used for other abuse.
    if (code === ErrorCode.ENHANCE_YOUR_CALM && debug === 'too_many_pings') this.tooManyPings = true;
    this.gone();
    // Streams never sent, and those above the last one the server says it processed, were not acted on.
    for (const s of this.waiting.splice(0)) {
      s.done = true;
      s.events.onFail(Status.UNAVAILABLE, why, undefined, true);
    }
    for (const s of [...this.streams.values()]) {
      if (s.id <= last || s.done) continue;
      s.done = true;
      this.forget(s);
      s.events.onFail(Status.UNAVAILABLE, why, undefined, true);
    }
    if (this.streams.size === 0) this.destroy();
  }

  // --- failure ---

  /** A stream error (RFC 9113 §5.4.2): that stream is reset, the connection lives on. */
  private failStream(s: H2Stream, code: number, message: string): void {
    s.done = true;
    this.writeFrame(rstStream(s.id, code));
    this.forget(s);
    s.events.onFail(Status.INTERNAL, message);
  }

  /** A frame the connection cannot survive: GOAWAY with the reason, and every call fails with it. */
  private protocolFailure(err: unknown): void {
    const code = err instanceof ConnectionError ? err.h2Code : ErrorCode.INTERNAL_ERROR;
    const text = err instanceof Error ? err.message : String(err);
    if (!this.dead) {
      const debug = Buffer.from(text.slice(0, 200), 'utf8');
      const body = Buffer.allocUnsafe(8 + debug.length);
      // We accept no server-opened streams: the last one processed is 0.
      body.writeUInt32BE(0, 0);
      body.writeUInt32BE(code, 4);
      body.set(debug, 8);
      this.socket.write(frame(FrameType.GOAWAY, 0, 0, body));
    }
    this.lost(`the server at ${this.options.target} broke the HTTP/2 protocol: ${text}`);
  }

  /** The connection is over: every open or waiting call fails UNAVAILABLE with `why`. */
  private lost(why: string, unprocessed = false): void {
    if (this.dead) return;
    this.dead = true;
    this.gone();
    clearTimeout(this.keepaliveTimer);
    this.keepaliveTimer = undefined;
    this.socket.destroy();
    const all = [...this.waiting.splice(0), ...this.streams.values()];
    this.streams.clear();
    this.blocked.clear();
    this.unblocked.clear();
    for (const s of all) {
      if (s.done) continue;
      s.done = true;
      // A stream still waiting for a slot never left us (id 0): the server cannot have seen it.
      s.events.onFail(Status.UNAVAILABLE, why, undefined, unprocessed || s.id === 0);
    }
    for (const s of this.draining) s.onDrain?.();
    this.draining.clear();
  }

  // --- keepalive ---

  /**
   * A call on this connection ran out of time: a PING now (unless one is out), so that a dead
   * connection is dropped within keepaliveTimeoutMs, before the next call would wait on it.
   */
  probe(): void {
    // Something read within the interval already says the connection is alive.
    if (this.dead || this.pingOut || this.judging || this.readSinceTick || this.options.keepaliveMs === 0) return;
    clearTimeout(this.keepaliveTimer);
    this.readSinceTick = false;
    this.ping();
  }

  private armKeepalive(ms: number): void {
    this.keepaliveTimer = setTimeout(this.keepaliveTick, ms);
    // Open calls keep the process alive with their deadline timers; this one must not.
    this.keepaliveTimer.unref();
  }

  private ping(): void {
    this.pingOut = true;
    this.socket.write(frame(FrameType.PING, 0, 0, KEEPALIVE_PING));
    this.armKeepalive(this.options.keepaliveTimeoutMs);
  }

  /**
   * Every keepaliveMs while calls are open: a connection that read nothing since the last tick gets a
   * PING, and one that still read nothing keepaliveTimeoutMs later is dead. Anything read counts, not
   * only the ACK: the ACK may queue behind a large answer the server is still writing. A connection
   * with no calls is not pinged and its timer stops (servers police pings without calls; README Limits).
   */
  private readonly keepaliveTick = (): void => {
    this.keepaliveTimer = undefined;
    if (this.dead) return;
    if (this.pingOut && !this.readSinceTick) {
      // Timers run before the socket reads of their loop turn: after an event loop blocked past the
      // timeout (a busy task), the answer may be there unread. Judged once those reads are done.
      this.judging = true;
      setImmediate(this.keepaliveVerdict);
      return;
    }
    this.keepaliveNext();
  };

  private readonly keepaliveVerdict = (): void => {
    this.judging = false;
    if (this.dead) return;
    if (!this.readSinceTick) {
      const { target, keepaliveMs, keepaliveTimeoutMs } = this.options;
      if (!this.established) {
        // Nothing left this machine: every call may be sent again (on a new connection).
        const how = 'encrypted' in this.socket ? 'TCP connection and TLS handshake' : 'TCP connection';
        this.lost(`could not establish a connection to ${target}: its ${how} did not complete within ${keepaliveMs + keepaliveTimeoutMs} ms`, true);
        return;
      }
      this.lost(
        this.settingsSeen
          ? `no answer from ${target} within ${keepaliveTimeoutMs} ms of a keepalive PING (sent after ${this.intervalMs} ms with nothing read): the connection is taken as dead`
          : `no answer from ${target} within ${keepaliveMs + keepaliveTimeoutMs} ms of connecting, not even its HTTP/2 SETTINGS: the connection is taken as dead`,
      );
      return;
    }
    this.keepaliveNext();
  };

  private keepaliveNext(): void {
    const pinged = this.pingOut;
    this.pingOut = false;
    if (this.realSinceTick) this.intervalMs = this.options.keepaliveMs;
    else if (pinged) this.intervalMs = Math.min(MAX_TIMER_MS, this.intervalMs * 2);
    this.realSinceTick = false;
    if (this.streams.size === 0 && this.waiting.length === 0) return;
    if (this.readSinceTick) {
      this.readSinceTick = false;
      this.armKeepalive(this.intervalMs);
    } else this.ping();
  }

  private destroy(): void {
    this.lost(`connection to ${this.options.target} closed after GOAWAY`);
  }

  private gone(): void {
    if (this.goneAway) return;
    this.goneAway = true;
    this.onGone();
  }
}

function rstStream(id: number, code: number): Buffer {
  const b = Buffer.allocUnsafe(FRAME_HEADER + 4);
  writeFrameHeader(b, 0, 4, FrameType.RST_STREAM, 0, id);
  b.writeUInt32BE(code, FRAME_HEADER);
  return b;
}

function windowUpdate(id: number, increment: number): Buffer {
  const b = Buffer.allocUnsafe(FRAME_HEADER + 4);
  writeFrameHeader(b, 0, 4, FrameType.WINDOW_UPDATE, 0, id);
  b.writeUInt32BE(increment, FRAME_HEADER);
  return b;
}
