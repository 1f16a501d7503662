/**
 * OnTaskInvoke served on its HTTP/2 stream directly, beside grpc-js (src/util/grpc-streams.ts says why: on
 * a small task grpc-js's own work was 60-70 µs of serve's CPU and 0.04-0.07 ms of the task's p50 as a
 * grpcio client sees it; docs/instance-server-floor.md). Every other method, and a task whose request this
 * path does not take as it is (a compressed one), stays with grpc-js.
 *
 * What grpc-js did for these calls is done here, as grpc-js does it:
 * - the receive gate (receive-gate.ts): the body is read only at the call's turn, a task whose message
 *   prefix announces more than the bound allows is answered code 3 before its body is read, and a client
 *   that stops sending keeps the turn for readTimeoutMs at most;
 * - the deadline (`grpc-timeout`): when it passes before the answer, the call ends with DEADLINE_EXCEEDED
 *   and the handler sees it cancelled; a stream closed or reset before the answer is cancelled too;
 * - one message per request, uncompressed, decoded with the service's own deserializer; anything else ends
 *   the call with INTERNAL and a reason, and the instance serves on (bytes past the one message are answered
 *   when they arrive and dropped, as grpc-js answers a second message, so nothing beyond it is held);
 * - the answer: HEADERS, the one message, and the status in the trailers; an error as a trailers-only answer.
 */
import http2 from 'node:http2';
import { EventEmitter } from 'node:events';
import * as grpc from '@grpc/grpc-js';
import { ReturnCode } from '../errors';
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
} from '../util/grpc-streams';
import type { InstanceHandlers } from './protos';
import type { TaskResult as TaskResultIn } from '../generated/flame/flame/v1/TaskResult';
import { REFUSED_STREAM_LINGER_MS, type ReceiveGate } from './receive-gate';

type TaskHandler = InstanceHandlers['OnTaskInvoke'];

const PREFIX = 5;
const drop = (): void => undefined;

/** The part of grpc-js's unary call object the task handler uses (instance-service.ts `answer`). */
class RawTaskCall extends EventEmitter {
  cancelled = false;

  constructor(
    readonly request: unknown,
    private readonly deadline: Date | number,
  ) {
    super();
  }

  getDeadline(): Date | number {
    return this.deadline;
  }

  cancel(): void {
    if (this.cancelled) return;
    this.cancelled = true;
    this.emit('cancelled');
  }
}

/**
 * Makes `server` (before it binds) hand OnTaskInvoke streams of the given method definitions (by path) to
 * `handler`, through `gate`. False when grpc-js's internals are not as expected: then grpc-js serves them.
 */
export function serveTasksOnStreams(server: grpc.Server, methods: ReadonlyMap<string, grpc.MethodDefinition<unknown, unknown>>, handler: TaskHandler, gate: ReceiveGate): boolean {
  return hookStreamHandlers(server, (grpcHandler: StreamHandler): StreamHandler =>
    function (this: unknown, extraInterceptors, stream, headers) {
      const path = headers[':path'];
      const method = typeof path === 'string' ? methods.get(path) : undefined;
      if (!method || !plainGrpcRequest(headers)) return grpcHandler.call(this, extraInterceptors, stream, headers);
      // grpc-js counts a session's open streams for its idle timeout; it must count these too.
      countOpenStream(this, stream);
      serveTask(stream, headers, method, handler, gate);
    },
  );
}

