/**
 * DoPut and DoGet of the embedded cache served straight on node:http2, beside grpc-js.
 *
 * Why: grpc-js spends more CPU per call than the handlers themselves (its
 * interceptor chain, metadata objects, per-message serializer and a framing
 * copy of every answer), and the cache's two hot calls are small in gRPC terms:
 * a POST, 5-byte length-prefixed messages, the status in the trailers
 * (https://github.com/grpc/grpc/blob/master/doc/PROTOCOL-HTTP2.md). Here the
 * server's HTTP/2 streams for those two methods are taken before grpc-js sees
 * them and handed to the same handlers (flight-service.ts) through RawCall,
 * which offers the part of grpc-js's call object they use. Answers go out as
 * their parts (an object's chunks are not copied into a framed buffer).
 *
 * Every other method, and any DoPut/DoGet this path does not take as it is
 * (a compressed request), stays with grpc-js. grpc-js has no public hook for
 * this: `takeStreams` replaces the server's private stream handler before it
 * binds; when that method is missing (a grpc-js whose internals moved), it
 * returns false and grpc-js serves everything, as before.
 */
import { EventEmitter } from 'node:events';
import http2 from 'node:http2';
import * as grpc from '@grpc/grpc-js';
import { bytesFieldOne, type OutgoingFlightData } from '../flight-data';
import { CallError, frameFlightData } from '../transport';
import { PartsReader } from '../grpc-messages';
import { decodeReceived, type ReceivedFlightData } from './received-parts';
import { FramedMessage } from './shared-answers';
import type { PutBudget } from './put-budget';
import { boundedText, type ServiceStatus } from './status';
import {
  countOpenStream,
  END_STREAM,
  grpcMessage,
  grpcTimeoutMs,
  hookStreamHandlers,
  OK_TRAILERS,
  plainGrpcRequest,
  RESPONSE_HEADERS,
  WAIT_FOR_TRAILERS,
  type StreamHandler,
} from '../../util/grpc-streams';

const SERVICE = '/arrow.flight.protocol.FlightService/';
type RawMethod = 'DoGet' | 'DoPut';
/**
 * A DoGet's request is one Ticket: a key (components of at most 200 bytes) and a version. Far more than any
 * ticket needs, and it keeps what a DoGet can make the server gather small.
 */
export const MAX_TICKET_MESSAGE = 64 * 1024;
/** Shared: each Buffer.alloc(0) is an ArrayBuffer of its own to allocate and sweep. */
const NO_TICKET = Buffer.alloc(0);

/** A Ticket { bytes ticket = 1; }: the ticket's bytes (a view); unknown fields skipped. */
function decodeTicket(m: Buffer): Buffer {
  try {
    return bytesFieldOne(m, 'Ticket');
  } catch (err) {
    throw new CallError(grpc.status.INTERNAL, err instanceof Error ? err.message : String(err));
  }
}

/**
 * One DoPut or DoGet on an HTTP/2 stream, shaped as the grpc-js call the
 * handlers were written for: `request` (DoGet), 'data' / 'end' (DoPut
 * messages), write / end, `emit('error', status)`, 'drain' / 'finish' /
 * 'close' / 'cancelled', pause / resume, `cancelled`, `destroyed`.
 */
export class RawCall extends EventEmitter {
  /** The DoGet request (set before the handler runs). */
  request: { ticket: Buffer } = { ticket: NO_TICKET };
  cancelled = false;
  /** Whether the call ended without the client's END_STREAM: cut by the client, or ended by the server while still reading (a refusal, its deadline). */
  cut = false;
  private statusSent = false;
  private ended = false;
  private readonly deadline?: NodeJS.Timeout;

