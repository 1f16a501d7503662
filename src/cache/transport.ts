/**
 * DoPut and DoGet over our own minimal HTTP/2 client (./h2): the cache client's hot path.
 *
 * Why by hand: grpc-js spends ~0.3 ms of JavaScript per call (its call stack of
 * filters, resolver and load-balancer hooks, metadata objects) before a byte
 * leaves, and it frames every message into one new buffer (a full copy of the
 * object on put). Measured in bench/cache.ts, this path is what pyarrow's C++
 * client is measured against. gRPC over HTTP/2 is small for these two calls: a
 * POST with four headers, 5-byte length-prefixed messages, and the status in
 * the trailers (https://github.com/grpc/grpc/blob/master/doc/PROTOCOL-HTTP2.md).
 * Connect's Node transport would do the framing too, but takes its messages
 * through protobuf-es schemas and copies each into one buffer, which is the copy
 * this module exists to avoid. Every other Flight call stays on grpc-js.
 *
 * One HTTP/2 connection per endpoint, reused; a connection that failed, got GOAWAY or
 * closed is dropped, and the next call opens a fresh one (so a cache restarted
 * on the same address is reached by the very next call, with no backoff).
 */
import net from 'node:net';
import tls from 'node:tls';
import { Status } from '@grpc/grpc-js/build/src/constants';
import { bytesFieldOne, decodeFlightData, encodeFlightData, encodeFramedFlightData, type FlightData, type OutgoingFlightData } from './flight-data';
import type { CacheEndpoint } from './endpoint';
import { CallError } from './call-error';
import { MessageReader } from './grpc-messages';
import { CACHE_KEEPALIVE_MS } from '../options/serve';
import { MAX_TIMER_MS } from '../options/values';

export { CallError };
import { H2Connection, READ_SCRATCH_BYTES, type H2Stream, type StreamEvents } from './h2/connection';
import { encodeHeaders } from './h2/hpack';

const SERVICE = '/arrow.flight.protocol.FlightService';
/** Objects travel as one message: a receive window this large lets a 32 MiB answer arrive without waiting for WINDOW_UPDATEs. */
const WINDOW = 32 * 1024 * 1024;
/** SETTINGS_MAX_FRAME_SIZE's upper bound (RFC 9113 §6.5.2). */
const MAX_FRAME = 2 ** 24 - 1;
/** Bodies at least this large are written as their own parts, not copied into one framed buffer. */
const COPY_BELOW = 64 * 1024;

/** HTTP status to gRPC status, when a proxy or a non-gRPC server answered (PROTOCOL-HTTP2 / http-grpc-status-mapping). */
function httpStatus(code: number): Status {
  if (code === 400) return Status.INTERNAL;
  if (code === 401) return Status.UNAUTHENTICATED;
  if (code === 403) return Status.PERMISSION_DENIED;
  if (code === 404) return Status.UNIMPLEMENTED;
  if (code === 429 || code === 502 || code === 503 || code === 504) return Status.UNAVAILABLE;
  return Status.UNKNOWN;
}

function grpcTimeout(ms: number): string {
  // At most 8 digits (the spec's limit): whole seconds past that.
  return ms < 1e8 ? `${Math.max(1, Math.ceil(ms))}m` : `${Math.ceil(ms / 1000)}S`;
}

