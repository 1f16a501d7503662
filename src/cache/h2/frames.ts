/**
 * HTTP/2 frames (RFC 9113 §4, §6): the 9-byte header, and a parser that cuts a byte stream into frames.
 *
 * DATA payloads are handed on piece by piece as the socket delivers them (views into the socket's
 * chunks, never gathered), so a 16 MiB DATA frame costs no copy and no wait for its end; every other
 * frame is gathered whole (they are small, and bounded by the MAX_FRAME_SIZE we announced). A reader
 * that knows where data bytes go may read the rest of a frame's data there itself (dataLeft, pushData).
 */

export const FrameType = {
  DATA: 0x0,
  HEADERS: 0x1,
  PRIORITY: 0x2,
  RST_STREAM: 0x3,
  SETTINGS: 0x4,
  PUSH_PROMISE: 0x5,
  PING: 0x6,
  GOAWAY: 0x7,
  WINDOW_UPDATE: 0x8,
  CONTINUATION: 0x9,
} as const;

export const Flag = {
  END_STREAM: 0x1,
  ACK: 0x1,
  END_HEADERS: 0x4,
  PADDED: 0x8,
  PRIORITY: 0x20,
} as const;

/** RFC 9113 §7. */
export const ErrorCode = {
  NO_ERROR: 0x0,
  PROTOCOL_ERROR: 0x1,
  INTERNAL_ERROR: 0x2,
  FLOW_CONTROL_ERROR: 0x3,
  SETTINGS_TIMEOUT: 0x4,
  STREAM_CLOSED: 0x5,
  FRAME_SIZE_ERROR: 0x6,
  REFUSED_STREAM: 0x7,
  CANCEL: 0x8,
  COMPRESSION_ERROR: 0x9,
  CONNECT_ERROR: 0xa,
  ENHANCE_YOUR_CALM: 0xb,
  INADEQUATE_SECURITY: 0xc,
  HTTP_1_1_REQUIRED: 0xd,
} as const;

export const Setting = {
  HEADER_TABLE_SIZE: 0x1,
  ENABLE_PUSH: 0x2,
  MAX_CONCURRENT_STREAMS: 0x3,
  INITIAL_WINDOW_SIZE: 0x4,
  MAX_FRAME_SIZE: 0x5,
  MAX_HEADER_LIST_SIZE: 0x6,
} as const;

export const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');
export const FRAME_HEADER = 9;
export const DEFAULT_MAX_FRAME = 16384;

/** A connection error found while parsing (RFC 9113 §5.4.1): the connection is done. */
export class ConnectionError extends Error {
  constructor(
    readonly h2Code: number,
    message: string,
  ) {
    super(message);
    this.name = 'ConnectionError';
  }
}

/** Writes a frame header at `at` in `buf`. */
export function writeFrameHeader(buf: Buffer, at: number, length: number, type: number, flags: number, streamId: number): void {
  buf[at] = length >>> 16;
  buf[at + 1] = (length >>> 8) & 0xff;
  buf[at + 2] = length & 0xff;
  buf[at + 3] = type;
  buf[at + 4] = flags;
  buf.writeUInt32BE(streamId, at + 5);
}

/** A whole frame in a buffer of its own. */
export function frame(type: number, flags: number, streamId: number, payload?: Uint8Array): Buffer {
  const length = payload?.length ?? 0;
  const buf = Buffer.allocUnsafe(FRAME_HEADER + length);
  writeFrameHeader(buf, 0, length, type, flags, streamId);
  if (payload) buf.set(payload, FRAME_HEADER);
  return buf;
}

export interface FrameSink {
  /** A frame's header, before its payload: throws to refuse it at once (a wrong length); false: skip its payload unread. */
  onHeader?(type: number, flags: number, streamId: number, length: number): boolean;
  /** A complete non-DATA frame; `payload` may be a view into a socket chunk, valid only during the call. */
  onFrame(type: number, flags: number, streamId: number, payload: Buffer): void;
  /** A DATA frame begins: `length` is the whole payload length (flow control counts it, padding included). */
  onDataStart(streamId: number, flags: number, length: number): void;
  /** Data bytes of the current DATA frame (padding removed). */
  onData(streamId: number, data: Buffer): void;
  /** The current DATA frame has ended (its END_STREAM flag was given at start). */
  onDataEnd(streamId: number, flags: number): void;
}

const enum State {
  Header,
  Payload,
  DataPadLength,
  Data,
  DataPadding,
  Skip,
}

/** Cuts the byte stream into frames; `push` throws ConnectionError on a frame the connection must die of. */
export class FrameParser {
  private state = State.Header;
  private readonly header = Buffer.alloc(FRAME_HEADER);
  private headerFill = 0;
  private type = 0;
  private flags = 0;
  private streamId = 0;
  private length = 0;
  /** Non-DATA payload being gathered across chunks. */
  private payload?: Buffer;
  private payloadFill = 0;
  /** DATA: bytes of the frame still to come in the current state. */
  private left = 0;
  private padding = 0;

