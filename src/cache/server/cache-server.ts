/**
 * CacheServer: the embedded object cache, an Arrow Flight gRPC server
 * wire-compatible with Flame's `flame-object-cache` (docs/protocol.md §7).
 *
 *   const server = new CacheServer({ port: 0, storageDir });
 *   const endpoint = await server.start(); // grpc://127.0.0.1:<port>
 *   ...
 *   await server.close();
 */
import os from 'node:os';
import fs from 'node:fs/promises';
import * as grpc from '@grpc/grpc-js';
import { describeThrown, FlmError, ErrorCode, invalidInput } from '../../errors';
import { silentLogger, type Logger } from '../../log';
import { flightServiceDefinition, UNLIMITED_MESSAGES } from '../flight';
import { gracefully } from '../../util/deadline';
import { parseWholeNumber } from '../../options/values';
import { CACHE_MAX_MEMORY_BYTES } from '../../options/serve';
import { flightHandlers } from './flight-service';
import { DiskStorage } from './disk-storage';
import { ObjectTable } from './object-table';
import { PutBudget } from './put-budget';
import { SharedAnswers } from './shared-answers';
import { RawCall, takeStreams } from './raw-call';
import { tuneWindows } from './session-windows';
import { preloadZstdDecoder } from '../compression';

export interface CacheServerOptions {
  /** Address to listen on. Default `127.0.0.1`. */
  host?: string;
  /** Port; 0 picks a free one. Default 0. */
  port?: number;
  /** Persist objects here (created if missing); without it objects live in memory only. */
  storageDir?: string;
  /**
   * Bytes of object data kept in memory. Default 1 GiB. See object-table.ts for what happens past it.
   * The same figure bounds the bytes all unfinished puts hold together (put-budget.ts).
   */
  maxMemoryBytes?: number;
  /**
   * Endpoint written into ObjectRefs (clients connect to it). Default `grpc://<host>:<port>`;
   * for a wildcard host, the first non-internal IPv4 address (as Flame's server picks an interface's).
   */
  publicEndpoint?: string;
  /** Serve TLS with this PEM certificate chain and key; the endpoint scheme becomes `grpc+tls`. */
  tls?: { certChain: Buffer; privateKey: Buffer };
  /**
   * Milliseconds a DoPut may go without sending a message, and a DoGet reader
   * without taking one, before the call is ended (DEADLINE_EXCEEDED). Default 60000.
   */
  idleTimeoutMs?: number;
  /** Milliseconds close() waits for calls in flight before cutting them. Default 5000. */
  closeGraceMs?: number;
  /**
   * How DoPut and DoGet are served: 'http2' (default) on node:http2 directly (raw-call.ts), 'grpc-js' by
   * grpc-js like every other method (slower per call; kept to compare in the benchmarks).
   * FLMRUN_CACHE_SERVER_TRANSPORT=grpc-js sets the default.
   */
  transport?: 'http2' | 'grpc-js';
  logger?: Logger;
}

type State = 'new' | 'starting' | 'serving' | 'closing' | 'closed';

const DEFAULT_IDLE_TIMEOUT_MS = 60_000;
/** With storage, puts up to this size are kept in memory too, so that their first get needs no disk read. */
const RETAIN_BYTES = 1024 * 1024;
/** gRPC's own ceiling for one message; an opaque object (one Binary value) is below it. */
const MAX_MESSAGE_WITH_STORAGE = 0x7fffffff;
/** The largest message of a method other than DoPut and DoGet (when those two are served on node:http2). */
export const OTHER_METHODS_MAX_MESSAGE = 64 * 1024;

export class CacheServer {
  private readonly opts: Required<Omit<CacheServerOptions, 'storageDir' | 'publicEndpoint' | 'tls'>> &
    Pick<CacheServerOptions, 'storageDir' | 'publicEndpoint' | 'tls'>;
  private state: State = 'new';
  private server?: grpc.Server;
  private store?: ObjectTable;
  private publicEndpoint = '';
  private putBudget?: PutBudget;
  private answers?: SharedAnswers;
  private closing?: Promise<void>;

  constructor(options: CacheServerOptions = {}) {
    // Node < 22.15: the WebAssembly ZSTD decoder is ready by the first answer (the same bytes meet the same decoder).
    preloadZstdDecoder();
    const port = options.port ?? 0;
    if (!Number.isInteger(port) || port < 0 || port > 65535) throw invalidInput(`cache server port ${String(port)} is not a port number`);
    const maxMemoryBytes = parseWholeNumber(options.maxMemoryBytes ?? CACHE_MAX_MEMORY_BYTES, 'cache maxMemoryBytes', 'bytes', 1);
    const idleTimeoutMs = parseWholeNumber(options.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS, 'cache idleTimeoutMs', 'ms', 1);
    this.opts = {
      idleTimeoutMs,
      host: options.host ?? '127.0.0.1',
      port,
      maxMemoryBytes,
      closeGraceMs: options.closeGraceMs ?? 5000,
      logger: options.logger ?? silentLogger,
      storageDir: options.storageDir,
      publicEndpoint: options.publicEndpoint,
      tls: options.tls,
      transport: options.transport ?? (process.env.FLMRUN_CACHE_SERVER_TRANSPORT === 'grpc-js' ? 'grpc-js' : 'http2'),
    };
    if (this.opts.transport !== 'http2' && this.opts.transport !== 'grpc-js') {
      throw invalidInput(`cache server option transport must be 'http2' or 'grpc-js', got ${String(options.transport)}`);
    }
  }

  /** The public endpoint (after start). */
  get endpoint(): string {
    return this.publicEndpoint;
  }

