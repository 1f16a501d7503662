/**
 * CacheClient: talks to Flame's object cache (or the embedded one) over Arrow
 * Flight (docs/protocol.md §7). One gRPC channel per endpoint, reused; unlimited message
 * sizes; a client-side LRU of fetched objects keyed by (endpoint, key) with
 * conditional gets (`key:version`), as the Python SDK does. Works in worker
 * threads (nothing here is process-global).
 *
 * Each object get() returns is the caller's own: the LRU keeps bytes the caller
 * cannot reach (a copy, or the answer as received, read again on a hit: see
 * KeptAnswer), so a task that mutates the bytes it received (the value decoders
 * return views into them) cannot change what later gets of the same key see.
 */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import type * as Grpc from '@grpc/grpc-js';
import { Status } from '@grpc/grpc-js/build/src/constants';
import { BSON } from 'bson';
import { LRUCache } from 'lru-cache';
import { ErrorCode, FlmError, invalidInput, isFlmError, notFound, unavailable } from '../errors';
import { silentLogger, type Logger } from '../log';
import { errnoOf } from '../util/errno';
import { MAX_TIMER_MS, parseWholeNumber, type Unit } from '../options/values';
import { CACHE_DEADLINE_MS } from '../options/serve';
import { objectRefFromDocument } from '../wire/object-ref';
import type { CacheObject, CachePayload, ObjectRef } from '../wire/cache-types';
import type { FlightServiceClient, FlightInfo } from './flight';
import { decodeFlightData, type FlightData, type OutgoingFlightData } from './flight-data';
import { parseEndpoint, type CacheEndpoint } from './endpoint';
import { matchesKey, parseKey, parsePath, parsePrefix, parsePutTarget } from '../wire/keys';
import { AnswerReader, type Answer } from './answer';
import { arrowPutMessages, opaquePutMessages, opaquePutMessagesSync } from './put-messages';
import { CallError, DEFAULT_KEEPALIVE, Http2Transport, type RawMessage } from './transport';
import { preloadZstdDecoder } from './compression';

/*
 * grpc-js and the Flight service definitions are loaded on first use. A session
 * process puts and gets over our own HTTP/2 client (./transport, ./h2) and never needs them;
 * loading them costs ~110 ms of CPU at every session start (grpc-js ~60 ms,
 * the proto descriptors ~50 ms).
 */
let grpcLoaded: typeof Grpc | undefined;
let flightLoaded: typeof import('./flight') | undefined;
function grpcJs(): typeof Grpc {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded lazily on purpose (above)
  return (grpcLoaded ??= require('@grpc/grpc-js') as typeof Grpc);
}
function flightModule(): typeof import('./flight') {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded lazily on purpose (above)
  return (flightLoaded ??= require('./flight') as typeof import('./flight'));
}

export interface CacheClientOptions {
  /**
   * Where put/update/patch/delete/upload/info/list go: `grpc://host:port`, `grpcs://`/`grpc+tls://` for TLS;
   * default port 9090. Default `grpc://127.0.0.1:9090` (the Python SDK's default). get/download use the ref's endpoint.
   */
  endpoint?: string;
  /** PEM CA bundle for TLS endpoints (default: the system roots). */
  caFile?: string;
  /** Deadline of each call in milliseconds. Default 30000. */
  deadlineMs?: number;
  /** Deadline of upload() and download() in milliseconds. Default 300000 (as the Python SDK's upload). */
  transferDeadlineMs?: number;
  /** Extra attempts after UNAVAILABLE for idempotent calls (get, info, list, delete, download). Default 2. */
  retries?: number;
  /** Objects kept in the client-side LRU. Default 1000 (the Python SDK's size); 0 disables it. */
  lruEntries?: number;
  /** Bytes of objects kept in the client-side LRU; larger objects are not kept. Default 512 MiB. */
  lruMaxBytes?: number;
  /** Bytes per row when putting and uploading. Default 1 MiB (the Python SDK's upload chunk). */
  chunkBytes?: number;
  /**
   * HTTP/2 transport: with calls open on a connection and nothing read from it for this long, it is
   * sent a PING. Default 10000; 0 turns keepalive off. Connections without calls are never pinged.
   */
  keepaliveMs?: number;
  /** HTTP/2 transport: a keepalive PING followed by this long with nothing read fails the connection (its calls UNAVAILABLE). Default 10000. */
  keepaliveTimeoutMs?: number;
  /**
   * How DoPut and DoGet travel: 'http2' (default) is transport.ts, gRPC framing over our own minimal HTTP/2 client (./h2);
   * 'grpc-js' is the generic gRPC client (slower per call, kept to compare in the benchmarks).
   * Every other call uses grpc-js.
   */
  transport?: 'http2' | 'grpc-js';
  logger?: Logger;
}

