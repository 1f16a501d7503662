/**
 * The h2-server-bytes fuzz target: the cache client's real put and get (CacheClient.put and get,
 * through Http2Transport and src/cache/h2, as every DoPut and DoGet goes) against a loopback server
 * whose answer is the input: length-prefixed chunks (mutate.ts toFrames), the bytes a server sends
 * after the client's preface. The server writes each chunk once the client has read the one before,
 * so frames split where the chunks do; it closes a connection only once the client has read all of
 * the input on it and still has a call open (a server that has said all it will). A call sent again
 * on a fresh connection (GOAWAY, never sent) meets the same input there.
 *
 * Judged (a broken rule is a plain Error, which the harness reports as a failure):
 * - both calls settle, each resolving or rejecting with the client's FlmError whose cause, if any,
 *   is the transport's CallError (a gRPC status and what went wrong) or a decoder's FlmError; an
 *   FlmError wrapping anything else is an exception that escaped the transport;
 * - a call failed because the server broke HTTP/2 finds its connection destroyed by the client, not
 *   left open (the server had not closed it: it was still waiting for the client to read);
 * - nothing throws out of a socket event: that kills the fuzz worker, which keeps the input;
 * - no hang, and the CPU bound per input: the harness and its worker watchdog.
 */
import dc from 'node:diagnostics_channel';
import net from 'node:net';
import { Status } from '@grpc/grpc-js/build/src/constants';
import { CacheClient } from '../../src/cache/client';
import { CallError } from '../../src/cache/call-error';
import { describeThrown, isFlmError } from '../../src/errors';
import { fromFrames } from './mutate';

/** The object the get asks for, and the prefix the put goes to (the recorded seeds use the same: h2-seeds.ts). */
export const GET_KEY = 'app/ssn/obj';
export const PUT_PREFIX = 'app/ssn';

/** Longer than the harness's hang guard: a call that does not settle is a hang, not a deadline. */
const DEADLINE_MS = 600_000;
/** In the words of every call failed because the server's bytes broke HTTP/2 (H2Connection.protocolFailure). */
const PROTOCOL_FAILURE = 'broke the HTTP/2 protocol';

/** Polls `cond` (socket state has no event for "read so far"): at once, after this turn's I/O, then every millisecond. */
async function until(cond: () => boolean): Promise<void> {
  if (cond()) return;
  await new Promise((r) => setImmediate(r));
  while (!cond()) await new Promise((r) => setTimeout(r, 1));
}

interface Served {
  server: net.Socket;
  /** The client's end of this connection, once matched by port. */
  client?: net.Socket;
  /** All of the input was written and read by the client (or the connection ended before). */
  delivered: boolean;
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
  constructor(readonly chunks: Buffer[]) {}

  /** The client has read all of the input on every connection it opened. */
  get quiet(): boolean {
    return this.served.every((s) => s.delivered) && this.clients.every((c) => c.destroyed || this.served.some((s) => s.client === c));
  }
}

async function serve(run: Run, socket: net.Socket): Promise<void> {
  const served: Served = { server: socket, delivered: false, ended: false, clientGoneFirst: false, closed: new Promise((r) => socket.once('close', () => r())) };
  run.served.push(served);
  await until(() => socket.destroyed || run.clients.some((c) => c.localPort === socket.remotePort));
  const client = run.clients.find((c) => c.localPort === socket.remotePort);
  served.client = client;
  let written = 0;
  for (const chunk of run.chunks) {
    if (!client || socket.destroyed || client.destroyed) break;
    socket.write(chunk);
    written += chunk.length;
    await until(() => socket.destroyed || client.destroyed || client.bytesRead >= written);
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

export async function startH2ServerBytes(): Promise<H2Target> {
  let current: Run | undefined;
  const onClientSocket = (message: unknown): void => {
    current?.clients.push((message as { socket: net.Socket }).socket);
  };
  dc.subscribe('net.client.socket', onClientSocket);
  const server = net.createServer((socket) => {
    socket.on('error', () => undefined);
    // Each chunk goes out as it is written (Nagle's algorithm would hold a small one for the client's delayed ACK).
    socket.setNoDelay(true);
    socket.resume(); // what the client sends is not looked at
    const run = current;
    if (!run) return void socket.destroy();
    serve(run, socket).catch((err: unknown) => (run.failure ??= err));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const endpoint = `grpc://127.0.0.1:${(server.address() as net.AddressInfo).port}`;

  async function run(input: Buffer): Promise<void> {
    const r = new Run(fromFrames(input));
    current = r;
    // No retries and no keepalive: each call is one attempt (plus the transport's own replay of an
    // unprocessed one), and only the server's bytes and its closing end it.
    const client = new CacheClient({ endpoint, retries: 0, keepaliveMs: 0, deadlineMs: DEADLINE_MS, lruEntries: 0 });
    const calls = [
      { what: 'put', done: false, error: undefined as unknown },
      { what: 'get', done: false, error: undefined as unknown },
    ];
    const settle = (i: number, p: Promise<unknown>): Promise<void> =>
      p.then(
        () => void (calls[i]!.done = true),
        (err: unknown) => {
          calls[i]!.error = err ?? new Error(`rejected with ${String(err)}`);
          calls[i]!.done = true;
        },
      );
    // In this order: the put is stream 1, the get stream 3 (as in the recorded seeds).
    const settled = Promise.all([settle(0, client.put(PUT_PREFIX, Buffer.from('fuzz put'))), settle(1, client.get({ endpoint, key: GET_KEY, version: 0 }))]);
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
      if (r.failure !== undefined) throw new Error(`the fuzz server failed: ${describeThrown(r.failure)}`, { cause: r.failure });
      if (calls.some((c) => c.error !== undefined && isFlmError(c.error) && c.error.message.includes(PROTOCOL_FAILURE))) {
        const tornDown = r.served.some((s) => (s.ended ? s.clientGoneFirst : s.client?.destroyed === true));
        if (!tornDown) throw new Error('a call failed as the server broke HTTP/2, but the client left the connection open');
      }
      // Every rejection is judged (a bad one fails the input even when the other call's is fine), then the first is the refusal.
      const judged = calls.filter((c) => c.error !== undefined).map((c) => refusal(c.what, c.error));
      const broken = judged.find((e) => !isFlmError(e));
      if (broken !== undefined || judged.length > 0) throw broken ?? judged[0];
    } finally {
      client.close();
      for (const s of r.served) s.server.end();
      await Promise.all(r.served.map((s) => s.closed));
      await until(() => r.clients.every((c) => c.destroyed));
      current = undefined;
    }
  }

  async function close(): Promise<void> {
    dc.unsubscribe('net.client.socket', onClientSocket);
    await new Promise((r) => server.close(r));
  }

  return { run, close };
}