function decodeGrpcMessage(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/** Frames an outgoing FlightData: 5-byte gRPC prefix and the protobuf, large bodies as parts of their own (not copied). */
export function frameFlightData(msg: OutgoingFlightData): Uint8Array[] {
  const parts = msg.data_body === undefined ? [] : msg.data_body instanceof Uint8Array ? [msg.data_body] : msg.data_body;
  let bodyLength = 0;
  for (const p of parts) bodyLength += p.length;
  if (bodyLength < COPY_BELOW) return [encodeFramedFlightData(msg)];
  const head = encodeFlightData({ ...msg, data_body: undefined });
  // data_body is field 1000, length-delimited: tag (1000 << 3) | 2 = varint 0xc2 0x3e, then the length.
  const lengthBytes: number[] = [];
  for (let n = bodyLength; ; n = Math.floor(n / 128)) {
    if (n < 0x80) {
      lengthBytes.push(n);
      break;
    }
    lengthBytes.push((n % 128) | 0x80);
  }
  const total = head.length + 2 + lengthBytes.length + bodyLength;
  if (total > 0xffffffff) throw new CallError(Status.RESOURCE_EXHAUSTED, `a FlightData of ${total} bytes exceeds gRPC's 4 GiB message limit`);
  const prefix = Buffer.allocUnsafe(5 + head.length + 2 + lengthBytes.length);
  prefix[0] = 0;
  prefix.writeUInt32BE(total, 1);
  prefix.set(head, 5);
  let pos = 5 + head.length;
  prefix[pos++] = 0xc2;
  prefix[pos++] = 0x3e;
  prefix.set(lengthBytes, pos);
  return [prefix, ...parts];
}

/**
 * The framed messages of an in-memory put, small neighbours joined into one buffer: a small put
 * (schema and one row) is one write of one buffer, with no writev of many pieces; large bodies
 * stay the caller's own buffers.
 */
function coalesce(messages: Iterable<OutgoingFlightData>): Uint8Array[] {
  const out: Uint8Array[] = [];
  let run: Uint8Array[] = [];
  let runBytes = 0;
  const flush = (): void => {
    if (run.length === 1) out.push(run[0]!);
    else if (run.length > 1) out.push(Buffer.concat(run, runBytes));
    run = [];
    runBytes = 0;
  };
  for (const m of messages) {
    for (const p of frameFlightData(m)) {
      if (p.length >= COPY_BELOW) {
        flush();
        out.push(p);
      } else {
        run.push(p);
        runBytes += p.length;
      }
    }
  }
  flush();
  return out;
}

/** A received gRPC message's bytes: memory of its own, which nothing else holds or reuses. */
export interface RawMessage {
  bytes: Buffer;
}

export interface CallOptions {
  deadlineMs: number;
}

export interface KeepaliveOptions {
  /** With calls open and nothing read for this long, the connection is sent a PING; 0: never. */
  keepaliveMs: number;
  /** A PING followed by this long with nothing read fails the connection (its calls UNAVAILABLE). */
  keepaliveTimeoutMs: number;
}

/**
 * grpc's own keepalive (A8) leaves the interval to the user and waits 20 s for the ACK; 10 s each
 * here, so a connection that went silent under a call with the default 30 s deadline is found dead
 * (at 20-30 s) before that deadline ends, and dropped for the next call. 10 s is also the shortest
 * interval grpc-java lets a client use.
 */
export const DEFAULT_KEEPALIVE: KeepaliveOptions = { keepaliveMs: CACHE_KEEPALIVE_MS, keepaliveTimeoutMs: CACHE_KEEPALIVE_MS };

/** The HTTP/2 connections of one CacheClient, by endpoint. */
export class Http2Transport {
  private readonly connections = new Map<string, { conn: H2Connection; headers: RequestHeaders }>();
  private closed = false;
  /**
   * The keepalive interval new connections to an endpoint start with (keepalive.keepaliveMs unless
   * that server said too_many_pings, grpc A8): doubled from the interval the scolded connection started
   * with, so connections scolded together double it once; per endpoint, so one strict server does not
   * slow the keepalive of the others.
   */
  private readonly intervals = new Map<string, number>();

  constructor(
    private readonly ca: (endpoint: CacheEndpoint) => Buffer | undefined,
    private readonly keepalive: KeepaliveOptions = DEFAULT_KEEPALIVE,
  ) {}

  /** The keepalive interval a new connection to `endpoint` starts with. */
  keepaliveStartOf(endpoint: CacheEndpoint): number {
    return this.intervals.get(endpoint.canonical) ?? this.keepalive.keepaliveMs;
  }

  /** The current keepalive interval of the connection to `endpoint`, if there is one (it backs off on a silent call). */
  keepaliveIntervalOf(endpoint: CacheEndpoint): number | undefined {
    return this.connections.get(endpoint.canonical)?.conn.keepaliveIntervalMs;
  }

  close(): void {
    this.closed = true;
    const all = [...this.connections.values()];
    this.connections.clear();
    for (const c of all) c.conn.close();
  }

  /** DoGet: the answer's messages, decoded (byte fields are views into the received messages), each with its raw bytes. */
  async doGet(
    endpoint: CacheEndpoint,
    ticket: Uint8Array,
    opts: CallOptions,
    onMessage: (m: FlightData, raw: RawMessage) => void | Promise<void>,
  ): Promise<void> {
    // Ticket { bytes ticket = 1; }, framed, in one buffer.
    const framed = Buffer.allocUnsafe(5 + 1 + 5 + ticket.length);
    let pos = 5;
    framed[pos++] = 0x0a;
    for (let n = ticket.length; ; n = Math.floor(n / 128)) {
      if (n < 0x80) {
        framed[pos++] = n;
        break;
      }
      framed[pos++] = (n % 128) | 0x80;
    }
    framed.set(ticket, pos);
    pos += ticket.length;
    framed[0] = 0;
    framed.writeUInt32BE(pos - 5, 1);
    const message = framed.subarray(0, pos);
    await this.call(endpoint, 'DoGet', opts, [message], undefined, (m) => onMessage(decodeFlightData(m), { bytes: m }));
  }

  /** DoPut: writes the messages, answers the PutResult app_metadata of each result message. */
  async doPut(
    endpoint: CacheEndpoint,
    messages: Iterable<OutgoingFlightData> | AsyncIterable<OutgoingFlightData>,
    opts: CallOptions,
  ): Promise<Buffer[]> {
    const results: Buffer[] = [];
    const onResult = (m: Buffer): void => {
      results.push(putResultMetadata(m));
    };
    if (Symbol.iterator in messages) {
      // In memory: every frame handed over with the HEADERS, so a small put is one socket write.
      await this.call(endpoint, 'DoPut', opts, coalesce(messages), undefined, onResult);
    } else {
      await this.call(endpoint, 'DoPut', opts, [], (stream, failed) => streamMessages(stream, messages, failed), onResult);
    }
    return results;
  }

  private connection(endpoint: CacheEndpoint): { conn: H2Connection; headers: RequestHeaders } {
    if (this.closed) throw new CallError(Status.UNAVAILABLE, 'the cache client is closed');
    const existing = this.connections.get(endpoint.canonical);
    if (existing?.conn.usable) return existing;
    const { hostname, port } = new URL(`${endpoint.tls ? 'https' : 'http'}://${endpoint.target}`);
    const host = hostname.replace(/^\[(.*)\]$/, '$1');
    const defaultPort = endpoint.tls ? 443 : 80;
    // Before any socket: an unreadable CA file fails the call with no connection left behind.
    const ca = endpoint.tls ? this.ca(endpoint) : undefined;
    // Small requests must not wait for Nagle's algorithm.
    // Plain TCP reads through `onread` (see H2Connection.readBuffer); the TLS layer must read its raw socket itself.
    let conn: H2Connection | undefined;
    const readScratch = endpoint.tls ? undefined : Buffer.allocUnsafeSlow(READ_SCRATCH_BYTES);
    const onread = readScratch && {
      buffer: (): Buffer => conn?.readBuffer() ?? readScratch,
      callback: (n: number, buf: Uint8Array): boolean => conn?.readDone(n, buf) ?? false,
    };
    const raw = net.connect({ host, port: port === '' ? defaultPort : Number(port), noDelay: true, onread });
    let socket: net.Socket | tls.TLSSocket = raw;
    if (endpoint.tls) {
      const secure = tls.connect({ socket: raw, host, ca, ALPNProtocols: ['h2'], servername: net.isIP(host) ? undefined : host });
      secure.once('secureConnect', () => {
        if (secure.alpnProtocol !== 'h2') {
          secure.destroy(new Error(`the server does not offer HTTP/2 over TLS (ALPN: ${String(secure.alpnProtocol)})`));
        }
      });
      // The raw socket's own failures (a refused connect) reach the connection through the TLS socket.
      raw.on('error', (err) => secure.destroy(err));
      socket = secure;
    }
    const options = { window: WINDOW, maxFrame: MAX_FRAME, target: endpoint.target, keepaliveMs: this.keepaliveStartOf(endpoint), keepaliveTimeoutMs: this.keepalive.keepaliveTimeoutMs, readScratch };
    const entry = {
      conn: (conn = new H2Connection(socket, options, () => {
        if (this.connections.get(endpoint.canonical) === entry) this.connections.delete(endpoint.canonical);
        if (entry.conn.tooManyPings) {
          const doubled = Math.min(MAX_TIMER_MS, entry.conn.options.keepaliveMs * 2);
          this.intervals.set(endpoint.canonical, Math.max(this.keepaliveStartOf(endpoint), doubled));
        }
      })),
      headers: new RequestHeaders(endpoint.tls ? 'https' : 'http', endpoint.target),
    };
    // An idle cached connection must not keep the process alive (an open call's deadline timer does).
    raw.unref();
    socket.unref();
    this.connections.set(endpoint.canonical, entry);
    return entry;
  }

  /**
   * One call. A request the server did not process (REFUSED_STREAM, above a GOAWAY's last stream id,
   * never sent: RFC 9113 §8.7) is sent once more, within the same deadline, when it is all in `first`
   * (a get, an in-memory put); a streamed one (`more`) was consumed and fails UNAVAILABLE. `deadlineAt`
   * is the first attempt's end, for the second.
   */
  private call(
    endpoint: CacheEndpoint,
    method: 'DoGet' | 'DoPut',
    opts: CallOptions,
    first: Uint8Array[],
    more: ((stream: H2Stream, failed: () => Promise<void>) => Promise<void>) | undefined,
    onMessage: (m: Buffer) => void | Promise<void>,
    deadlineAt?: number,
  ): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      let conn: { conn: H2Connection; headers: RequestHeaders };
      try {
        conn = this.connection(endpoint);
      } catch (err) {
        reject(err);
        return;
      }
      let settled = false;
      // Made only when a streamed put waits for the windows: most calls never need it.
      let failedPromise: Promise<void> | undefined;
      let onFailed: (() => void) | undefined;
      const failed = (): Promise<void> => (failedPromise ??= settled ? Promise.resolve() : new Promise<void>((r) => (onFailed = r)));
      // The deadline timer also keeps the process alive while the call is open (the socket is unref'd).
      const startedAt = deadlineAt === undefined ? performance.now() : 0;
      // A second attempt has what is left of the first one's time (its message names the call's deadline).
      const timeoutMs = deadlineAt === undefined ? opts.deadlineMs : Math.max(1, deadlineAt - performance.now());
      const timer = setTimeout(() => {
        // A silent server, or a dead connection: found out now rather than by the next call's deadline.
        conn.conn.probe();
        finish(new CallError(Status.DEADLINE_EXCEEDED, `deadline of ${opts.deadlineMs} ms exceeded`));
      }, timeoutMs);
      const finish = (err?: unknown): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        onFailed?.();
        if (err !== undefined) {
          stream.cancel();
          reject(err);
        } else resolve();
      };
      /** The answer's :status: 0 while none came, -1 when it was not a 3-digit HTTP status (then httpText says what came). */
      let httpCode = 0;
      let httpText = '';
      let grpcStatus: string | undefined;
      let grpcMessage = '';
      let headersSeen = false;
      // Messages are handed on in order. A synchronous handler (a get into memory, a put's result) is
      // called as each message completes; an async one (writing a file) holds the next one back, and
      // the stream's receive window is given back only as messages are dealt with.
      let chain: Promise<void> | undefined;
      const deliver = (m: Buffer): void => {
        if (chain) {
          chain = chain.then(() => (settled ? undefined : onMessage(m))).catch((err: unknown) => finish(err));
          return;
        }
        let pending: void | Promise<void>;
        try {
          pending = onMessage(m);
        } catch (err) {
          return finish(err); // the caller's own error (a refused answer) as it is
        }
        if (pending instanceof Promise) chain = pending.catch((err: unknown) => finish(err));
      };
      // Messages in memory of their own: the connection reuses its read buffer (see H2Connection.readBuffer).
      const reader = new MessageReader(
        (m) => {
          if (!settled) deliver(m);
        },
        Infinity,
        true,
      );
      const closed = (): void => {
        if (settled) return;
        // RFC 9113 §8.3.2: every response carries :status; an answer without a valid one is malformed.
        if (headersSeen && httpCode <= 0) {
          return finish(new CallError(Status.INTERNAL, httpCode === 0 ? "the server's answer has no :status" : `the server's answer has :status ${JSON.stringify(httpText.slice(0, 40))}, not an HTTP status`));
        }
        if (httpCode !== 0 && httpCode !== 200) return finish(new CallError(httpStatus(httpCode), `the server answered HTTP ${httpCode}`));
        if (grpcStatus === undefined) return finish(new CallError(Status.UNAVAILABLE, "the stream ended before the call's status"));
        // grpc-status is digits (PROTOCOL-HTTP2) naming a known code; anything else is taken as UNKNOWN, and the words
        // say what the server sent: Number() alone made '' OK, 'abc' NaN, and a status without grpc-message had no words.
        if (!/^[0-9]+$/.test(grpcStatus) || Status[Number(grpcStatus)] === undefined) {
          return finish(new CallError(Status.UNKNOWN, `the server sent grpc-status ${JSON.stringify(grpcStatus.slice(0, 40))}, not a gRPC status code${grpcMessage ? `: ${grpcMessage}` : ''}`));
        }
        const code = Number(grpcStatus) as Status;
        if (code !== Status.OK) return finish(new CallError(code, grpcMessage || `the server ended the call with ${Status[code]} and no grpc-message`));
        if (reader.partial) return finish(new CallError(Status.INTERNAL, 'the answer ended inside a message'));
        finish();
      };
      const events: StreamEvents = {
        onHeaders: (list) => {
          let informational = false;
          for (let i = 0; i < list.length; i += 2) {
            const name = list[i]!;
            if (!headersSeen && name === ':status') {
              httpText = list[i + 1]!;
              httpCode = /^[1-5][0-9][0-9]$/.test(httpText) ? Number(httpText) : -1;
              // A 1xx block (RFC 9110 §15.2) comes before the response itself: the next block is the answer.
              informational = httpCode >= 100 && httpCode < 200;
            } else if (name === 'grpc-status') grpcStatus = list[i + 1];
            else if (name === 'grpc-message') grpcMessage = decodeGrpcMessage(list[i + 1]!);
          }
          if (!informational) headersSeen = true;
        },
        onData: (chunk) => {
          if (settled) return;
          try {
            reader.push(chunk);
          } catch (err) {
            return finish(err instanceof CallError ? err : new CallError(Status.INTERNAL, errorText(err)));
          }
          if (!chain) stream.consumed(chunk.length);
          else {
            const n = chunk.length;
            chain = chain.then(() => stream.consumed(n));
          }
        },
        target: (max) => (settled ? undefined : reader.target(max)),
        onEnd: () => {
          if (settled) return;
          // After the last message's handler, when one is still at work.
          if (chain) void chain.then(closed);
          else closed();
        },
        onFail: (status, message, rstCode, unprocessed) => {
          if (settled) return;
          // A reset after the status arrived (a server refusing a put mid-stream): the status is the answer.
          if (grpcStatus !== undefined) return closed();
          // Only before any answer: a server that answered and then refuses is not taken at its word.
          if (unprocessed && !more && deadlineAt === undefined && !headersSeen && httpCode === 0) {
            settled = true;
            clearTimeout(timer);
            // On a fresh connection after GOAWAY (this one is no longer usable), on this one after REFUSED_STREAM.
            resolve(this.call(endpoint, method, opts, first, undefined, onMessage, startedAt + opts.deadlineMs));
            return;
          }
          const why = rstCode === undefined ? message : `${message} before the call's status`;
          finish(new CallError(status, unprocessed && more ? `${why}; not sent again: a streamed put cannot be replayed` : why));
        },
      };
      const stream = conn.conn.open(conn.headers.block(method, timeoutMs), events, first, more === undefined);
      if (!more) return;
      const failSend = (err: unknown): void => {
        // The caller's messages failed to come (an upload's file read): cancel, report it as the caller's error.
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        onFailed?.();
        stream.cancel();
        reject(err);
      };
      more(stream, failed).catch(failSend);
    });
  }
}