/** serve's one `--cache-keepalive-ms` as client options: the PING's timeout is the interval too (0: keepalive off). */
export function keepaliveOptions(ms: number | undefined): Pick<CacheClientOptions, 'keepaliveMs' | 'keepaliveTimeoutMs'> {
  return ms === undefined ? {} : { keepaliveMs: ms, keepaliveTimeoutMs: ms || undefined };
}

export interface CacheInfo {
  key: string;
  /** Where the object is served (the endpoint's location). */
  endpoint: string;
  /** Size in bytes, -1 when the server does not say. */
  totalBytes: number;
  /** IPC-framed schema for native Arrow objects, empty otherwise. */
  schema: Buffer;
}

const RETRY_BASE_MS = 100;
export const DEFAULT_ENDPOINT = 'grpc://127.0.0.1:9090';
const FLOW_CONTROL_WINDOW = 32 * 1024 * 1024;

export class CacheClient {
  private readonly opts: Required<Omit<CacheClientOptions, 'endpoint' | 'caFile'>> & Pick<CacheClientOptions, 'endpoint' | 'caFile'>;
  private readonly channels = new Map<string, FlightServiceClient>();
  private readonly lru?: LRUCache<string, LruEntry>;
  private readonly http2?: Http2Transport;
  private ca?: Buffer;
  private closed = false;

  constructor(options: CacheClientOptions = {}) {
    // Node < 22.15: the WebAssembly ZSTD decoder is ready by the first answer (the same bytes meet the same decoder).
    preloadZstdDecoder();
    const whole = (name: string, v: number | undefined, dflt: number, unit: Unit, min = 1): number =>
      parseWholeNumber(v ?? dflt, `cache client option ${name}`, unit, min);
    // Refused, not clamped, above Node's longest timer (it would fire after 1 ms). Below serve's 1 s
    // minimum is allowed: tests use a few ms against in-process servers.
    const timer = (name: string, v: number | undefined, dflt: number, min = 1): number =>
      parseWholeNumber(v ?? dflt, `cache client option ${name}`, 'ms', min, MAX_TIMER_MS);
    this.opts = {
      endpoint: options.endpoint,
      caFile: options.caFile,
      deadlineMs: timer('deadlineMs', options.deadlineMs, CACHE_DEADLINE_MS),
      transferDeadlineMs: timer('transferDeadlineMs', options.transferDeadlineMs, 300_000),
      retries: whole('retries', options.retries, 2, 'count', 0),
      lruEntries: whole('lruEntries', options.lruEntries, 1000, 'count', 0),
      lruMaxBytes: whole('lruMaxBytes', options.lruMaxBytes, 512 * 1024 ** 2, 'bytes'),
      chunkBytes: whole('chunkBytes', options.chunkBytes, 1024 ** 2, 'bytes'),
      keepaliveMs: timer('keepaliveMs', options.keepaliveMs, DEFAULT_KEEPALIVE.keepaliveMs, 0),
      keepaliveTimeoutMs: timer('keepaliveTimeoutMs', options.keepaliveTimeoutMs, DEFAULT_KEEPALIVE.keepaliveTimeoutMs),
      // FLMRUN_CACHE_TRANSPORT=grpc-js: the escape hatch should a server disagree with the hand-written path (and the benchmarks' baseline).
      transport: options.transport ?? (process.env.FLMRUN_CACHE_TRANSPORT === 'grpc-js' ? 'grpc-js' : 'http2'),
      logger: options.logger ?? silentLogger,
    };
    if (options.endpoint !== undefined) parseEndpoint(options.endpoint);
    if (this.opts.transport !== 'http2' && this.opts.transport !== 'grpc-js') {
      throw invalidInput(`cache client option transport must be 'http2' or 'grpc-js', got ${String(options.transport)}`);
    }
    if (this.opts.transport === 'http2') {
      this.http2 = new Http2Transport(() => this.caBundle(), { keepaliveMs: this.opts.keepaliveMs, keepaliveTimeoutMs: this.opts.keepaliveTimeoutMs });
    }
    if (this.opts.lruEntries > 0) {
      this.lru = new LRUCache<string, LruEntry>({
        max: this.opts.lruEntries,
        maxSize: this.opts.lruMaxBytes,
        sizeCalculation: (e) => Math.max(1, entryBytes(e)),
      });
    }
  }