  constructor(
    private readonly stream: http2.ServerHttp2Stream,
    headers: http2.IncomingHttpHeaders,
  ) {
    super();
    stream.on('close', () => {
      clearTimeout(this.deadline);
      this.unreserve();
      // Closed before our status went out: the client cancelled or the connection dropped.
      if (!this.statusSent || !this.ended) this.markCancelled();
      this.emit('close');
    });
    stream.on('aborted', () => this.markCancelled());
    stream.on('error', () => this.markCancelled());
    const ms = grpcTimeoutMs(headers['grpc-timeout']);
    if (ms !== undefined) {
      this.deadline = setTimeout(() => {
        this.fail(grpc.status.DEADLINE_EXCEEDED, 'Deadline exceeded');
        this.markCancelled(); // as grpc-js does: the handler drops what the call held now
      }, ms);
      this.deadline.unref();
    }
  }

  /** Stream events passed on to listeners of the call, each once someone listens (most calls never wait for 'drain'). */
  private relayed?: Set<string>;

  override on(event: string | symbol, listener: (...args: unknown[]) => void): this {
    if (event === 'drain' || event === 'finish') {
      this.relayed ??= new Set();
      if (!this.relayed.has(event)) {
        this.relayed.add(event);
        this.stream.on(event, () => this.emit(event));
      }
    }
    return super.on(event, listener);
  }

  override addListener(event: string | symbol, listener: (...args: unknown[]) => void): this {
    return this.on(event, listener);
  }

  /**
   * Response headers go out with the first message or the status, never earlier: node:http2 resets a
   * stream that has responded (waiting for trailers) while a large request body is still arriving
   * (ENHANCE_YOUR_CALM), which cut every large put.
   */
  private responded = false;

  private respond(): void {
    if (this.responded) return;
    this.responded = true;
    this.stream.respond(RESPONSE_HEADERS, WAIT_FOR_TRAILERS);
  }

  get destroyed(): boolean {
    return this.stream.destroyed;
  }

  private markCancelled(): void {
    if (this.cancelled) return;
    this.cancelled = true;
    this.cut = true;
    this.emit('cancelled');
  }

  pause(): this {
    this.stream.pause();
    return this;
  }

  resume(): this {
    this.stream.resume();
    return this;
  }

  /** Sends one message: a FramedMessage as it is, a FlightData or PutResult framed (large bodies as their own parts). */
  write(msg: FramedMessage | OutgoingFlightData | { app_metadata: Uint8Array }): boolean {
    // Closed: reset by the client (node:http2 may deliver the end of its request before the close); respond() would throw.
    if (this.stream.destroyed || this.stream.closed || this.ended) return false;
    this.respond();
    if (msg instanceof FramedMessage) return this.stream.write(msg.bytes);
    const parts = isPutResult(msg) ? framePutResult(msg.app_metadata) : frameFlightData(msg);
    if (parts.length === 1) return this.stream.write(parts[0]);
    this.stream.cork();
    let ok = true;
    for (const p of parts) ok = this.stream.write(p);
    this.stream.uncork();
    return ok;
  }

  /** Ends the answer with status OK. */
  end(): void {
    this.finishWith(grpc.status.OK, '');
  }

  /** grpc-js's way for a handler to fail the call: `call.emit('error', status)`. */
  override emit(event: string | symbol, ...args: unknown[]): boolean {
    if (event === 'error') {
      const s = args[0] as ServiceStatus;
      this.fail(s.code ?? grpc.status.UNKNOWN, s.details ?? s.message);
      return true;
    }
    return super.emit(event, ...args);
  }

  private fail(code: grpc.status, details: string): void {
    this.finishWith(code, details);
  }

  private finishWith(code: grpc.status, details: string): void {
    if (this.ended) return;
    this.ended = true;
    this.unreserve(); // nothing more is read from this call
    clearTimeout(this.deadline);
    const stream = this.stream;
    if (stream.destroyed || stream.closed) return;
    const trailers: http2.OutgoingHttpHeaders = code === grpc.status.OK && !details ? OK_TRAILERS : { 'grpc-status': String(code) };
    if (details) trailers['grpc-message'] = grpcMessage(boundedText(details));
    if (!this.responded) {
      // Nothing sent yet: the status alone, in the response headers ("trailers-only").
      this.responded = true;
      this.statusSent = true;
      stream.respond({ ...RESPONSE_HEADERS, ...trailers }, END_STREAM);
      if (code !== grpc.status.OK) stream.resume();
      return;
    }
    stream.once('wantTrailers', () => {
      this.statusSent = true;
      stream.sendTrailers(trailers);
    });
    stream.end();
    if (code !== grpc.status.OK) {
      // A refused put: the client may still be sending; what it sends next is not read.
      stream.resume();
    }
  }

