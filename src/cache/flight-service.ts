/**
 * The FlightService handlers of the embedded cache (SPEC 7). Every failure
 * becomes a gRPC status with a message naming the key; nothing throws out of
 * a handler, so the server keeps serving whatever a client sends.
 */
import * as grpc from '@grpc/grpc-js';
import { BSON, Long } from 'bson';
import { ErrorCode, FlmError, invalidInput } from '../errors';
import type { Logger } from '../log';
import type { FlightData, OutgoingFlightData } from './flight-data';
import type { Action, ActionType, Criteria, FlightInfoReply as FlightInfo, FlightResult, PutResult, SchemaResult, Ticket } from './flight';
import { encodeSchema, framePrefix, joinParts } from '../wire/ipc';
import { formatKey, parseKey, parsePath, type ObjectKey } from '../wire/keys';
import { ANSWER_SCHEMA_HEADER, encodeRow } from './opaque';
import { PutReceiver } from './put-receiver';
import { withCacheVersion } from '../wire/arrow-meta';
import type { ObjectStore } from './store';
import type { StoredObject } from './stored';

export interface ServiceContext {
  store: ObjectStore;
  /** The public endpoint, known once the server is bound. */
  endpoint: () => string;
  /** Body bytes one DoPut may carry before it is refused. */
  maxPutBytes: number;
  logger: Logger;
}

interface Descriptor { type: string; cmd: Buffer; path: string[] }

const utf8 = new TextDecoder('utf-8', { fatal: true });

function toStatus(err: unknown, logger: Logger, op: string): Partial<grpc.StatusObject> & Error {
  const e = FlmError.from(err, ErrorCode.Internal);
  if (e.code === ErrorCode.Internal) logger.error({ err, op }, 'cache request failed');
  else logger.debug({ err: e.message, op }, 'cache request refused');
  return Object.assign(new Error(e.message), { code: e.grpcCode, details: e.message, metadata: new grpc.Metadata() });
}

function unimplemented(name: string): grpc.ServiceError {
  const msg = `${name} is not implemented by this object cache`;
  return Object.assign(new Error(msg), { code: grpc.status.UNIMPLEMENTED, details: msg, metadata: new grpc.Metadata() });
}

/** Resolves when the stream can take more, or has gone away. */
function drained(call: grpc.ServerWritableStream<unknown, unknown>): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      call.off('drain', done);
      call.off('close', done);
      call.off('cancelled', done);
      call.off('error', done);
      resolve();
    };
    call.on('drain', done);
    call.on('close', done);
    call.on('cancelled', done);
    call.on('error', done);
  });
}

async function writeAll(call: grpc.ServerWritableStream<unknown, OutgoingFlightData>, messages: OutgoingFlightData[]): Promise<void> {
  for (const m of messages) {
    if (call.cancelled || call.destroyed) return;
    if (!call.write(m)) await drained(call as grpc.ServerWritableStream<unknown, unknown>);
  }
  if (!call.cancelled) call.end();
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
  let text: string;
  try {
    text = utf8.decode(ticket);
  } catch {
    throw invalidInput(`ticket is not UTF-8 (${ticket.length} bytes)`);
  }
  const colon = text.lastIndexOf(':');
  if (colon < 0) return { key: parseKey(text), version: 0 };
  const v = text.slice(colon + 1);
  if (!/^\d{1,15}$/.test(v)) throw invalidInput(`ticket '${text.slice(0, 200)}': version '${v.slice(0, 40)}' is not a number`);
  return { key: parseKey(text.slice(0, colon)), version: Number(v) };
}

/** The DoGet answer for `obj` given the client's version (SPEC 7). */
export function answerFor(obj: StoredObject, clientVersion: number): OutgoingFlightData[] {
  const schemaOnly: OutgoingFlightData = { data_header: ANSWER_SCHEMA_HEADER };
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
  return { app_metadata: Buffer.from(BSON.serialize({ endpoint, key, version: Long.fromNumber(version) })) };
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

  const doGet = (call: grpc.ServerWritableStream<Ticket, OutgoingFlightData>): void => {
    void (async () => {
      try {
        const { key, version } = parseTicket(call.request.ticket);
        const obj = await store.get(key);
        await writeAll(call, answerFor(obj, version));
      } catch (err) {
        call.emit('error', toStatus(err, logger, 'DoGet'));
      }
    })();
  };

  const doPut = (call: grpc.ServerDuplexStream<FlightData, PutResult>): void => {
    const receiver = new PutReceiver(ctx.maxPutBytes);
    let settled = false;
    const fail = (err: unknown): void => {
      if (settled) return;
      settled = true;
      call.emit('error', toStatus(err, logger, 'DoPut'));
    };
    call.on('data', (msg: FlightData) => {
      if (settled) return;
      try {
        receiver.add(msg);
      } catch (err) {
        fail(err);
      }
    });
    // A cut stream is never committed: only a whole one ('end') is.
    call.on('cancelled', () => {
      settled = true;
    });
    call.on('error', () => {
      settled = true;
    });
    call.on('end', () => void commit());
    const commit = async (): Promise<void> => {
      if (settled || call.cancelled || wasCut(call)) {
        settled = true;
        return;
      }
      {
        try {
          const req = receiver.finish();
          const meta =
            req.op === 'patch'
              ? await store.patch(req.key, req.data.length === 1 ? req.data[0]! : Buffer.concat(req.data, req.size))
              : await store.put(req.target, req.value);
          if (settled) return;
          settled = true;
          call.write(putResult(ctx.endpoint(), meta.key, meta.version));
          call.end();
        } catch (err) {
          fail(err);
        }
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
    void writeAll(call as never, store.list().map((m) => info(m.key)) as never).catch((err: unknown) =>
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
