/**
 * gRPC messages read from an HTTP/2 stream's chunks: a 5-byte prefix (compressed
 * flag, big-endian length) and that many bytes, cut anywhere by the chunks
 * (https://github.com/grpc/grpc/blob/master/doc/PROTOCOL-HTTP2.md).
 *
 * One reader walks the chunks and checks each prefix for both of the cache's own
 * HTTP/2 paths; what a message becomes differs, so each path has its collector:
 * the embedded server keeps a put's chunks as they are (PartsReader, see
 * server/received-parts.ts), the client gathers each answer message into one
 * buffer (MessageReader, see transport.ts).
 */
import { Status } from '@grpc/grpc-js/build/src/constants';
import { CallError } from './call-error';

/** Splits chunks into messages; subclasses collect each message's bytes. */
abstract class GrpcMessageReader {
  /** A prefix cut by a chunk boundary, gathered (made only then: most calls' prefixes lie whole in a chunk). */
  private prefix?: Buffer;
  private prefixFill = 0;
  /** Bytes of the current message still to come; -1 while a prefix is awaited. */
  private need = -1;

  /** `maxMessageBytes`: a longer message is refused (RESOURCE_EXHAUSTED) at its prefix, before anything is collected. */
  constructor(private readonly maxMessageBytes: number) {}

  /** A message lying whole in one chunk, at [start, start + length): true when taken as it is (not collected). */
  protected abstract whole(chunk: Buffer, start: number, length: number): boolean;
  protected abstract begin(length: number): void;
  /** Bytes [start, start + n) of `chunk` belong to the current message. */
  protected abstract take(chunk: Buffer, start: number, n: number): void;
  protected abstract complete(): void;

  private lengthOf(flag: number, length: number): number {
    if (flag !== 0) throw new CallError(Status.INTERNAL, 'a compressed message arrived without negotiated compression');
    if (length > this.maxMessageBytes) {
      throw new CallError(Status.RESOURCE_EXHAUSTED, `Received message larger than max (${length} vs. ${this.maxMessageBytes})`);
    }
    return length;
  }

  push(chunk: Buffer): void {
    let pos = 0;
    while (pos < chunk.length) {
      if (this.need < 0) {
        let length: number;
        if (this.prefixFill === 0 && chunk.length - pos >= 5) {
          length = this.lengthOf(chunk[pos]!, chunk.readUInt32BE(pos + 1));
          pos += 5;
        } else {
          const n = Math.min(5 - this.prefixFill, chunk.length - pos);
          this.prefix ??= Buffer.alloc(5);
          chunk.copy(this.prefix, this.prefixFill, pos, pos + n);
          this.prefixFill += n;
          pos += n;
          if (this.prefixFill < 5) return;
          this.prefixFill = 0;
          length = this.lengthOf(this.prefix[0]!, this.prefix.readUInt32BE(1));
        }
        if (length > 0 && chunk.length - pos >= length && this.whole(chunk, pos, length)) {
          pos += length;
          continue;
        }
        this.begin(length);
        if (length === 0) {
          this.complete();
          continue;
        }
        this.need = length;
        // The prefix ended this chunk: no empty slice (a collector keeping slices would hold the chunk for nothing).
        if (pos === chunk.length) return;
      }
      const n = Math.min(this.need, chunk.length - pos);
      this.take(chunk, pos, n);
      pos += n;
      this.need -= n;
      if (this.need === 0) {
        this.need = -1;
        this.complete();
      }
    }
  }

  /** Bytes of the current message still to come; -1 while a prefix is awaited. */
  protected get needed(): number {
    return this.need;
  }

  /** Whether the chunks so far end inside a message. */
  get partial(): boolean {
    return this.prefixFill > 0 || this.need >= 0;
  }
}

/**
 * Each message as the chunk slices it arrived in (views, never copied; a
 * zero-length one as no slices): the server decides per message whether to
 * keep them or copy (decodeReceived).
 */
export class PartsReader extends GrpcMessageReader {
  private parts?: Buffer[];
  private length = 0;

  /**
   * `onTake`: told each piece of a message gathered over several chunks before it is kept (`n` bytes); it
   * may throw to refuse the message.
   */
  constructor(
    private readonly onMessage: (parts: Buffer[], length: number) => void,
    maxMessageBytes: number,
    private readonly onTake?: (n: number) => void,
  ) {
    super(maxMessageBytes);
  }

  protected whole(chunk: Buffer, start: number, length: number): boolean {
    this.onMessage([chunk.subarray(start, start + length)], length);
    return true;
  }

  protected begin(length: number): void {
    this.parts = [];
    this.length = length;
  }

  protected take(chunk: Buffer, start: number, n: number): void {
    this.onTake?.(n);
    this.parts!.push(chunk.subarray(start, start + n));
  }

  protected complete(): void {
    const parts = this.parts!;
    this.parts = undefined;
    this.onMessage(parts, this.length);
  }
}

/** Each message as one contiguous buffer (a view when a chunk holds it whole, else a copy gathered as the chunks come). */
export class MessageReader extends GrpcMessageReader {
  private message?: Buffer;
  private fill = 0;

  /**
   * `own`: every message is in memory of its own (never a view into a chunk, nor in Buffer's shared
   * pool). The client's HTTP/2 connection reads into one reused buffer (and the HTTP/2 layer slices the
   * chunks of all streams of a session out of its socket reads), so a view handed to one caller could
   * reach the bytes of later reads or of another stream.
   */
  constructor(
    private readonly onMessage: (m: Buffer) => void,
    maxMessageBytes = Infinity,
    private readonly own = false,
  ) {
    super(maxMessageBytes);
  }

  /**
   * Where the next up to `max` bytes of the current message go, when they are all message bytes (inside
   * a message, its prefix read): a reader that reads them straight there then pushes that very view,
   * which is taken without a copy.
   */
  target(max: number): Buffer | undefined {
    const need = this.needed;
    if (!this.message || need <= 0) return undefined;
    return this.message.subarray(this.fill, this.fill + Math.min(need, max));
  }

  protected whole(chunk: Buffer, start: number, length: number): boolean {
    if (this.own) return false;
    this.onMessage(chunk.subarray(start, start + length));
    return true;
  }

  protected begin(length: number): void {
    this.fill = 0;
    this.message = this.own ? Buffer.allocUnsafeSlow(length) : Buffer.allocUnsafe(length);
  }

  protected take(chunk: Buffer, start: number, n: number): void {
    const m = this.message!;
    // Bytes read straight into the message (target) are where they belong already.
    if (chunk.buffer !== m.buffer || chunk.byteOffset + start !== m.byteOffset + this.fill) chunk.copy(m, this.fill, start, start + n);
    this.fill += n;
  }

  protected complete(): void {
    const m = this.message!;
    this.message = undefined;
    this.onMessage(m);
  }
}