  /** Puts a new object under `<app>/<session>`; the server names it. */
  async put(prefix: string, payload: CachePayload | Uint8Array): Promise<ObjectRef> {
    parsePrefix(prefix);
    return this.putTo(prefix, payload, `put ${prefix}`);
  }

  /** Creates or overwrites the object at a full key; its version goes up by one. */
  async update(key: string, payload: CachePayload | Uint8Array): Promise<ObjectRef> {
    parseKey(key);
    const ref = await this.putTo(key, payload, `update ${key}`);
    this.forget(ref.endpoint, key);
    return ref;
  }

  /** Appends a delta to an existing object (NotFound when there is none). */
  async patch(key: string, delta: Uint8Array): Promise<ObjectRef> {
    parseKey(key);
    const endpoint = this.defaultEndpoint();
    // In memory (a plain generator): a patch the server refused unprocessed can be sent again.
    const messages = opaquePutMessagesSync({ type: 'CMD', cmd: Buffer.from(`PATCH:${key}`) }, [delta], this.opts.chunkBytes);
    const ref = await this.doPut(endpoint, messages, `patch ${key}`, this.opts.deadlineMs);
    this.forget(ref.endpoint, key);
    return ref;
  }

  /** Fetches an object: from ref.endpoint, sending the version of the copy it holds. */
  async get(ref: ObjectRef): Promise<CacheObject> {
    parseKey(ref.key);
    const endpoint = parseEndpoint(ref.endpoint);
    const lruKey = `${endpoint.canonical}\n${ref.key}`;
    const entry = ref.version === 0 ? undefined : this.lru?.get(lruKey);
    let fetched = await this.fetch(endpoint, ref.key, entry?.version ?? 0);
    let answer = fetched.answer;
    // `received` holds only bytes of this answer (the caller may have them as they are);
    // anything built from the LRU's copy is handed out as a copy.
    let received: CacheObject | undefined;
    let fromLru: CacheObject | undefined;
    if (answer.mode === 'not-modified') {
      if (entry?.kind === 'answer' || entry?.kind === 'wire') return reread(entry); // new bytes, the caller's own
      fromLru = entry;
    }
    else if (answer.mode === 'arrow') received = { kind: 'arrow', version: answer.version, ipc: answer.ipc };
    else if (answer.mode === 'full') received = { kind: 'opaque', version: answer.version, base: answer.base, patches: answer.patches.map((p) => p.data) };
    else {
      const cached = entry?.kind === 'answer' || entry?.kind === 'wire' ? reread(entry) : entry;
      if (cached?.kind === 'opaque' && answer.version > cached.version) {
        fromLru = { ...cached, version: answer.version, patches: [...cached.patches, ...answer.patches.map((p) => copyBytes(p.data))] };
      }
    }
    if (!received && !fromLru) {
      // The copy we held went away meanwhile (or the server answered patches we cannot apply): fetch it whole.
      fetched = await this.fetch(endpoint, ref.key, 0);
      answer = fetched.answer;
      if (answer.mode === 'arrow') received = { kind: 'arrow', version: answer.version, ipc: answer.ipc };
      else if (answer.mode === 'full') received = { kind: 'opaque', version: answer.version, base: answer.base, patches: answer.patches.map((p) => p.data) };
      else throw notFound(`cache get ${ref.key} at ${endpoint.canonical}: the server answered no object to a fresh fetch`);
    }
    if (received) {
      const kept = fetched.kept;
      if (this.lru && (kept ? kept.bytes : objectBytes(received)) <= this.opts.lruMaxBytes) this.lru.set(lruKey, kept ?? copyObject(received));
      else this.lru?.delete(lruKey);
      return received;
    }
    this.lru?.set(lruKey, fromLru!);
    return copyObject(fromLru!);
  }