  constructor(
    private readonly sink: FrameSink,
    /** The MAX_FRAME_SIZE we announced: anything longer is a FRAME_SIZE_ERROR. */
    private readonly maxFrame: number,
  ) {}

  /** Data bytes of the current DATA frame still to come, when the next byte is one of them (else 0). */
  get dataLeft(): number {
    return this.state === State.Data ? this.left : 0;
  }

  /**
   * `data` (at most dataLeft bytes) are the next data bytes of the current DATA frame, read by the
   * caller straight into the memory it chose (socket reads offered exactly the rest of a frame's data).
   */
  pushData(data: Buffer): void {
    if (this.state !== State.Data || data.length > this.left) throw new RangeError(`${data.length} bytes pushed as data, ${this.dataLeft} due`);
    this.sink.onData(this.streamId, data);
    this.left -= data.length;
    this.dataDone();
  }

  push(chunk: Buffer): void {
    let pos = 0;
    const end = chunk.length;
    while (pos < end) {
      switch (this.state) {
        case State.Header: {
          if (this.headerFill === 0 && end - pos >= FRAME_HEADER) {
            this.begin(chunk, pos);
            pos += FRAME_HEADER;
          } else {
            const n = Math.min(FRAME_HEADER - this.headerFill, end - pos);
            chunk.copy(this.header, this.headerFill, pos, pos + n);
            this.headerFill += n;
            pos += n;
            if (this.headerFill < FRAME_HEADER) return;
            this.headerFill = 0;
            this.begin(this.header, 0);
          }
          break;
        }
        case State.Payload: {
          if (!this.payload && end - pos >= this.length) {
            const payload = chunk.subarray(pos, pos + this.length);
            pos += this.length;
            this.state = State.Header;
            this.sink.onFrame(this.type, this.flags, this.streamId, payload);
            break;
          }
          this.payload ??= Buffer.allocUnsafe(this.length);
          const n = Math.min(this.length - this.payloadFill, end - pos);
          chunk.copy(this.payload, this.payloadFill, pos, pos + n);
          this.payloadFill += n;
          pos += n;
          if (this.payloadFill === this.length) {
            const payload = this.payload;
            this.payload = undefined;
            this.payloadFill = 0;
            this.state = State.Header;
            this.sink.onFrame(this.type, this.flags, this.streamId, payload);
          }
          break;
        }
        case State.DataPadLength: {
          this.padding = chunk[pos++]!;
          this.left = this.length - 1 - this.padding;
          if (this.left < 0) throw new ConnectionError(0x1, `a DATA frame's padding (${this.padding}) is longer than the frame (${this.length})`);
          this.state = State.Data;
          this.dataDone();
          break;
        }
        case State.Data: {
          const n = Math.min(this.left, end - pos);
          this.sink.onData(this.streamId, chunk.subarray(pos, pos + n));
          pos += n;
          this.left -= n;
          this.dataDone();
          break;
        }
        case State.Skip: {
          const n = Math.min(this.left, end - pos);
          pos += n;
          this.left -= n;
          if (this.left === 0) this.state = State.Header;
          break;
        }
        case State.DataPadding: {
          const n = Math.min(this.padding, end - pos);
          pos += n;
          this.padding -= n;
          this.dataDone();
          break;
        }
      }
    }
  }

  private begin(buf: Buffer, at: number): void {
    this.length = (buf[at]! << 16) | (buf[at + 1]! << 8) | buf[at + 2]!;
    this.type = buf[at + 3]!;
    this.flags = buf[at + 4]!;
    this.streamId = buf.readUInt32BE(at + 5) & 0x7fffffff;
    if (this.length > this.maxFrame) {
      throw new ConnectionError(0x6, `a frame of ${this.length} bytes (type ${this.type}), above the ${this.maxFrame} announced`);
    }
    if (this.sink.onHeader?.(this.type, this.flags, this.streamId, this.length) === false) {
      this.left = this.length;
      this.state = this.length === 0 ? State.Header : State.Skip;
      return;
    }
    if (this.type === FrameType.DATA) {
      this.sink.onDataStart(this.streamId, this.flags, this.length);
      if (this.flags & Flag.PADDED) {
        if (this.length === 0) throw new ConnectionError(0x6, 'a padded DATA frame without its pad length');
        this.state = State.DataPadLength;
        return;
      }
      this.padding = 0;
      this.left = this.length;
      this.state = State.Data;
      this.dataDone();
      return;
    }
    this.state = State.Payload;
    if (this.length === 0) {
      this.state = State.Header;
      this.sink.onFrame(this.type, this.flags, this.streamId, EMPTY);
    }
  }

  /** Moves through the end of a DATA frame's data, then its padding. */
  private dataDone(): void {
    if (this.state === State.Data && this.left === 0) this.state = State.DataPadding;
    if (this.state === State.DataPadding && this.padding === 0) {
      this.state = State.Header;
      this.sink.onDataEnd(this.streamId, this.flags);
    }
  }
}

const EMPTY = Buffer.alloc(0);