  /** Bytes of a DoPut message being gathered, charged to the put budget as they arrive, until the message is whole. */
  private reserved = 0;
  private budget?: PutBudget;

  private unreserve(): void {
    if (this.reserved === 0) return;
    this.budget!.release(this.reserved);
    this.reserved = 0;
  }

  /**
   * Reads the request stream as gRPC messages: DoPut emits each FlightData, then 'end'; DoGet sets `request`.
   * `budget` (DoPut): the bytes of a message gathered over several chunks are charged there as they arrive
   * (its announced length is not: a 5-byte prefix must not take the budget), so messages still arriving count
   * against the server-wide limit too; the put receiver charges each whole message as before, and this
   * charge is handed back just before. A DoGet's one message is a Ticket: at most MAX_TICKET_MESSAGE bytes.
   */
  readMessages(method: RawMethod, maxMessageBytes: number, ready: () => void, budget?: PutBudget): void {
    let requests = 0;
    this.budget = budget;
    const reserve = budget && method === 'DoPut'
      ? (n: number): void => {
          if (this.ended) return; // the rest of a chunk read after the call ended: dropped with the chunk
          try {
            budget.take(n, () => `DoPut message at ${this.reserved} bytes received`, this.reserved);
          } catch (err) {
            throw new CallError(grpc.status.RESOURCE_EXHAUSTED, err instanceof Error ? err.message : String(err));
          }
          this.reserved += n;
        }
      : undefined;
    const reader = new PartsReader((parts, length) => {
      if (method === 'DoPut') {
        if (this.ended) return;
        this.unreserve(); // the handler charges the whole message at once, in this same turn
        super.emit('data', decodeReceived(parts, length) satisfies ReceivedFlightData);
        return;
      }
      if (++requests === 1) this.request = { ticket: decodeTicket(parts.length === 1 ? parts[0]! : Buffer.concat(parts, length)) };
    }, method === 'DoGet' ? Math.min(maxMessageBytes, MAX_TICKET_MESSAGE) : maxMessageBytes, reserve);
    this.stream.on('data', (chunk: Buffer) => {
      if (this.ended) return;
      try {
        reader.push(chunk);
      } catch (err) {
        const e = err instanceof CallError ? err : new CallError(grpc.status.INTERNAL, err instanceof Error ? err.message : String(err));
        this.fail(e.code, e.details);
        // The handler learns that the call is over only this way: a put drops (and releases) what it held
        // now, not when its idle timer fires.
        this.markCancelled();
      }
    });
    this.stream.on('end', () => {
      if (this.ended || this.cancelled) return;
      if (reader.partial) return this.fail(grpc.status.INTERNAL, 'the request ended inside a message');
      if (method === 'DoPut') super.emit('end');
      else if (requests !== 1) this.fail(grpc.status.UNIMPLEMENTED, `DoGet takes one Ticket, got ${requests} messages`);
      else ready();
    });
  }
}

/** Answers up to this many bytes go out as one buffer. */
const JOIN_BELOW = 64 * 1024;

/**
 * A small answer as one framed message. node:http2 sends each stream write
 * that finds the session idle at once, so the two messages of a small DoGet
 * left in two TCP segments (and the client woke for each); joined, they leave
 * with the response headers. Larger answers keep their parts (no copy).
 */
export function joinSmall(messages: readonly (FramedMessage | OutgoingFlightData)[]): FramedMessage | undefined {
  const parts: Uint8Array[] = [];
  let total = 0;
  for (const m of messages) {
    for (const p of m instanceof FramedMessage ? [m.bytes] : frameFlightData(m)) {
      total += p.length;
      if (total >= JOIN_BELOW) return undefined;
      parts.push(p);
    }
  }
  return new FramedMessage(Buffer.concat(parts, total));
}

