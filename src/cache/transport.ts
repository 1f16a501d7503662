/**
 * DoPut and DoGet straight over node:http2: the cache client's hot path.
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
 * One HTTP/2 session per endpoint, reused; a session that failed, got GOAWAY or
 * closed is dropped, and the next call opens a fresh one (so a cache restarted
 * on the same address is reached by the very next call, with no backoff).
 */
import http2 from 'node:http2';
import net from 'node:net';
import tls from 'node:tls';
import { Status } from '@grpc/grpc-js/build/src/constants';
import { bytesFieldOne, decodeFlightData, encodeFlightData, encodeFramedFlightData, type FlightData, type OutgoingFlightData } from './flight-data';
import type { CacheEndpoint } from './endpoint';
import { errnoOf } from '../util/errno';
import { CallError } from './call-error';
import { MessageReader } from './grpc-messages';

export { CallError };

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

/** A received gRPC message: its bytes, and the chunk slices they were copied from when gathered from several. */
export interface RawMessage {
  bytes: Buffer;
  parts?: Buffer[];
}

export interface CallOptions {
  deadlineMs: number;
}

/** The HTTP/2 sessions of one CacheClient, by endpoint. */
export class Http2Transport {
  private readonly sessions = new Map<string, http2.ClientHttp2Session>();
  private closed = false;

  constructor(private readonly ca: (endpoint: CacheEndpoint) => Buffer | undefined) {}

  close(): void {
    this.closed = true;
    for (const s of this.sessions.values()) s.destroy();
    this.sessions.clear();
  }

  /**
   * DoGet: the answer's messages, decoded (byte fields are views into the received messages), each
   * with its raw bytes and, with `keepParts` (for a caller that keeps answers), the chunk slices they
   * were copied from (see MessageReader).
   */
  async doGet(
    endpoint: CacheEndpoint,
    ticket: Uint8Array,
    opts: CallOptions,
    onMessage: (m: FlightData, raw: RawMessage) => void | Promise<void>,
    keepParts = false,
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
    await this.call(
      endpoint,
      'DoGet',
      opts,
      (stream) => void stream.end(message),
      (m, parts) => onMessage(decodeFlightData(m), { bytes: m, parts }),
      keepParts,
    );
  }

  /** DoPut: writes the messages, answers the PutResult app_metadata of each result message. */
  async doPut(
    endpoint: CacheEndpoint,
    messages: Iterable<OutgoingFlightData> | AsyncIterable<OutgoingFlightData>,
    opts: CallOptions,
  ): Promise<Buffer[]> {
    const results: Buffer[] = [];
    await this.call(
      endpoint,
      'DoPut',
      opts,
      (stream, failed) => {
        if (Symbol.iterator in messages) {
          // In memory: every frame handed over at once, the last through end(), so that node:http2
          // sends them in one write with END_STREAM on the last DATA frame. Writing them one by one
          // costs a round of the event loop per message: Writable holds each write back until the
          // previous one's callback, which comes after the socket write.
          const parts = coalesce(messages);
          if (parts.length === 1) return void stream.end(parts[0]);
          const last = parts.pop();
          stream.cork();
          for (const p of parts) stream.write(p);
          stream.end(last);
          return;
        }
        return streamMessages(stream, messages, failed);
      },
      (m) => {
        results.push(putResultMetadata(m));
      },
    );
    return results;
  }

  private session(endpoint: CacheEndpoint): http2.ClientHttp2Session {
    if (this.closed) throw new CallError(Status.UNAVAILABLE, 'the cache client is closed');
    const existing = this.sessions.get(endpoint.canonical);
    if (existing && !existing.closed && !existing.destroyed) return existing;
    const authority = `${endpoint.tls ? 'https' : 'http'}://${endpoint.target}`;
    const { hostname, port } = new URL(authority);
    const host = hostname.replace(/^\[(.*)\]$/, '$1');
    const ca = endpoint.tls ? this.ca(endpoint) : undefined;
    const session = http2.connect(authority, {
      // The largest frames HTTP/2 allows: a large answer arrives in a fifth as many 'data' events as with
      // the 16 KiB default (measured on a 64 MiB get: ~15% less CPU).
      settings: { initialWindowSize: WINDOW, enablePush: false, maxFrameSize: MAX_FRAME },
      // Small requests must not wait for Nagle's algorithm.
      createConnection: () => {
        const socket = net.connect({ host, port: Number(port), noDelay: true });
        if (!endpoint.tls) return socket;
        return tls.connect({ socket, host, ca, ALPNProtocols: ['h2'], servername: net.isIP(host) ? undefined : host });
      },
    });
    // The session window must not hold back large answers either.
    session.once('connect', () => session.setLocalWindowSize(WINDOW));
    const forget = (): void => {
      if (this.sessions.get(endpoint.canonical) === session) this.sessions.delete(endpoint.canonical);
    };
    session.on('error', forget); // each stream reports its own failure
    session.once('goaway', forget);
    session.once('close', forget);
    // An idle cached session must not keep the process alive.
    session.unref();
    this.sessions.set(endpoint.canonical, session);
    return session;
  }

