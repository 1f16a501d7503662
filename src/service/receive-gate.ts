/**
 * Admission before a request's body is read.
 *
 * The operation queue bounds the task input bytes the instance *holds*, but it
 * sees a request only once grpc-js has received and decoded it whole: sixteen
 * clients sending 40 MiB each would all be in memory before the first could be
 * refused. grpc-js reads a call's body only after its handler has seen the
 * metadata (the handler then asks for the message), and until then HTTP/2 flow
 * control leaves the bytes with the sender. This gate holds the metadata back,
 * so that one request body is read at a time, and refuses a call whose input
 * would take the queue past its limit as soon as the gRPC message prefix
 * (5 bytes: flag and length) has arrived, before its body is buffered. The
 * refusal is the same reply the queue gives (return code 3 and the reason).
 * What the process holds is then the queue's limit plus at most one message.
 *
 * A reader that stops sending keeps the turn for at most `readTimeoutMs`, then
 * its call is ended, so one slow client cannot hold everyone else's back.
 *
 * Written here: grpc-js has server interceptors but no hook between a call's
 * metadata and its first message bytes; the length is read from the call's
 * HTTP/2 stream (`peekMessageLength`), and where grpc-js does not expose it
 * the queue still refuses, after the message was received.
 */
import http2 from 'node:http2';
import { Readable } from 'node:stream';
import * as grpc from '@grpc/grpc-js';
import { ReturnCode } from '../errors';
import { queueFullReason } from './operation-queue';

export interface ReceiveGateOptions {
  /** Input bytes the instance holds now (queued and running tasks). */
  heldBytes: () => number;
  /** The bound on held bytes (--max-queued-bytes). */
  maxBytes: number;
  /** How long one call may take to deliver its request once its turn came. */
  readTimeoutMs: number;
  /** Methods whose request bodies are read one at a time, by gRPC path suffix (e.g. "/OnSessionEnter"). */
  methods: readonly string[];
  /** Of those, the methods whose input the bound counts (tasks): they are refused when it would pass the bound. */
  bounded: readonly string[];
}

type Turn = () => void;

/** What the gate tells a call in line (ReceiveGate.enqueue). */
export interface AdmissionHandlers {
  start(): void;
  refuse(message: string): void;
  timedOut(details: string): void;
}

/** A call's place in line (ReceiveGate.enqueue). */
export interface Admission {
  /** Left the line: done, refused or timed out. */
  readonly closed: boolean;
  /** The call's message length, from its prefix: refuses it when that would pass the bound. */
  announced(length: number): void;
  done(): void;
}

/** How long a refused call's stream may stay open for the client to end it, before it is reset. */
export const REFUSED_STREAM_LINGER_MS = 5_000;

export class ReceiveGate {
  private reading = false;
  private readonly waiting: Turn[] = [];
  private refusedEarly = 0;
  private timedOut = 0;

  constructor(private readonly opts: ReceiveGateOptions) {}

  /** Whether a call's body is being read now. */
  get readingCall(): boolean {
    return this.reading;
  }

  /** Calls waiting for their turn to be read (their bodies unread). */
  get waitingCalls(): number {
    return this.waiting.length;
  }

  /** Calls refused from their message length, before their bodies were read. */
  get refusedBeforeReading(): number {
    return this.refusedEarly;
  }

  /** Calls ended because they did not deliver their request within readTimeoutMs of their turn. */
  get readTimeouts(): number {
    return this.timedOut;
  }

  /** The grpc-js server interceptor that applies the gate. */
  interceptor(): grpc.ServerInterceptor {
    return (method, call) => {
      if (!this.opts.methods.some((m) => method.path.endsWith(m))) return new grpc.ServerInterceptingCall(call);
      return this.gated(call, this.opts.bounded.some((m) => method.path.endsWith(m)));
    };
  }

  /** Would a message of `length` bytes take the held input past the bound? (one message alone always fits) */
  private wouldOverflow(length: number): number | undefined {
    const held = this.opts.heldBytes();
    return held > 0 && held + length > this.opts.maxBytes ? held : undefined;
  }

