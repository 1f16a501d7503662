/**
 * The FlightService handlers of the embedded cache (docs/protocol.md §7). Every failure
 * becomes a gRPC status with a message naming the key; nothing throws out of
 * a handler, so the server keeps serving whatever a client sends.
 */
import { isUtf8 } from 'node:buffer';
import * as grpc from '@grpc/grpc-js';
import { ErrorCode, FlmError, invalidInput } from '../../errors';
import type { Logger } from '../../log';
import type { FlightData, OutgoingFlightData } from '../flight-data';
import type { Action, ActionType, Criteria, FlightInfoReply as FlightInfo, FlightResult, PutResult, SchemaResult, Ticket } from '../flight';
import { encodeSchema, framePrefix, joinParts } from '../../wire/ipc';
import { formatKey, parseKey, parsePath, type ObjectKey } from '../../wire/keys';
import { ANSWER_SCHEMA_HEADER, encodeRow } from '../opaque';
import { PutReceiver } from './put-receiver';
import { putResultDocument } from './put-result';
import { IdleWatch } from './idle-watch';
import type { PutBudget } from './put-budget';
import { FramedMessage, passFramed, type SharedAnswers } from './shared-answers';
import { joinSmall, RawCall } from './raw-call';
import { toStatus, unimplemented } from './status';
import { smallAnswer, SMALL_ANSWER_MAX_BYTES } from './small-answer';
import { withCacheVersion } from '../../wire/arrow-meta';
import type { ObjectTable } from './object-table';
import type { StoredObject } from './stored-object';

export interface ServiceContext {
  store: ObjectTable;
  /** The public endpoint, known once the server is bound. */
  endpoint: () => string;
  /** Body bytes one DoPut may carry before it is refused. */
  maxPutBytes: number;
  /** Full DoGet answers being read, shared by their readers. */
  answers: SharedAnswers;
  /** Bytes all unfinished DoPut streams may hold together. */
  putBudget: PutBudget;
  /** With storage: puts up to this size are kept in memory as well as written. */
  retainBytes: number;
  /** A DoPut that sends nothing, or a DoGet whose reader takes nothing, for this long is ended. */
  idleTimeoutMs: number;
  logger: Logger;
}

interface Descriptor { type: string; cmd: Buffer; path: string[] }

const utf8 = new TextDecoder('utf-8', { fatal: true });

const EVENTS_OF_AN_END = ['close', 'cancelled', 'error', 'finish'] as const;

/** Resolves on the first of `events` or the end of the call; rejects after `idleMs` without one. */
function whenWritable(call: grpc.ServerWritableStream<unknown, unknown>, events: readonly string[], idleMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const all = [...events, ...EVENTS_OF_AN_END];
    const done = (): void => {
      clearTimeout(timer);
      for (const e of all) call.off(e, done);
      resolve();
    };
    const timer = setTimeout(() => {
      for (const e of all) call.off(e, done);
      reject(new FlmError(ErrorCode.DeadlineExceeded, `the reader took nothing for ${idleMs} ms; the answer is abandoned`));
    }, idleMs);
    timer.unref();
    for (const e of all) call.on(e, done);
  });
}

/** Writes the messages with backpressure and ends the call; resolves once grpc-js has sent them (or the call ended). */
async function writeAll(call: grpc.ServerWritableStream<unknown, unknown>, messages: readonly unknown[], idleMs: number): Promise<void> {
  for (const m of messages) {
    if (call.cancelled || call.destroyed) return;
    if (!call.write(m)) await whenWritable(call, ['drain'], idleMs);
  }
  if (call.cancelled || call.destroyed) return;
  if (call instanceof RawCall) {
    // Its status follows the last message on the stream; nothing shared waits for it to be sent.
    call.end();
    return;
  }
  const ended = whenWritable(call, [], idleMs);
  call.end();
  await ended;
}

/**
 * Whether the client's stream ended by a cut rather than by its END_STREAM.
 *
 * grpc-js takes the end of the HTTP/2 stream's readable side for the client's
 * half-close; but node's http2 also ends the readable side when the stream is
 * reset or its connection drops (it pushes EOF, then closes the stream), and
 * grpc-js reports the cancellation only a few ticks after 'end'. A stream
 * that is already closed when its requests end was cut: the client's own
 * half-close leaves it open until the server answers. grpc-js offers no
 * public way to tell, so this looks at the underlying Http2Stream; if grpc-js
 * ever hides it, the check degrades to `call.cancelled` alone.
 */
