/**
 * The h2-server-bytes fuzz target: the cache client's real put and get (CacheClient.put and get,
 * through Http2Transport and src/cache/h2, as every DoPut and DoGet goes) against a loopback server
 * whose answer is the input: length-prefixed chunks (mutate.ts toFrames), the bytes a server sends
 * after the client's preface. The server writes each chunk once the client has read the one before,
 * so frames split where the chunks do; it closes a connection only once the client has read all of
 * the input on it and still has a call open (a server that has said all it will). A call sent again
 * on a fresh connection (GOAWAY, never sent) meets the same input there.
 *
 * With H2TargetOptions (the h2-upload target) the put is large, a streamed upload of a file follows
 * the get (stream 5), and the server paces its chunks by the client's windows (h2-flow.ts): it starts
 * once the client has opened all three streams, and writes each next chunk only once the client has
 * sent all that the windows it was granted allow, so that every WINDOW_UPDATE meets a blocked stream.
 *
 * Judged (a broken rule is a plain Error, which the harness reports as a failure):
 * - every call settles, resolving or rejecting with the client's FlmError whose cause, if any,
 *   is the transport's CallError (a gRPC status and what went wrong) or a decoder's FlmError; an
 *   FlmError wrapping anything else is an exception that escaped the transport;
 * - a call failed because the server broke HTTP/2 finds its connection destroyed by the client, not
 *   left open (the server had not closed it: it was still waiting for the client to read);
 * - the client never sends DATA past the windows the input granted it, nor on a stream it closed
 *   (h2-flow.ts says how that is bounded whatever the timing);
 * - nothing throws out of a socket event: that kills the fuzz worker, which keeps the input;
 * - no hang, and the CPU bound per input: the harness and its worker watchdog.
 */
import dc from 'node:diagnostics_channel';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Status } from '@grpc/grpc-js/build/src/constants';
import { CacheClient } from '../../src/cache/client';
import { CallError } from '../../src/cache/call-error';
import { describeThrown, isFlmError } from '../../src/errors';
import { fromFrames } from './mutate';
import { ClientFlow, ServerGrants } from './h2-flow';

/** The object the get asks for, and the prefix the put goes to (the recorded seeds use the same: h2-seeds.ts). */
export const GET_KEY = 'app/ssn/obj';
export const PUT_PREFIX = 'app/ssn';

/** Longer than the harness's hang guard: a call that does not settle is a hang, not a deadline. */
const DEADLINE_MS = 600_000;
/** In the words of every call failed because the server's bytes broke HTTP/2 (H2Connection.protocolFailure). */
const PROTOCOL_FAILURE = 'broke the HTTP/2 protocol';

/** Polls `cond` (socket state has no event for "read so far"): at once, after `turns` turns' I/O, then every millisecond. */
async function until(cond: () => boolean, turns = 1): Promise<void> {
  if (cond()) return;
  for (let i = 0; i < turns; i++) {
    await new Promise((r) => setImmediate(r));
    if (cond()) return;
  }
  while (!cond()) await new Promise((r) => setTimeout(r, 1));
}

/** Event-loop turns a paced server polls before it waits by the millisecond: a paced input is many round trips. */
const PACED_TURNS = 200;

export interface H2TargetOptions {
  /** The put's payload, this many bytes of 'a' (as the recorded seeds put); without it, the 8 bytes 'fuzz put'. */
  putBytes?: number;
  /** A third call after the put and the get: CacheClient.upload of a file this large, streamed (stream 5); the server paces. */
  uploadBytes?: number;
}

/** The h2-upload target: a put of three windows and more (200,000 bytes > 3 x 65,535), and an upload past HIGH_WATER (1.25 MiB). */
export const H2_UPLOAD = { putBytes: 200_000, uploadBytes: 5 * 256 * 1024 } as const satisfies H2TargetOptions;

/** The rows of an upload (CacheClient chunkBytes): several writes, so that a blocked upload waits for drain (HIGH_WATER 1 MiB). */
export const UPLOAD_CHUNK_BYTES = 256 * 1024;

/**
 * The calls of one input, started in stream order: the put (1), the get (3), and with uploadBytes the
 * upload (5: it opens its file first). `uploadFile` holds uploadBytes bytes.
 */