  /**
   * A call's place in line, whatever serves it (the interceptor below, or src/service/raw-task.ts on its
   * HTTP/2 stream). At the call's turn `start` is called: read its body now. `refuse(message)` when its input
   * would take the held bytes past the bound (at its turn, or once `announced` reports its message length),
   * `timedOut(details)` when it kept the turn past readTimeoutMs without delivering its request; after
   * either, the call has left the line. `done` leaves the line or gives the turn back: the whole request
   * was received, the call was cancelled or answered. Idempotent.
   */
  enqueue(bounded: boolean, h: AdmissionHandlers): Admission {
    let done = false;
    let holdsTurn = false;
    let timer: NodeJS.Timeout | undefined;
    let waiter: Turn | undefined;
    const finish = (): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      if (waiter) {
        const i = this.waiting.indexOf(waiter);
        if (i >= 0) this.waiting.splice(i, 1);
      }
      if (holdsTurn) {
        holdsTurn = false;
        this.reading = false;
        this.next();
      }
    };
    const refuse = (held: number): void => {
      if (done) return;
      this.refusedEarly++;
      h.refuse(`refused before its input was read: ${queueFullReason(held, this.opts.maxBytes)}`);
      finish();
    };
    waiter = () => {
      waiter = undefined;
      if (done) return;
      // Full already: whatever this call sends is refused, without waiting for its length.
      const held = this.opts.heldBytes();
      if (bounded && held > 0 && held >= this.opts.maxBytes) return refuse(held);
      holdsTurn = true;
      this.reading = true;
      timer = setTimeout(() => {
        this.timedOut++;
        h.timedOut(`the request was not received within ${this.opts.readTimeoutMs} ms of its turn to be read`);
        finish();
      }, this.opts.readTimeoutMs);
      timer.unref();
      h.start();
    };
    this.waiting.push(waiter);
    this.next();
    return {
      get closed() {
        return done;
      },
      announced: (length) => {
        if (!bounded) return;
        const before = this.wouldOverflow(length);
        if (before !== undefined) refuse(before);
      },
      done: finish,
    };
  }

  private gated(call: grpc.ServerInterceptingCallInterface, bounded: boolean): grpc.ServerInterceptingCall {
    let admission: Admission | undefined;
    const outer: grpc.ServerInterceptingCall = new grpc.ServerInterceptingCall(
      call,
      new grpc.ResponderBuilder()
        .withStart((next) =>
          next(
            new grpc.ServerListenerBuilder()
              .withOnReceiveMetadata((metadata, pass) => {
                admission = this.enqueue(bounded, {
                  start: () => {
                    if (bounded) peekMessageLength(call, (length) => admission?.announced(length));
                    pass(metadata);
                  },
                  refuse: (message) => {
                    outer.sendMessage({ return_code: ReturnCode.Unavailable, message }, () => outer.sendStatus({ code: grpc.status.OK, details: 'OK' }));
                    // The rest of the body is not kept: held by flow control until the status is out, then read
                    // and dropped by grpc-js (a gRPC client completes its call once its request is sent). A stream
                    // the client does not end is reset once the reply has long been sent.
                    const stream = httpStream(call);
                    stream?.pause();
                    if (stream) setTimeout(() => resetStream(stream), REFUSED_STREAM_LINGER_MS).unref();
                  },
                  timedOut: (details) => outer.sendStatus({ code: grpc.status.DEADLINE_EXCEEDED, details }),
                });
              })
              .withOnReceiveMessage((message, pass) => {
                if (!admission?.closed) pass(message);
              })
              // The handler has the whole request once the client half-closes: the next body may be read.
              .withOnReceiveHalfClose((pass) => {
                if (!admission || admission.closed) return;
                pass();
                admission.done();
              })
              .withOnCancel(() => admission?.done())
              .build(),
          ),
        )
        .withSendStatus((status, pass) => {
          admission?.done();
          pass(status);
        })
        .build(),
    );
    return outer;
  }

  /** Gives the turn to waiting calls in order until one is reading (the others are refused or gone). */
  private next(): void {
    while (!this.reading) {
      const turn = this.waiting.shift();
      if (!turn) return;
      turn();
    }
  }
}

/**
 * Calls `onLength` with the length of the call's first gRPC message, from its
 * 5-byte prefix, as the first bytes arrive. grpc-js keeps the HTTP/2 stream on
 * the call object it hands interceptors (not a public field); if it is not
 * there, nothing is peeked.
 */
function peekMessageLength(call: object, onLength: (length: number) => void): void {
  const s = httpStream(call);
  if (!s) return;
  let prefix = Buffer.alloc(0);
  const onData = (chunk: Buffer): void => {
    prefix = Buffer.concat([prefix, chunk.subarray(0, 5 - prefix.length)]);
    if (prefix.length < 5) return;
    s.removeListener('data', onData);
    onLength(prefix.readUInt32BE(1));
  };
  s.on('data', onData);
}

/** The HTTP/2 stream of a grpc-js server call, if grpc-js keeps it where 1.x does. */
function httpStream(call: object): NodeJS.ReadableStream | undefined {
  const stream = (call as { stream?: unknown }).stream;
  return stream instanceof Readable ? stream : undefined;
}

function resetStream(stream: NodeJS.ReadableStream): void {
  const s = stream as NodeJS.ReadableStream & { destroyed?: boolean; close?: (code: number) => void };
  if (!s.destroyed && typeof s.close === 'function') s.close(http2.constants.NGHTTP2_CANCEL);
}