function wasCut(call: object): boolean {
  let node: unknown = call;
  for (let depth = 0; depth < 4 && node && typeof node === 'object'; depth++) {
    const stream = (node as { stream?: { closed?: unknown } }).stream;
    if (stream && typeof stream.closed === 'boolean') return stream.closed;
    node = (node as { call?: unknown; nextCall?: unknown }).call ?? (node as { nextCall?: unknown }).nextCall;
  }
  return false;
}

function parseTicket(ticket: Buffer): { key: Required<ObjectKey>; version: number } {
  // isUtf8 + toString rather than the fatal TextDecoder (same answer, cheaper on every get); like the
  // decoder, a leading byte order mark is not part of the text.
  if (!isUtf8(ticket)) throw invalidInput(`ticket is not UTF-8 (${ticket.length} bytes)`);
  let text = ticket.toString('utf8');
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  const colon = text.lastIndexOf(':');
  if (colon < 0) return { key: parseKey(text), version: 0 };
  const v = text.slice(colon + 1);
  if (!/^\d{1,15}$/.test(v)) throw invalidInput(`ticket '${text.slice(0, 200)}': version '${v.slice(0, 40)}' is not a number`);
  return { key: parseKey(text.slice(0, colon)), version: Number(v) };
}

/** The opaque answer's schema message, which opens every opaque DoGet answer; framed once for node:http2 calls. */
const SCHEMA_ONLY: OutgoingFlightData = Object.freeze({ data_header: ANSWER_SCHEMA_HEADER });
const SCHEMA_ONLY_FRAMED = FramedMessage.of(SCHEMA_ONLY);

/** The DoGet answer for `obj` given the client's version (docs/protocol.md §7). */
export function answerFor(obj: StoredObject, clientVersion: number): OutgoingFlightData[] {
  const schemaOnly = SCHEMA_ONLY;
  if (clientVersion !== 0 && clientVersion === obj.version) return [schemaOnly];
  if (obj.value.kind === 'arrow') {
    const schema = withCacheVersion(obj.value.schema, obj.version);
    return [
      { data_header: encodeSchema(schema) },
      ...obj.value.messages.map((m) => ({ data_header: m.header, data_body: m.body })),
    ];
  }
  const patchRow = (d: StoredObject['deltas'][number]): OutgoingFlightData => {
    const row = encodeRow(d.version, 'patch', [d.data]);
    return { data_header: row.header, data_body: row.body };
  };
  if (clientVersion !== 0 && clientVersion < obj.version && obj.baseVersion <= clientVersion) {
    const needed = obj.deltas.filter((d) => d.version > clientVersion);
    const contiguous = needed.length === obj.version - clientVersion && needed.every((d, i) => d.version === clientVersion + i + 1);
    if (contiguous) return [schemaOnly, ...needed.map(patchRow)];
  }
  const base = encodeRow(obj.baseVersion, 'base', obj.value.chunks);
  return [schemaOnly, { data_header: base.header, data_body: base.body }, ...obj.deltas.map(patchRow)];
}

function putResult(endpoint: string, key: string, version: number): PutResult {
  return { app_metadata: putResultDocument(endpoint, key, version) };
}

function parsedTicket(ticket: Buffer): { key: Required<ObjectKey>; version: number; keyText: string } {
  const { key, version } = parseTicket(ticket);
  return { key, version, keyText: formatKey(key) };
}

function keyOfDescriptor(d: Descriptor | null | undefined): string {
  if (!d || d.path.length === 0) throw invalidInput('the FlightDescriptor must carry a path naming the key');
  return d.path.join('/');
}

function framedSchema(header: Uint8Array): Buffer {
  return joinParts(framePrefix(header));
}