export function startCalls(client: CacheClient, endpoint: string, opts: H2TargetOptions, uploadFile?: string): { what: string; promise: Promise<unknown> }[] {
  const payload = opts.putBytes === undefined ? Buffer.from('fuzz put') : Buffer.alloc(opts.putBytes, 0x61);
  const calls = [
    { what: 'put', promise: client.put(PUT_PREFIX, payload) },
    { what: 'get', promise: client.get({ endpoint, key: GET_KEY, version: 0 }) },
  ];
  if (opts.uploadBytes !== undefined) calls.push({ what: 'upload', promise: client.upload(PUT_PREFIX, uploadFile!) });
  return calls;
}

/** A file of `bytes` bytes of 'u' in a fresh temporary directory; `remove` deletes both. */
export function uploadFileOf(bytes: number): { file: string; remove: () => void } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'flmrun-fuzz-upload-'));
  const file = path.join(dir, 'upload.bin');
  fs.writeFileSync(file, Buffer.alloc(bytes, 0x75));
  return { file, remove: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

interface Served {
  server: net.Socket;
  /** The client's end of this connection, once matched by port. */
  client?: net.Socket;
  /** Bytes of the input written so far. */
  written: number;
  /** All of the input was written and read by the client (or the connection ended before). */
  delivered: boolean;
  /** What the client sent, against what the input granted. */
  flow: ClientFlow;
  /** The server closed this connection, and whether the client had destroyed its socket before. */
  ended: boolean;
  clientGoneFirst: boolean;
  closed: Promise<void>;
}

/** One input's connections: the client's sockets (as net.connect made them) and the server's. */
class Run {
  readonly clients: net.Socket[] = [];
  readonly served: Served[] = [];
  failure?: unknown;
  readonly grants: ServerGrants;
  constructor(
    readonly chunks: Buffer[],
    /** Paced (see the top): the streams the client opens on its first connection before the server says anything. */
    readonly paced?: { streams: number },
  ) {
    this.grants = new ServerGrants(Buffer.concat(chunks));
  }

  /** The client has read all of the input on every connection it opened. */
  get quiet(): boolean {
    return this.served.every((s) => s.delivered) && this.clients.every((c) => c.destroyed || this.served.some((s) => s.client === c));
  }
}

async function serve(run: Run, socket: net.Socket): Promise<void> {
  const served: Served = {
    server: socket,
    written: 0,
    delivered: false,
    flow: new ClientFlow(run.grants, () => served.written),
    ended: false,
    clientGoneFirst: false,
    closed: new Promise((r) => socket.once('close', () => r())),
  };
  socket.on('data', (chunk: Buffer) => served.flow.push(chunk));
  run.served.push(served);
  await until(() => socket.destroyed || run.clients.some((c) => c.localPort === socket.remotePort));
  const client = run.clients.find((c) => c.localPort === socket.remotePort);
  served.client = client;
  const gone = (): boolean => socket.destroyed || !client || client.destroyed;
  const turns = run.paced ? PACED_TURNS : 1;
  if (run.paced && run.served[0] === served) await until(() => gone() || served.flow.opened.size >= run.paced!.streams, turns);
  for (const chunk of run.chunks) {
    if (gone()) break;
    socket.write(chunk);
    served.written += chunk.length;
    await until(() => gone() || (client!.bytesRead >= served.written && (!run.paced || served.flow.idle)), turns);
  }
  served.delivered = true;
}

/** A call's rejection as the harness judges it: the FlmError itself when it is a proper refusal, else a plain Error. */
function refusal(what: string, err: unknown): unknown {
  if (!isFlmError(err)) return new Error(`the ${what} rejected with something other than an FlmError: ${describeThrown(err)}`, { cause: err });
  const cause = err.cause;
  if (cause instanceof CallError) {
    if (Status[cause.code] === undefined || !cause.details) return new Error(`the ${what} failed with a CallError without a gRPC status and words: ${describeThrown(cause)}`, { cause: err });
  } else if (cause !== undefined && !isFlmError(cause)) {
    return new Error(`the ${what} failed with an exception that escaped the transport: ${describeThrown(cause)}`, { cause: err });
  }
  return err;
}

export interface H2Target {
  run(input: Buffer): Promise<void>;
  close(): Promise<void>;
}

export async function startH2ServerBytes(opts: H2TargetOptions = {}): Promise<H2Target> {
  let current: Run | undefined;
  const onClientSocket = (message: unknown): void => {
    current?.clients.push((message as { socket: net.Socket }).socket);
  };
  dc.subscribe('net.client.socket', onClientSocket);
  const server = net.createServer((socket) => {
    socket.on('error', () => undefined);
    // Each chunk goes out as it is written (Nagle's algorithm would hold a small one for the client's delayed ACK).
    socket.setNoDelay(true);
    const run = current;
    if (!run) return void socket.destroy();
    serve(run, socket).catch((err: unknown) => (run.failure ??= err));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const endpoint = `grpc://127.0.0.1:${(server.address() as net.AddressInfo).port}`;
  const upload = opts.uploadBytes === undefined ? undefined : uploadFileOf(opts.uploadBytes);
  const paced = opts.putBytes !== undefined || upload !== undefined;

  async function run(input: Buffer): Promise<void> {
    const r = new Run(fromFrames(input), paced ? { streams: upload ? 3 : 2 } : undefined);
    current = r;
    // No retries and no keepalive: each call is one attempt (plus the transport's own replay of an
    // unprocessed one), and only the server's bytes and its closing end it.
    const client = new CacheClient({
      endpoint, retries: 0, keepaliveMs: 0, deadlineMs: DEADLINE_MS, lruEntries: 0,
      ...(upload && { transferDeadlineMs: DEADLINE_MS, chunkBytes: UPLOAD_CHUNK_BYTES }),
    });
    // In this order: the put is stream 1, the get stream 3 (as in the recorded seeds), the upload 5.
    const calls = startCalls(client, endpoint, opts, upload?.file).map((c) => {
      const call = { what: c.what, done: false, error: undefined as unknown, settled: Promise.resolve() };
      call.settled = c.promise.then(
        () => void (call.done = true),
        (err: unknown) => {
          call.error = err ?? new Error(`rejected with ${String(err)}`);
          call.done = true;
        },
      );
      return call;
    });
    const settled = Promise.all(calls.map((c) => c.settled));
    let tornDown: boolean;
    try {
      for (;;) {
        await until(() => calls.every((c) => c.done) || (r.quiet && r.served.some((s) => !s.ended)));
        if (calls.every((c) => c.done)) break;
        // Calls still open with all of the input read: the server closes, as one with nothing more to say.
        for (const s of r.served) {
          if (s.ended) continue;
          s.clientGoneFirst = s.client?.destroyed ?? false;
          s.ended = true;
          s.server.end();
        }
      }
      await settled;
      tornDown = r.served.some((s) => (s.ended ? s.clientGoneFirst : s.client?.destroyed === true));
    } finally {
      client.close();
      for (const s of r.served) s.server.end();
      await Promise.all(r.served.map((s) => s.closed));
      await until(() => r.clients.every((c) => c.destroyed));
      current = undefined;
    }
    // Judged once the connections are closed, so that the server has read all the client sent.
    if (r.failure !== undefined) throw new Error(`the fuzz server failed: ${describeThrown(r.failure)}`, { cause: r.failure });
    const violation = r.served.find((s) => s.flow.violation)?.flow.violation;
    if (violation) throw violation;
    if (!tornDown && calls.some((c) => c.error !== undefined && isFlmError(c.error) && c.error.message.includes(PROTOCOL_FAILURE))) {
      throw new Error('a call failed as the server broke HTTP/2, but the client left the connection open');
    }
    // Every rejection is judged (a bad one fails the input even when another call's is fine), then the first is the refusal.
    const judged = calls.filter((c) => c.error !== undefined).map((c) => refusal(c.what, c.error));
    const broken = judged.find((e) => !isFlmError(e));
    if (broken !== undefined || judged.length > 0) throw broken ?? judged[0];
  }

  async function close(): Promise<void> {
    dc.unsubscribe('net.client.socket', onClientSocket);
    await new Promise((r) => server.close(r));
    upload?.remove();
  }

  return { run, close };
}