  /** Deletes an object (full key), a session (`<app>/<session>`) or an application (`<app>/*`). */
  async delete(keyOrPrefix: string, endpoint?: string): Promise<void> {
    const pattern = parsePath(keyOrPrefix, 'key or prefix');
    const ep = endpoint !== undefined ? parseEndpoint(endpoint) : this.defaultEndpoint();
    const what = `delete ${keyOrPrefix}`;
    await this.retrying(ep, what, async () => {
      const call = this.channel(ep).DoAction({ type: 'DELETE', body: Buffer.from(keyOrPrefix) }, new (grpcJs().Metadata)(), this.deadline());
      const results: Buffer[] = [];
      for await (const r of call as AsyncIterable<{ body: Buffer }>) results.push(r.body);
      if (results.length === 0) throw unavailable('the server sent no result');
    });
    if (this.lru) {
      for (const k of [...this.lru.keys()]) {
        const [epKey, key] = k.split('\n') as [string, string];
        if (epKey === ep.canonical && matchesKey(pattern, key)) this.lru.delete(k);
      }
    }
  }

  /** Streams a file into the cache as chunk rows (never whole in memory). */
  async upload(prefixOrKey: string, filePath: string): Promise<ObjectRef> {
    parsePutTarget(prefixOrKey);
    const what = `upload ${filePath} to ${prefixOrKey}`;
    const endpoint = this.defaultEndpoint();
    let fh: fsp.FileHandle;
    try {
      fh = await fsp.open(filePath, 'r');
    } catch (err) {
      throw FlmError.from(err, errnoOf(err) === 'ENOENT' ? ErrorCode.NotFound : ErrorCode.InvalidInput, `cache ${what}`);
    }
    try {
      const chunkBytes = this.opts.chunkBytes;
      async function* chunks(): AsyncGenerator<Uint8Array> {
        for (;;) {
          const buf = Buffer.allocUnsafe(chunkBytes);
          const { bytesRead } = await fh.read(buf, 0, chunkBytes, null);
          if (bytesRead === 0) return;
          yield buf.subarray(0, bytesRead);
        }
      }
      const messages = opaquePutMessages({ type: 'PATH', path: [prefixOrKey] }, chunks(), chunkBytes);
      const ref = await this.doPut(endpoint, messages, what, this.opts.transferDeadlineMs);
      this.forget(ref.endpoint, ref.key);
      return ref;
    } finally {
      await fh.close();
    }
  }

  /** Streams an object to a file (through a temporary file: no partial file on failure). */
  async download(ref: ObjectRef, destPath: string): Promise<void> {
    parseKey(ref.key);
    const endpoint = parseEndpoint(ref.endpoint);
    const what = `download ${ref.key} from ${endpoint.canonical}`;
    await fsp.mkdir(path.dirname(path.resolve(destPath)), { recursive: true });
    await this.retrying(endpoint, what, async () => {
      const tmp = `${destPath}.${randomBytes(6).toString('hex')}.tmp`;
      const fh = await fsp.open(tmp, 'wx');
      let ok = false;
      try {
        const reader = new AnswerReader('the answer');
        await this.getMessages(endpoint, `${ref.key}:0`, this.opts.transferDeadlineMs, async (msg) => {
          for (const row of reader.add(msg)) {
            if (row.kind !== undefined && row.kind !== 'base') throw invalidInput(`expected base rows only, got a '${row.kind}' row`);
            if (row.data.length > 0) await fh.write(row.data);
          }
        });
        const answer = reader.finish();
        if (answer.mode === 'arrow') await fh.write(answer.ipc);
        await fh.close();
        await fsp.rename(tmp, destPath);
        ok = true;
      } finally {
        if (!ok) {
          await fh.close().catch(() => undefined);
          await fsp.rm(tmp, { force: true });
        }
      }
    });
  }