  /** Bytes held now by DoPut streams that have not ended (all of them together). */
  get unfinishedPutBytes(): number {
    return this.putBudget?.bytes ?? 0;
  }

  /** How many times a full DoGet answer has been encoded (once per object version, however many readers share it). */
  get answerEncodings(): number {
    return this.answers?.encodings ?? 0;
  }

  /** DoGet calls reading a shared answer now. */
  get sharedAnswerReaders(): number {
    return this.answers?.readers ?? 0;
  }

  /** Loads storage, binds, and answers the public endpoint, e.g. `grpc://127.0.0.1:40123`. */
  async start(): Promise<string> {
    if (this.state !== 'new') throw new FlmError(ErrorCode.Internal, `cache server cannot start: it is ${this.state}`);
    this.state = 'starting';
    const { logger } = this.opts;
    try {
      let storage: DiskStorage | undefined;
      if (this.opts.storageDir) {
        await fs.mkdir(this.opts.storageDir, { recursive: true });
        storage = new DiskStorage(this.opts.storageDir, logger);
      }
      this.store = new ObjectTable(this.opts.maxMemoryBytes, storage, logger);
      const loaded = await this.store.load();
      if (storage) logger.info({ storage: this.opts.storageDir, objects: loaded }, 'cache storage loaded');

      const maxMemory = this.opts.maxMemoryBytes;
      // A message is gathered whole before the handler sees it; this refuses one that cannot be
      // stored before it is gathered (without storage an object must fit in memory).
      const maxMessage = storage ? MAX_MESSAGE_WITH_STORAGE : Math.min(maxMemory + 1024 * 1024, MAX_MESSAGE_WITH_STORAGE);
      const server = new grpc.Server({
        ...UNLIMITED_MESSAGES,
        // channelz stays on (its default): with it off, grpc-js 1.14's forceShutdown does not find the open
        // sessions, and close() with a call in flight never resolved (test/cache/server-close.test.ts).
        'grpc.max_receive_message_length': maxMessage,
      });
      const handlers = flightHandlers({
          store: this.store,
          endpoint: () => this.publicEndpoint,
          // Without storage a put must fit in memory; with it, it is bounded by the Binary column (2 GiB).
          maxPutBytes: storage ? Number.MAX_SAFE_INTEGER : maxMemory,
          putBudget: (this.putBudget = new PutBudget(maxMemory)),
          answers: (this.answers = new SharedAnswers()),
          retainBytes: Math.min(RETAIN_BYTES, Math.floor(maxMemory / 8)),
          idleTimeoutMs: this.opts.idleTimeoutMs,
          logger,
      });
      server.addService(flightServiceDefinition(), handlers);
      if (!tuneWindows(server)) logger.warn('grpc-js internals are not as expected: the cache serves with HTTP/2 default windows');
      if (this.opts.transport === 'http2') {
        const doGet = handlers.DoGet as unknown as (call: RawCall) => void;
        const doPut = handlers.DoPut as unknown as (call: RawCall) => void;
        const taken = takeStreams(
          server,
          (method, stream, headers) => {
            const call = new RawCall(stream, headers);
            if (method === 'DoPut') {
              doPut(call);
              call.readMessages('DoPut', maxMessage, () => undefined, this.putBudget);
            } else call.readMessages('DoGet', maxMessage, () => doGet(call));
          },
          // The other methods take an Action, a FlightDescriptor, a Criteria: small messages.
          OTHER_METHODS_MAX_MESSAGE,
        );
        if (!taken) logger.warn('grpc-js internals are not as expected: DoPut and DoGet are served by grpc-js');
      }
      const creds = this.opts.tls
        ? grpc.ServerCredentials.createSsl(null, [{ cert_chain: this.opts.tls.certChain, private_key: this.opts.tls.privateKey }], false)
        : grpc.ServerCredentials.createInsecure();
      const host = this.opts.host.includes(':') && !this.opts.host.startsWith('[') ? `[${this.opts.host}]` : this.opts.host;
      const port = await new Promise<number>((resolve, reject) =>
        server.bindAsync(`${host}:${this.opts.port}`, creds, (err, p) => (err ? reject(err) : resolve(p))),
      ).catch((err: unknown) => {
        throw new FlmError(ErrorCode.Unavailable, `cache server cannot listen on ${host}:${this.opts.port}: ${describeThrown(err)}`, { cause: err });
      });
      this.server = server;
      this.publicEndpoint = this.opts.publicEndpoint ?? `${this.opts.tls ? 'grpc+tls' : 'grpc'}://${publicHost(this.opts.host)}:${port}`;
      this.state = 'serving';
      logger.info({ endpoint: this.publicEndpoint }, 'object cache listening');
      return this.publicEndpoint;
    } catch (err) {
      this.state = 'closed';
      throw err;
    }
  }

  /** Stops accepting calls, waits up to closeGraceMs for calls in flight, then cuts them. Idempotent. */
  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    const server = this.server;
    this.state = 'closing';
    if (server) {
      const drained = new Promise<void>((resolve) => server.tryShutdown(() => resolve()));
      await gracefully(drained, this.opts.closeGraceMs, () => server.forceShutdown());
    }
    this.state = 'closed';
  }
}

/** The host clients should use: the bound host, or for a wildcard bind the first external IPv4. */
function publicHost(host: string): string {
  if (host === '0.0.0.0' || host === '::' || host === '[::]') {
    for (const addrs of Object.values(os.networkInterfaces())) {
      const v4 = addrs?.find((a) => a.family === 'IPv4' && !a.internal);
      if (v4) return v4.address;
    }
    return '127.0.0.1';
  }
  if (host === 'localhost') return '127.0.0.1';
  return host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
}