function serveTask(stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders, method: grpc.MethodDefinition<unknown, unknown>, handler: TaskHandler, gate: ReceiveGate): void {
  let answered = false;
  let call: RawTaskCall | undefined;
  let deadlineTimer: NodeJS.Timeout | undefined;
  const chunks: Buffer[] = [];
  let size = 0;
  /** Where the request's one message ends in its body, once its prefix is read (Infinity until then). */
  let messageEnd = Infinity;

  /** Ends the call with `code` and no message (a trailers-only answer), unless it was answered. */
  const status = (code: grpc.status, details: string): void => {
    if (answered) return;
    answered = true;
    clearTimeout(deadlineTimer);
    if (stream.destroyed || stream.closed) return;
    stream.respond({ ...RESPONSE_HEADERS, 'grpc-status': String(code), 'grpc-message': grpcMessage(details) }, END_STREAM);
  };
  /**
   * After an answer sent before the request was read whole: the rest is read and dropped, as grpc-js does
   * (a gRPC client completes its call only once its request is sent), and the stream is reset if the
   * client has not ended it by then.
   */
  const stopReading = (): void => {
    stream.removeListener('data', onData);
    stream.removeListener('end', onEnd);
    stream.on('data', drop);
    stream.resume();
    setTimeout(() => {
      if (!stream.destroyed) stream.close(http2.constants.NGHTTP2_CANCEL);
    }, REFUSED_STREAM_LINGER_MS).unref();
  };
  const reply = (err: Partial<grpc.StatusObject> | (Error & { code?: grpc.status; details?: string }) | null, res?: TaskResultIn | null): void => {
    if (answered) return;
    if (err || !res) {
      const code = err?.code ?? grpc.status.UNKNOWN;
      return status(code, err?.details ?? (err instanceof Error ? err.message : 'the handler answered nothing'));
    }
    let message: Buffer;
    try {
      message = method.responseSerialize(res);
    } catch {
      return status(grpc.status.INTERNAL, 'Error serializing response');
    }
    answered = true;
    clearTimeout(deadlineTimer);
    if (stream.destroyed || stream.closed) return;
    const framed = Buffer.allocUnsafe(PREFIX + message.length);
    framed[0] = 0;
    framed.writeUInt32BE(message.length, 1);
    message.copy(framed, PREFIX);
    stream.respond(RESPONSE_HEADERS, WAIT_FOR_TRAILERS);
    stream.once('wantTrailers', () => stream.sendTrailers(OK_TRAILERS));
    stream.end(framed);
  };

  const onData = (chunk: Buffer): void => {
    chunks.push(chunk);
    size += chunk.length;
    if (messageEnd === Infinity && size >= PREFIX) {
      const head = chunks.length === 1 ? chunk : Buffer.concat(chunks, size);
      messageEnd = PREFIX + head.readUInt32BE(1);
      admission.announced(messageEnd - PREFIX);
    }
    // Bytes past the one message are not held until the client ends: answered now, the rest dropped (grpc-js
    // answers a unary call's second message when it arrives).
    if (size > messageEnd && !answered) {
      chunks.length = 0;
      stopReading();
      status(grpc.status.INTERNAL, 'the request holds more than one message');
      admission.done();
    }
  };
  const onEnd = (): void => {
    if (answered) return;
    try {
      dispatch();
    } finally {
      // The next call's turn comes after the handler has taken this one's input (the bound counts it).
      admission.done();
    }
  };
  const dispatch = (): void => {
    const body = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size);
    chunks.length = 0;
    const problem =
      body.length < PREFIX
        ? 'the request holds no message'
        : body[0] !== 0
          ? 'the request message is marked compressed, but the call names no grpc-encoding'
          : body.length < messageEnd
            ? 'the request ended inside its message'
            : undefined; // more than one message was answered as it came (onData)
    if (problem) return status(grpc.status.INTERNAL, problem);
    let request: unknown;
    try {
      request = method.requestDeserialize(body.subarray(PREFIX));
    } catch {
      return status(grpc.status.INTERNAL, 'Error deserializing request');
    }
    call = new RawTaskCall(request, deadline);
    try {
      handler(call as unknown as Parameters<TaskHandler>[0], reply as Parameters<TaskHandler>[1]);
    } catch (err) {
      // Not reached by user-caused errors (the handler answers them); a bug answers instead of ending serve.
      status(grpc.status.INTERNAL, err instanceof Error ? err.message : String(err));
    }
  };

  const timeoutMs = grpcTimeoutMs(headers['grpc-timeout']);
  const deadline = timeoutMs === undefined ? Infinity : new Date(Date.now() + timeoutMs);
  const admission = gate.enqueue(true, {
    start: () => {
      stream.on('data', onData);
      stream.once('end', onEnd);
    },
    refuse: (message) => {
      stopReading();
      reply(null, { return_code: ReturnCode.Unavailable, message });
    },
    timedOut: (details) => {
      stopReading();
      status(grpc.status.DEADLINE_EXCEEDED, details);
    },
  });
  if (timeoutMs !== undefined) {
    deadlineTimer = setTimeout(() => {
      // Still in line or still sending: its request is not read further.
      if (!call) stopReading();
      status(grpc.status.DEADLINE_EXCEEDED, 'Deadline exceeded');
      call?.cancel();
      admission.done();
    }, timeoutMs);
    deadlineTimer.unref();
  }
  // Closed or reset before the answer: the client cancelled, or the connection dropped.
  stream.on('close', () => {
    clearTimeout(deadlineTimer);
    admission.done();
    if (!answered) {
      answered = true;
      call?.cancel();
    }
  });
  stream.on('error', () => undefined);
}
