/**
 * Serving some gRPC calls on their HTTP/2 streams directly, beside grpc-js.
 *
 * grpc-js's server costs more per small call than the HTTP/2 under it (its interceptor chain, metadata
 * objects, per-message serializer, and the trailers sent only after the message's write has completed):
 * for the Instance service's small task, grpc-js is 0.06-0.09 ms of a call that node:http2 alone answers
 * in 0.37-0.41 (docs/instance-server-floor.md), and for the embedded cache's DoPut and DoGet more than the
 * handlers themselves (docs/cache-server-small-calls.md). grpc-js has no public hook for this:
 * `hookStreamHandlers` replaces the server's private per-stream handlers before it binds; when they are
 * missing (a grpc-js whose internals moved), it returns false and grpc-js serves every call, as before.
 * Written here for that reason; the gRPC-over-HTTP/2 rules followed are
 * https://github.com/grpc/grpc/blob/master/doc/PROTOCOL-HTTP2.md.
 */
import type http2 from 'node:http2';
import type * as grpc from '@grpc/grpc-js';
import { MAX_TIMER_MS } from '../options/values';

export const RESPONSE_HEADERS: http2.OutgoingHttpHeaders = Object.freeze({ ':status': 200, 'content-type': 'application/grpc' });
/**
 * node:http2 adds a `date` header to every response unless told not to (`sendDate`, an option its respond()
 * reads though its documentation does not list it; a Node that ignored it would send the date, as before).
 * gRPC has no use for it, and making and encoding it was a measurable part of a small call: without it a bare
 * node:http2 server answered pyarrow's 16-byte puts and gets 8-12% sooner (p50, bench/cache-floor-server.js).
 */
export const WAIT_FOR_TRAILERS = Object.freeze({ waitForTrailers: true, sendDate: false }) as http2.ServerStreamResponseOptions;
export const END_STREAM = Object.freeze({ endStream: true, sendDate: false }) as http2.ServerStreamResponseOptions;
/** grpc-status 0 (OK). */
export const OK_TRAILERS: http2.OutgoingHttpHeaders = Object.freeze({ 'grpc-status': '0' });
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/** A status's details as the grpc-message header: percent-encoded as grpc-js sends it, lone surrogates (which encodeURI refuses) made valid first. */
export function grpcMessage(details: string): string {
  return encodeURI(details.replace(LONE_SURROGATE, '\ufffd'));
}

/** grpc-js's handler of one incoming stream (`Server._streamHandler` and `_channelzHandler` in 1.x). */
export type StreamHandler = (this: unknown, extraInterceptors: unknown, stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders) => void;

/**
 * Replaces grpc-js's stream handlers of `server` (before it binds) with `wrap(grpc-js's own)`. False when
 * grpc-js's internals are not as expected; then nothing is replaced.
 */
export function hookStreamHandlers(server: grpc.Server, wrap: (grpcHandler: StreamHandler) => StreamHandler): boolean {
  const target = server as unknown as { _streamHandler?: unknown; _channelzHandler?: unknown };
  if (typeof target._streamHandler !== 'function' || typeof target._channelzHandler !== 'function') return false;
  target._streamHandler = wrap(target._streamHandler as StreamHandler);
  target._channelzHandler = wrap(target._channelzHandler as StreamHandler);
  return true;
}

/** Tells grpc-js's server (`this` of its stream handler) of a stream it will not see, so that its idle timeout counts it. */
export function countOpenStream(server: unknown, stream: http2.ServerHttp2Stream): void {
  const opened = (server as { onStreamOpened?: unknown }).onStreamOpened;
  if (typeof opened === 'function') (opened as (s: http2.ServerHttp2Stream) => void).call(server, stream);
}

/** Whether a request's headers are a gRPC call this path can serve as it is: a POST of uncompressed protobuf messages. */
export function plainGrpcRequest(headers: http2.IncomingHttpHeaders): boolean {
  if (headers[':method'] !== 'POST') return false;
  const type = headers['content-type'];
  if (type !== 'application/grpc' && type !== 'application/grpc+proto') return false;
  // A compressed request is grpc-js's to decode.
  const encoding = headers['grpc-encoding'];
  return encoding === undefined || encoding === 'identity';
}

/**
 * grpc-timeout (PROTOCOL-HTTP2: up to 8 digits and a unit) in milliseconds; undefined when absent or malformed,
 * and when longer than a timer can hold (24.8 days; "99999999H" is valid): no deadline within a process's reach,
 * where a timer would fire at once (grpc-js's own server truncates such a timeout to 32 bits).
 */
export function grpcTimeoutMs(value: string | string[] | undefined): number | undefined {
  if (typeof value !== 'string') return undefined;
  const m = /^(\d{1,8})([HMSmun])$/.exec(value);
  if (!m) return undefined;
  const scale = { H: 3_600_000, M: 60_000, S: 1000, m: 1, u: 1e-3, n: 1e-6 }[m[2] as 'H'];
  const ms = Number(m[1]) * scale;
  return ms > MAX_TIMER_MS ? undefined : ms;
}