  /** What the server says about one key (GetFlightInfo). */
  async info(key: string, endpoint?: string): Promise<CacheInfo> {
    parseKey(key);
    const ep = endpoint !== undefined ? parseEndpoint(endpoint) : this.defaultEndpoint();
    const res = await this.retrying(ep, `info ${key}`, () =>
      new Promise<FlightInfo>((resolve, reject) =>
        this.channel(ep).GetFlightInfo({ type: 'PATH', path: [key] }, new (grpcJs().Metadata)(), this.deadline(), (err, r) =>
          err || !r ? reject(err ?? new Error('no answer')) : resolve(r),
        ),
      ),
    );
    return toInfo(res, key, ep.canonical);
  }

  /** Every object the server holds (ListFlights). */
  async list(endpoint?: string): Promise<CacheInfo[]> {
    const ep = endpoint !== undefined ? parseEndpoint(endpoint) : this.defaultEndpoint();
    return this.retrying(ep, 'list', async () => {
      const call = this.channel(ep).ListFlights({ expression: Buffer.alloc(0) }, new (grpcJs().Metadata)(), this.deadline());
      const out: CacheInfo[] = [];
      for await (const info of call as AsyncIterable<FlightInfo>) {
        const ticket = info.endpoint[0]?.ticket?.ticket;
        const key = info.flight_descriptor?.path.join('/') || (ticket ? ticket.toString('utf8') : '');
        out.push(toInfo(info, key, ep.canonical));
      }
      return out;
    });
  }

  /** Closes every channel and empties the LRU. Idempotent. */
  close(): void {
    this.closed = true;
    this.http2?.close();
    for (const c of this.channels.values()) c.close();
    this.channels.clear();
    this.lru?.clear();
  }

  private async putTo(target: string, payload: CachePayload | Uint8Array, what: string): Promise<ObjectRef> {
    const endpoint = this.defaultEndpoint();
    const descriptor = { type: 'PATH' as const, path: [target] };
    const messages =
      payload instanceof Uint8Array
        ? opaquePutMessagesSync(descriptor, [payload], this.opts.chunkBytes)
        : payload.kind === 'opaque'
          ? opaquePutMessagesSync(descriptor, payload.chunks, this.opts.chunkBytes)
          : arrowPutMessages(descriptor, payload.ipc);
    return this.doPut(endpoint, messages, what, this.opts.deadlineMs);
  }

  private async doPut(
    endpoint: CacheEndpoint,
    messages: Iterable<OutgoingFlightData> | AsyncIterable<OutgoingFlightData>,
    what: string,
    deadlineMs: number,
  ): Promise<ObjectRef> {
    const context = `cache ${what} at ${endpoint.canonical}`;
    if (this.http2) {
      if (this.closed) throw unavailable(`cache client is closed (endpoint ${endpoint.canonical})`);
      let results: Buffer[];
      try {
        results = await this.http2.doPut(endpoint, messages, { deadlineMs });
      } catch (err) {
        // A status from the server (or the transport) names a gRPC code; anything else came from the caller's messages.
        throw callError(err, context, err instanceof CallError ? ErrorCode.Unavailable : ErrorCode.InvalidInput);
      }
      return putResultRef(results[0], context);
    }
    const call = this.channel(endpoint).DoPut(new (grpcJs().Metadata)(), this.deadline(deadlineMs));
    let failure: unknown;
    const results: Buffer[] = [];
    const finished = new Promise<void>((resolve) => {
      call.on('data', (r: { app_metadata: Buffer }) => results.push(r.app_metadata));
      call.on('error', (err) => {
        failure = err;
        resolve();
      });
      call.on('status', () => resolve());
      call.on('end', () => resolve());
    });
    const drained = (): Promise<unknown> => Promise.race([new Promise((r) => call.once('drain', r)), finished]);
    try {
      if (Symbol.iterator in messages) {
        // In-memory payloads: no await between messages unless the stream asks to wait.
        for (const m of messages) {
          if (failure) break;
          if (!call.write(m)) await drained();
        }
      } else {
        for await (const m of messages) {
          if (failure) break;
          if (!call.write(m)) await drained();
        }
      }
    } catch (err) {
      call.cancel();
      await finished;
      throw callError(err, context, ErrorCode.InvalidInput);
    }
    if (!failure) call.end();
    await finished;
    if (failure) throw callError(failure, context, ErrorCode.Unavailable);
    return putResultRef(results[0], context);
  }