  private call(
    endpoint: CacheEndpoint,
    method: 'DoGet' | 'DoPut',
    opts: CallOptions,
    send: (stream: http2.ClientHttp2Stream, failed: () => Promise<void>) => Promise<void> | void,
    onMessage: (m: Buffer, parts?: Buffer[]) => void | Promise<void>,
    keepParts = false,
  ): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      let session: http2.ClientHttp2Session;
      try {
        session = this.session(endpoint);
      } catch (err) {
        reject(err);
        return;
      }
      let settled = false;
      // Made only when a streamed put waits for 'drain': most calls never need it.
      let failedPromise: Promise<void> | undefined;
      let onFailed: (() => void) | undefined;
      const failed = (): Promise<void> => (failedPromise ??= settled ? Promise.resolve() : new Promise<void>((r) => (onFailed = r)));
      let stream: http2.ClientHttp2Stream;
      try {
        stream = session.request(requestHeaders(method, opts.deadlineMs), REQUEST_OPTIONS);
      } catch (err) {
        // A session going away under us (GOAWAY, out of stream ids): the next call opens a fresh one.
        session.destroy();
        reject(new CallError(Status.UNAVAILABLE, errorText(err)));
        return;
      }
      // The deadline timer also keeps the process alive while the call is open (the session itself is unref'd).
      const timer = setTimeout(() => finish(new CallError(Status.DEADLINE_EXCEEDED, `deadline of ${opts.deadlineMs} ms exceeded`)), opts.deadlineMs);
      const finish = (err?: unknown): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        onFailed?.();
        if (err !== undefined) {
          if (!stream.destroyed) stream.close(http2.constants.NGHTTP2_CANCEL);
          reject(err);
        } else resolve();
      };
      let httpCode = 0;
      let grpcStatus: string | undefined;
      let grpcMessage = '';
      const takeStatus = (h: http2.IncomingHttpHeaders): void => {
        const s = h['grpc-status'];
        if (typeof s === 'string') {
          grpcStatus = s;
          const m = h['grpc-message'];
          grpcMessage = typeof m === 'string' ? decodeGrpcMessage(m) : '';
        }
      };
      stream.on('response', (h) => {
        httpCode = Number(h[':status']);
        takeStatus(h);
      });
      stream.on('trailers', takeStatus);
      // Messages are handed on in order. A synchronous handler (a get into memory, a put's result) is
      // called as each message completes; an async one (writing a file) holds the next one back.
      let chain: Promise<void> | undefined;
      const deliver = (m: Buffer, parts?: Buffer[]): void => {
        if (chain) {
          chain = chain.then(() => (settled ? undefined : onMessage(m, parts))).catch((err: unknown) => finish(err));
          return;
        }
        let pending: void | Promise<void>;
        try {
          pending = onMessage(m, parts);
        } catch (err) {
          return finish(err); // the caller's own error (a refused answer) as it is
        }
        if (pending instanceof Promise) chain = pending.catch((err: unknown) => finish(err));
      };
      const reader = new MessageReader(
        (m, parts) => {
          if (!settled) deliver(m, parts);
        },
        Infinity,
        keepParts,
      );
      stream.on('data', (chunk: Buffer) => {
        try {
          reader.push(chunk);
        } catch (err) {
          finish(err instanceof CallError ? err : new CallError(Status.INTERNAL, errorText(err)));
        }
      });
      stream.on('error', (err: Error) => {
        // A reset after the status arrived (a server refusing a put mid-stream): the status is the answer.
        if (grpcStatus !== undefined) return;
        finish(new CallError(Status.UNAVAILABLE, `${errnoOf(err) ?? 'stream error'}: ${err.message}`));
      });
      const closed = (): void => {
        if (settled) return;
        if (httpCode !== 0 && httpCode !== 200) return finish(new CallError(httpStatus(httpCode), `the server answered HTTP ${httpCode}`));
        if (grpcStatus === undefined) {
          const why = stream.rstCode && stream.rstCode !== http2.constants.NGHTTP2_NO_ERROR ? `stream reset (code ${stream.rstCode})` : 'connection closed';
          return finish(new CallError(Status.UNAVAILABLE, `${why} before the call's status`));
        }
        const code = Number(grpcStatus);
        if (code !== Status.OK) return finish(new CallError(code as Status, grpcMessage));
        if (reader.partial) return finish(new CallError(Status.INTERNAL, 'the answer ended inside a message'));
        finish();
      };
      stream.on('close', () => {
        if (settled) return;
        // After the last message's handler, when one is still at work.
        if (chain) void chain.then(closed);
        else closed();
      });
      const failSend = (err: unknown): void => {
        // The caller's messages failed to come (an upload's file read): cancel, report it as the caller's error.
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        onFailed?.();
        if (!stream.destroyed) stream.close(http2.constants.NGHTTP2_CANCEL);
        reject(err);
      };
      let sending: Promise<void> | void;
      try {
        sending = send(stream, failed);
      } catch (err) {
        return failSend(err);
      }
      if (sending) sending.catch(failSend);
    });
  }
}

/** An upload: one message at a time, waiting for the window when the stream asks to. */
async function streamMessages(stream: http2.ClientHttp2Stream, messages: AsyncIterable<OutgoingFlightData>, failed: () => Promise<void>): Promise<void> {
  for await (const m of messages) {
    if (stream.destroyed) return;
    let ok = true;
    stream.cork();
    for (const p of frameFlightData(m)) ok = stream.write(p);
    stream.uncork();
    if (!ok) await Promise.race([new Promise((r) => stream.once('drain', r)), failed()]);
  }
  if (!stream.destroyed) stream.end();
}

const REQUEST_OPTIONS: http2.ClientSessionRequestOptions = { endStream: false };
const PATHS = { DoGet: `${SERVICE}/DoGet`, DoPut: `${SERVICE}/DoPut` } as const;

/** The request's headers; node:http2 copies them, so nothing here is kept per call. */
function requestHeaders(method: 'DoGet' | 'DoPut', deadlineMs: number): http2.OutgoingHttpHeaders {
  return {
    ':method': 'POST',
    ':path': PATHS[method],
    'content-type': 'application/grpc',
    te: 'trailers',
    'grpc-timeout': grpcTimeout(deadlineMs),
  };
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