/** An upload: one message at a time, waiting for the windows when the stream asks to. */
async function streamMessages(stream: H2Stream, messages: AsyncIterable<OutgoingFlightData>, failed: () => Promise<void>): Promise<void> {
  for await (const m of messages) {
    if (stream.done) return;
    if (!stream.write(frameFlightData(m), false)) {
      await Promise.race([new Promise<void>((r) => (stream.onDrain = r)), failed()]);
    }
  }
  stream.write([], true);
}

/**
 * The request's header block: the constant part encoded once per connection, the timeout appended
 * per call (RFC 7541 literals, no indexing, so no encoder state).
 */
class RequestHeaders {
  private readonly fixed: Record<'DoGet' | 'DoPut', Buffer>;

  constructor(scheme: string, authority: string) {
    const common = (path: string): Buffer =>
      encodeHeaders([
        [':method', 'POST'],
        [':scheme', scheme],
        [':path', path],
        [':authority', authority],
        ['content-type', 'application/grpc'],
        ['te', 'trailers'],
      ]);
    this.fixed = { DoGet: common(`${SERVICE}/DoGet`), DoPut: common(`${SERVICE}/DoPut`) };
  }

  block(method: 'DoGet' | 'DoPut', deadlineMs: number): Buffer {
    return Buffer.concat([this.fixed[method], encodeHeaders([['grpc-timeout', grpcTimeout(deadlineMs)]])]);
  }
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** app_metadata (field 1) of a PutResult (a view); a malformed one is the server's fault (INTERNAL). */
function putResultMetadata(m: Buffer): Buffer {
  try {
    return bytesFieldOne(m, 'PutResult');
  } catch (err) {
    throw new CallError(Status.INTERNAL, errorText(err));
  }
}