  private async fetch(endpoint: CacheEndpoint, key: string, version: number): Promise<{ answer: Answer; kept?: KeptAnswer }> {
    const what = `get ${key}`;
    return this.retrying(endpoint, what, async () => {
      const reader = new AnswerReader('the answer');
      const messages: FlightData[] = [];
      const raws: (RawMessage | undefined)[] = [];
      await this.getMessages(endpoint, `${key}:${version}`, this.opts.deadlineMs, (msg, raw) => {
        messages.push(msg);
        raws.push(raw);
        reader.add(msg);
      });
      const answer = reader.finish();
      if (answer.mode !== 'full') return { answer };
      const { fresh, receivedBytes, plainBytes } = reader.decoding;
      let bytes = 0;
      if (fresh) {
        if (plainBytes < REREAD_MIN_RATIO * receivedBytes) return { answer };
        for (const m of messages) bytes += m.data_header.length + m.data_body.length + m.app_metadata.length;
        return { answer, kept: { kind: 'answer', version: answer.version, messages, bytes } };
      }
      // The caller has views into the received messages: the LRU keeps a copy of them, one buffer (read
      // again on a hit) the caller cannot reach. Only an LRU that keeps entries pays for it.
      if (this.lru === undefined) return { answer };
      let length = 0;
      for (const raw of raws) {
        if (!raw) return { answer }; // grpc-js
        length += raw.bytes.length;
      }
      // Too large to keep as one wire copy (get() may still keep a copy of the object when the object alone fits).
      if (length > this.opts.lruMaxBytes) return { answer };
      const wire = Buffer.allocUnsafeSlow(length);
      const ends: number[] = [];
      for (const raw of raws) {
        wire.set(raw!.bytes, bytes);
        bytes += raw!.bytes.length;
        ends.push(bytes);
      }
      return { answer, kept: { kind: 'wire', version: answer.version, wire, ends, bytes } };
    });
  }

  /** One DoGet; each answer message goes to `onMessage` in order (an async one holds back the next). */
  private async getMessages(
    endpoint: CacheEndpoint,
    ticket: string,
    deadlineMs: number,
    onMessage: (m: FlightData, raw?: RawMessage) => void | Promise<void>,
  ): Promise<void> {
    if (this.http2) {
      if (this.closed) throw unavailable(`cache client is closed (endpoint ${endpoint.canonical})`);
      return this.http2.doGet(endpoint, Buffer.from(ticket), { deadlineMs }, onMessage);
    }
    const call = this.channel(endpoint).DoGet({ ticket: Buffer.from(ticket) }, new (grpcJs().Metadata)(), this.deadline(deadlineMs));
    for await (const msg of call as AsyncIterable<FlightData>) await onMessage(msg);
  }