function isPutResult(msg: OutgoingFlightData | { app_metadata: Uint8Array }): msg is { app_metadata: Uint8Array } {
  return msg.app_metadata instanceof Uint8Array && !('data_header' in msg) && !('data_body' in msg) && !('flight_descriptor' in msg);
}

/** PutResult { bytes app_metadata = 1; } as one framed message. */
function framePutResult(meta: Uint8Array): Uint8Array[] {
  const lengthBytes: number[] = [];
  for (let n = meta.length; ; n = Math.floor(n / 128)) {
    if (n < 0x80) {
      lengthBytes.push(n);
      break;
    }
    lengthBytes.push((n % 128) | 0x80);
  }
  const pbLength = meta.length === 0 ? 0 : 1 + lengthBytes.length + meta.length;
  const out = Buffer.allocUnsafe(5 + pbLength);
  out[0] = 0;
  out.writeUInt32BE(pbLength, 1);
  if (pbLength > 0) {
    out[5] = 0x0a;
    out.set(lengthBytes, 6);
    out.set(meta, 6 + lengthBytes.length);
  }
  return [out];
}

/** Which raw method a stream's headers ask for, when this path can serve it as it is. */
function rawMethodOf(headers: http2.IncomingHttpHeaders): RawMethod | undefined {
  const path = headers[':path'];
  if (typeof path !== 'string' || !path.startsWith(SERVICE)) return undefined;
  const method = path.slice(SERVICE.length);
  if (method !== 'DoGet' && method !== 'DoPut') return undefined;
  return plainGrpcRequest(headers) ? method : undefined;
}

/**
 * Makes `server` hand DoGet and DoPut streams to `serve` (before it binds).
 * False when grpc-js's internals are not as expected: then grpc-js serves them.
 *
 * The streams left to grpc-js are gathered whole under its server-wide receive limit, which must stay the
 * put's for a compressed DoPut (grpc-js decodes those). Every other method's messages are small: each of
 * their calls is made with that limit lowered to `otherMaxMessage` (a compressed DoGet's to a Ticket's,
 * MAX_TICKET_MESSAGE). grpc-js reads the limit from the server's options when it makes the call,
 * synchronously inside its stream handler; when `options` is not the object expected there, those calls
 * keep the server's limit.
 */
export function takeStreams(
  server: grpc.Server,
  serve: (method: RawMethod, stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders) => void,
  otherMaxMessage: number,
): boolean {
  // The server's options with a lower receive limit, made once per limit (and again should grpc-js replace its options object).
  const lowered = new Map<number, { from: object; options: grpc.ChannelOptions }>();
  const withLimit = (options: object, limit: number): grpc.ChannelOptions => {
    let made = lowered.get(limit);
    if (made?.from !== options) {
      made = { from: options, options: { ...(options as grpc.ChannelOptions), 'grpc.max_receive_message_length': limit } };
      lowered.set(limit, made);
    }
    return made.options;
  };
  return hookStreamHandlers(server, (grpcHandler: StreamHandler): StreamHandler =>
    function (this: unknown, extraInterceptors, stream, headers) {
      const method = rawMethodOf(headers);
      if (!method) {
        const self = this as { options?: unknown };
        const options = self.options;
        // A compressed DoPut keeps the put's limit; a compressed DoGet's one message is a Ticket, as on the raw path.
        const path = headers[':path'];
        const limit = path === `${SERVICE}DoPut` ? undefined : path === `${SERVICE}DoGet` ? MAX_TICKET_MESSAGE : otherMaxMessage;
        if (limit === undefined || typeof options !== 'object' || options === null) return grpcHandler.call(this, extraInterceptors, stream, headers);
        self.options = withLimit(options, limit);
        try {
          return grpcHandler.call(this, extraInterceptors, stream, headers);
        } finally {
          self.options = options;
        }
      }
      // grpc-js counts a session's open streams for its idle timeout; it must count these too.
      countOpenStream(this, stream);
      serve(method, stream, headers);
    },
  );
}