export function flightHandlers(ctx: ServiceContext): grpc.UntypedServiceImplementation {
  const { store, logger } = ctx;
  const { answers } = ctx;
  const putIdle = new IdleWatch(ctx.idleTimeoutMs);

  /**
   * A get of a small opaque object held in memory, answered at once (no promise) as one framed buffer: true
   * when the call is done with (so answered, or already cancelled), false when the answer is not of that kind
   * (the general path then serves it).
   */
  const answerSmallAtOnce = (call: RawCall, keyText: string, version: number): boolean => {
    if (call.cancelled || call.destroyed) return true;
    const obj = store.resident(keyText);
    if (!obj || obj.value.kind !== 'opaque' || obj.deltas.length > 0 || obj.size > SMALL_ANSWER_MAX_BYTES) return false;
    // A client already holding this version is answered the schema alone, by answerFor.
    if (version !== 0 && version === obj.version) return false;
    call.write(new FramedMessage(smallAnswer(obj.version, obj.value.chunks, obj.value.size)));
    call.end();
    return true;
  };

  const doGet = (call: grpc.ServerWritableStream<Ticket, OutgoingFlightData>): void => {
    let parsed: { key: Required<ObjectKey>; version: number; keyText: string } | undefined;
    if (call instanceof RawCall) {
      try {
        const { key, version } = parseTicket(call.request.ticket);
        parsed = { key, version, keyText: formatKey(key) };
        if (answerSmallAtOnce(call, parsed.keyText, version)) return;
      } catch (err) {
        call.emit('error', toStatus(err, logger, 'DoGet'));
        return;
      }
    }
    void (async () => {
      try {
        // A get the at-once path passed on was parsed there already.
        const { key, version, keyText } = parsed ?? parsedTicket(call.request.ticket);
        const current = store.info(keyText)?.version;
        // A full answer (docs/protocol.md §7: version 0, or one the server never had) is shared by every reader of this version.
        const full = current !== undefined && (version === 0 || version > current);
        // On node:http2 (RawCall) an answer goes out as its parts, the stored chunks themselves: nothing to share.
        if (full && !(call instanceof RawCall) && passFramed(call)) {
          const shared = await answers.acquire(`${current}@${keyText}`, async () => answerFor(await store.get(key), 0));
          try {
            await writeAll(call as grpc.ServerWritableStream<unknown, unknown>, shared.messages satisfies FramedMessage[], ctx.idleTimeoutMs);
          } finally {
            shared.release();
          }
          return;
        }
        const obj = await store.get(key);
        let answer: (OutgoingFlightData | FramedMessage)[] = answerFor(obj, version);
        if (call instanceof RawCall) {
          answer = answer.map((m) => (m === SCHEMA_ONLY ? SCHEMA_ONLY_FRAMED : m));
          const joined = answer.length > 1 ? joinSmall(answer) : undefined;
          if (joined) answer = [joined];
        }
        await writeAll(call as grpc.ServerWritableStream<unknown, unknown>, answer, ctx.idleTimeoutMs);
      } catch (err) {
        call.emit('error', toStatus(err, logger, 'DoGet'));
      }
    })();
  };

  const doPut = (call: grpc.ServerDuplexStream<FlightData, PutResult>): void => {
    const receiver = new PutReceiver({
      maxBytes: ctx.maxPutBytes,
      budget: ctx.putBudget,
      storage: store.disk,
      retainBytes: ctx.retainBytes,
    });
    let settled = false;
    /** Messages are taken one after another: one being written to disk holds the next back (the call is paused). */
    let pending: Promise<void> | undefined;
    const idle = putIdle.watch(() =>
      fail(new FlmError(ErrorCode.DeadlineExceeded, `DoPut sent nothing for ${ctx.idleTimeoutMs} ms; the put is dropped`)),
    );
    const stopIdle = (): void => idle.stop();
    const finish = (): void => {
      settled = true;
      stopIdle();
      receiver.close()?.catch((err: unknown) => logger.warn({ err }, 'could not remove a cancelled put'));
    };
    const fail = (err: unknown): void => {
      if (settled) return;
      finish();
      call.emit('error', toStatus(err, logger, 'DoPut'));
    };
    const armIdle = (): void => {
      if (!settled) idle.touch();
    };
    const take = (msg: FlightData): Promise<void> | undefined => {
      if (settled) return undefined;
      const written = receiver.add(msg);
      if (!written) return undefined;
      stopIdle(); // waiting for the disk is not the client's idleness
      call.pause();
      return written.then(() => {
        if (settled) return;
        armIdle();
        call.resume();
      });
    };
    call.on('data', (msg: FlightData) => {
      if (settled) return;
      armIdle();
      try {
        const next = pending ? pending.then(() => take(msg)) : take(msg);
        if (next) {
          const mine: Promise<void> = next.then(
            () => {
              if (pending === mine) pending = undefined;
            },
            (err: unknown) => fail(err),
          );
          pending = mine;
        }
      } catch (err) {
        fail(err);
      }
    });
    // A cut stream is never committed: only a whole one ('end') is.
    call.on('cancelled', () => finish());
    call.on('error', () => {
      if (!settled) finish();
    });
    call.on('end', () => void (pending ? pending.then(() => commit()) : commit()));
    const commit = async (): Promise<void> => {
      if (settled || call.cancelled || (call instanceof RawCall ? call.cut : wasCut(call))) {
        if (!settled) finish();
        return;
      }
      stopIdle();
      try {
        const req = receiver.finish();
        let meta;
        if (req.op === 'patch') meta = await store.patch(req.key, req.data.length === 1 ? req.data[0]! : Buffer.concat(req.data, req.size));
        else if (req.op === 'put-spooled') {
          try {
            meta = await store.putSpooled(req.key, req.spool, req.kind, req.size, req.retained);
          } catch (err) {
            await req.spool.abort();
            throw err;
          }
        } else meta = store.putAtOnce(req.target, req.value) ?? (await store.put(req.target, req.value));
        if (settled) return;
        finish();
        call.write(putResult(ctx.endpoint(), meta.key, meta.version));
        call.end();
      } catch (err) {
        fail(err);
      }
    };
  };

  const doAction = (call: grpc.ServerWritableStream<Action, FlightResult>): void => {
    void (async () => {
      try {
        const { type, body } = call.request;
        if (type !== 'DELETE') throw invalidInput(`unknown action '${type.slice(0, 100)}': only DELETE is supported`);
        let text: string;
        try {
          text = utf8.decode(body);
        } catch {
          throw invalidInput('DELETE body is not UTF-8');
        }
        const count = await store.delete(parsePath(text, 'key or prefix'));
        logger.debug({ pattern: text, count }, 'cache delete');
        call.write({ body: Buffer.from('OK') });
        call.end();
      } catch (err) {
        call.emit('error', toStatus(err, logger, 'DoAction'));
      }
    })();
  };

  const listActions = (call: grpc.ServerWritableStream<unknown, ActionType>): void => {
    call.write({ type: 'DELETE', description: 'Delete objects by key, <app>/<session> prefix or <app>/*' });
    call.end();
  };

  const info = (key: string): FlightInfo => {
    const meta = store.info(key);
    return {
      schema: Buffer.alloc(0),
      flight_descriptor: { type: 'PATH', cmd: Buffer.alloc(0), path: [key] },
      endpoint: [{ ticket: { ticket: Buffer.from(key) }, location: [{ uri: ctx.endpoint() }], app_metadata: Buffer.alloc(0) }],
      total_records: -1,
      total_bytes: meta ? meta.size : -1,
      ordered: false,
      app_metadata: Buffer.alloc(0),
    };
  };

  const nativeSchema = async (key: Required<ObjectKey>): Promise<Buffer | undefined> => {
    const meta = store.info(formatKey(key));
    if (meta?.kind !== 'arrow') return undefined;
    const obj = await store.get(key);
    if (obj.value.kind !== 'arrow') return undefined;
    return framedSchema(encodeSchema(withCacheVersion(obj.value.schema, obj.version)));
  };

  const getFlightInfo = (call: grpc.ServerUnaryCall<Descriptor, FlightInfo>, cb: grpc.sendUnaryData<FlightInfo>): void => {
    void (async () => {
      try {
        // Like the reference server, any path gets an answer (the Python SDK asks for keys it
        // wrote to shared storage itself); only a valid, known native object has a schema.
        const key = keyOfDescriptor(call.request);
        const result = info(key);
        let parsed: Required<ObjectKey> | undefined;
        try {
          parsed = parseKey(key);
        } catch {
          parsed = undefined;
        }
        if (parsed) result.schema = (await nativeSchema(parsed)) ?? result.schema;
        cb(null, result);
      } catch (err) {
        cb(toStatus(err, logger, 'GetFlightInfo'));
      }
    })();
  };

  const getSchema = (call: grpc.ServerUnaryCall<Descriptor, SchemaResult>, cb: grpc.sendUnaryData<SchemaResult>): void => {
    void (async () => {
      try {
        const d = call.request;
        const schema = d.path.length > 0 ? await nativeSchema(parseKey(d.path.join('/'))) : undefined;
        cb(null, { schema: schema ?? framedSchema(ANSWER_SCHEMA_HEADER) });
      } catch (err) {
        cb(toStatus(err, logger, 'GetSchema'));
      }
    })();
  };

  const listFlights = (call: grpc.ServerWritableStream<Criteria, FlightInfo>): void => {
    void writeAll(call as grpc.ServerWritableStream<unknown, unknown>, store.list().map((m) => info(m.key)), ctx.idleTimeoutMs).catch((err: unknown) =>
      call.emit('error', toStatus(err, logger, 'ListFlights')),
    );
  };

  const streamUnimplemented = (name: string) => (call: grpc.ServerWritableStream<unknown, unknown> | grpc.ServerDuplexStream<unknown, unknown>): void => {
    call.emit('error', unimplemented(name));
  };

  return {
    DoGet: doGet,
    DoPut: doPut,
    DoAction: doAction,
    ListActions: listActions,
    GetFlightInfo: getFlightInfo,
    GetSchema: getSchema,
    ListFlights: listFlights,
    Handshake: streamUnimplemented('Handshake'),
    DoExchange: streamUnimplemented('DoExchange'),
    PollFlightInfo: (_call: unknown, cb: grpc.sendUnaryData<unknown>) => cb(unimplemented('PollFlightInfo')),
  } as grpc.UntypedServiceImplementation;
}