  /** Runs an idempotent call, again after UNAVAILABLE (bounded, with backoff). */
  private async retrying<T>(endpoint: CacheEndpoint, what: string, fn: () => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await fn();
      } catch (err) {
        const e = callError(err, `cache ${what} at ${endpoint.canonical}`, ErrorCode.Unavailable);
        const retryable = (err as { code?: unknown }).code === Status.UNAVAILABLE;
        if (!retryable || attempt >= this.opts.retries || this.closed) throw e;
        this.opts.logger.debug({ err: e.message, attempt }, 'cache call unavailable; retrying');
        await new Promise((r) => setTimeout(r, RETRY_BASE_MS * 2 ** attempt));
      }
    }
  }

  private defaultEndpoint(): CacheEndpoint {
    return parseEndpoint(this.opts.endpoint ?? DEFAULT_ENDPOINT);
  }

  private deadline(ms = this.opts.deadlineMs): Grpc.CallOptions {
    return { deadline: Date.now() + ms };
  }

  private forget(endpoint: string, key: string): void {
    try {
      this.lru?.delete(`${parseEndpoint(endpoint).canonical}\n${key}`);
    } catch {
      // an endpoint we cannot parse holds nothing in the LRU
    }
  }

  private channel(endpoint: CacheEndpoint): FlightServiceClient {
    if (this.closed) throw unavailable(`cache client is closed (endpoint ${endpoint.canonical})`);
    let client = this.channels.get(endpoint.canonical);
    // A channel whose connection failed waits out a reconnect backoff that grows to
    // minutes, failing every call meanwhile: a cache restarted on the same address
    // would stay unreachable that long. Replace it by a fresh channel, which
    // connects on its first call (and fails that call at once if the cache is
    // still down). In TRANSIENT_FAILURE no call is in flight on it, so none is cut.
    if (client && client.getChannel().getConnectivityState(false) === grpcJs().connectivityState.TRANSIENT_FAILURE) {
      this.channels.delete(endpoint.canonical);
      client.close();
      client = undefined;
    }
    if (!client) {
      const { flightClientConstructor, UNLIMITED_MESSAGES } = flightModule();
      const Ctor = flightClientConstructor();
      client = new Ctor(endpoint.target, this.credentials(endpoint), {
        ...UNLIMITED_MESSAGES,
        // Answers are one message of the object's size: a larger receive window than HTTP/2's
        // 64 KiB default saves a WINDOW_UPDATE round trip per 64 KiB.
        'grpc-node.flow_control_window': FLOW_CONTROL_WINDOW,
        // With the HTTP/2 transport this channel carries only short calls (delete, info, list): grpc-js's
        // keepalive guards them, a PING every keepaliveMs while calls are open and the connection dropped
        // (its calls UNAVAILABLE) when its ACK is not read within keepaliveTimeoutMs. Not when DoPut and DoGet
        // travel here too: grpc-js pings on a fixed timer however much data flows, so an answer merely queued
        // behind megabytes on a slow link, or a long put to a server that polices pings (GOAWAY
        // too_many_pings), would cut a live transfer. The HTTP/2 transport's keepalive counts any byte read
        // and backs off (transport.ts).
        ...(this.opts.keepaliveMs > 0 && this.opts.transport === 'http2'
          ? { 'grpc.keepalive_time_ms': this.opts.keepaliveMs, 'grpc.keepalive_timeout_ms': this.opts.keepaliveTimeoutMs }
          : {}),
      });
      this.channels.set(endpoint.canonical, client);
    }
    return client;
  }

  private credentials(endpoint: CacheEndpoint): Grpc.ChannelCredentials {
    if (!endpoint.tls) return grpcJs().credentials.createInsecure();
    return grpcJs().credentials.createSsl(this.caBundle() ?? null);
  }

  /** The CA file's bytes (read once), or undefined for the system roots. */
  private caBundle(): Buffer | undefined {
    if (this.opts.caFile && !this.ca) {
      try {
        this.ca = fs.readFileSync(this.opts.caFile);
      } catch (err) {
        throw FlmError.from(err, ErrorCode.InvalidInput, `cannot read the CA file ${this.opts.caFile}`);
      }
    }
    return this.ca;
  }
}

/** The operation of every error callError makes: a cache call's error is not wrapped again. */
const CACHE_CALL = 'cache call';

/** An FlmError naming the call, with the server's own words (gRPC details) when there are any. */
function callError(err: unknown, context: string, fallback: ErrorCode): FlmError {
  if (isFlmError(err) && err.operation === CACHE_CALL) return err; // already says which call
  const e = FlmError.from(err, fallback);
  const { code, details } = err as { code?: unknown; details?: unknown };
  const grpcCode = typeof code === 'number' && typeof details === 'string' && details ? code : undefined;
  const text = grpcCode !== undefined ? `${Status[grpcCode] ?? grpcCode}: ${String(details)}` : e.message;
  return new FlmError(e.code, `${context}: ${text}`, {
    cause: err,
    operation: CACHE_CALL,
    summary: e.summary,
    fields: grpcCode !== undefined ? { ...e.fields, grpcStatus: Status[grpcCode] ?? grpcCode } : e.fields,
  });
}

/** The ObjectRef in a PutResult's app_metadata (a BSON document). */
function putResultRef(meta: Buffer | undefined, context: string): ObjectRef {
  if (!meta) throw unavailable(`${context}: the server sent no PutResult`);
  let ref: ObjectRef | undefined;
  try {
    ref = objectRefFromDocument(BSON.deserialize(meta, { promoteValues: false }));
  } catch {
    ref = undefined;
  }
  if (!ref) throw unavailable(`${context}: the PutResult is not a BSON ObjectRef`);
  return ref;
}

/**
 * An opaque answer the LRU keeps as it was received, instead of a copy of the object made at every
 * get; a hit reads it again into new bytes, the caller's own, which costs about the copy it replaces.
 * - 'answer': the messages themselves, when every byte the caller got is a codec's new output (none
 *   is a view into the messages, which the caller therefore cannot reach). Only for answers that
 *   decompressed at REREAD_MIN_RATIO or more: reading them again is mostly writing the output, as a
 *   copy is; a less compressed answer would cost the codec's full work on every hit (copied instead).
 * - 'wire': when the caller got views into the messages, a copy of the messages in one buffer (each
 *   ends at `ends[i]`); a hit copies it into a new buffer and decodes that.
 */
type KeptAnswer =
  | { kind: 'answer'; version: number; messages: FlightData[]; bytes: number }
  | { kind: 'wire'; version: number; wire: Buffer; ends: number[]; bytes: number };

type LruEntry = CacheObject | KeptAnswer;

const REREAD_MIN_RATIO = 16;

/** The object of a kept answer, decoded again: new bytes, the caller's own. */
function reread(kept: KeptAnswer): CacheObject {
  const reader = new AnswerReader('the kept answer');
  if (kept.kind === 'answer') for (const m of kept.messages) reader.add(m);
  else {
    const copy = privateCopy(kept.wire);
    let start = 0;
    for (const end of kept.ends) {
      reader.add(decodeFlightData(copy.subarray(start, end)));
      start = end;
    }
  }
  const a = reader.finish();
  if (a.mode !== 'full') throw unavailable(`the kept answer of version ${kept.version} reads as '${a.mode}'`);
  return { kind: 'opaque', version: a.version, base: a.base, patches: a.patches.map((p) => p.data) };
}

function entryBytes(e: LruEntry): number {
  return e.kind === 'answer' || e.kind === 'wire' ? e.bytes : objectBytes(e);
}

function objectBytes(o: CacheObject): number {
  return o.kind === 'opaque' ? o.base.length + o.patches.reduce((n, p) => n + p.length, 0) : o.ipc.length;
}

function copyBytes(b: Uint8Array): Buffer {
  return privateCopy(b);
}

/** A copy in memory of its own: Buffer.from puts small copies in the shared pool, which a caller's bytes (`.buffer`) may reach. */
function privateCopy(b: Uint8Array): Buffer {
  const out = Buffer.allocUnsafeSlow(b.length);
  out.set(b);
  return out;
}

/** A deep copy of an object's bytes: what the LRU keeps and what it hands out never share memory. */
function copyObject(o: CacheObject): CacheObject {
  return o.kind === 'opaque'
    ? { kind: 'opaque', version: o.version, base: copyBytes(o.base), patches: o.patches.map(copyBytes) }
    : { kind: 'arrow', version: o.version, ipc: copyBytes(o.ipc) };
}

function toInfo(info: FlightInfo, key: string, fallbackEndpoint: string): CacheInfo {
  const location = info.endpoint[0]?.location[0]?.uri;
  return { key, endpoint: location || fallbackEndpoint, totalBytes: Number(info.total_bytes), schema: info.schema };
}
