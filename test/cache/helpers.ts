/** Shared pieces of the cache tests: a server on a loopback port, and a raw Flight client to look at the wire. */
import http2 from 'node:http2';
import type net from 'node:net';
import { parseEndpoint, type CacheEndpoint } from '../../src/cache/endpoint';
import * as grpc from '@grpc/grpc-js';
import { CacheServer, type CacheServerOptions } from '../../src/cache/server/cache-server';
import { flightClientConstructor, UNLIMITED_MESSAGES, type FlightServiceClient } from '../../src/cache/flight';
import { decodeFlightData, encodeFlightData, type FlightData, type OutgoingFlightData } from '../../src/cache/flight-data';
import { MessageReader } from '../../src/cache/grpc-messages';
import { decodeMessage, schemaOf } from '../../src/wire/ipc';
import { plainBatch } from '../../src/cache/plain-batch';
import { opaqueLayout, readRows, type OpaqueRow } from '../../src/cache/opaque';
import type { Schema } from 'apache-arrow';
import { CallError } from '../../src/cache/call-error';

export async function startServer(opts: CacheServerOptions = {}): Promise<{ server: CacheServer; endpoint: string }> {
  const server = new CacheServer({ port: 0, closeGraceMs: 1000, ...opts });
  const endpoint = await server.start();
  return { server, endpoint };
}

export function rawClient(endpoint: string): FlightServiceClient {
  const Ctor = flightClientConstructor();
  return new Ctor(endpoint.replace(/^grpc:\/\//, ''), grpc.credentials.createInsecure(), { ...UNLIMITED_MESSAGES });
}

export interface RawAnswer {
  schema: Schema;
  messages: FlightData[];
  rows: OpaqueRow[];
}

/** DoGet with a raw ticket; the rows as they travelled. */
export async function rawGet(client: FlightServiceClient, ticket: string | Buffer): Promise<RawAnswer> {
  const call = client.DoGet({ ticket: Buffer.isBuffer(ticket) ? ticket : Buffer.from(ticket) }, new grpc.Metadata(), {});
  const messages: FlightData[] = [];
  for await (const m of call as AsyncIterable<FlightData>) messages.push(m);
  const schema = schemaOf(decodeMessage(messages[0]!.data_header));
  const rows: OpaqueRow[] = [];
  if (schema.metadata.get('flame.cache.format') !== 'arrow-table-v1') {
    const layout = opaqueLayout(schema);
    for (const m of messages.slice(1)) rows.push(...readRows(layout, plainBatch(decodeMessage(m.data_header), m.data_body)));
  }
  return { schema, messages, rows };
}

/** DoPut of raw messages; resolves to the PutResult metadata or rejects with the gRPC error. */
export function rawPut(client: FlightServiceClient, messages: OutgoingFlightData[], opts: { cancelAfter?: number } = {}): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const call = client.DoPut(new grpc.Metadata(), {});
    let result: Buffer | undefined;
    call.on('data', (r: { app_metadata: Buffer }) => (result = r.app_metadata));
    call.on('error', reject);
    call.on('status', (s: grpc.StatusObject) => {
      if (s.code !== grpc.status.OK) return;
      if (result) resolve(result);
      else reject(new Error('no PutResult'));
    });
    messages.forEach((m, i) => {
      if (opts.cancelAfter !== undefined && i >= opts.cancelAfter) return;
      call.write(m);
    });
    if (opts.cancelAfter !== undefined) setTimeout(() => call.cancel(), 100);
    else call.end();
  });
}

/** The gRPC status code of a rejected promise. */
export async function grpcCode(p: Promise<unknown>): Promise<{ code: number; details: string }> {
  try {
    await p;
  } catch (err) {
    const e = err as { code: number; details: string };
    return { code: e.code, details: e.details };
  }
  throw new Error('expected the call to fail');
}

/**
 * A DoPut cut mid-way as a crashed client or a lost connection cuts it: gRPC frames
 * (the last one possibly torn in half) and then the TCP connection goes, with no END_STREAM.
 */
export async function cutPut(endpoint: string, messages: OutgoingFlightData[], tearLastInHalf = false): Promise<void> {
  const { session, stream } = rawFlightStream(endpoint, 'DoPut');
  stream.on('data', () => undefined);
  messages.forEach((m, i) => {
    const body = encodeFlightData(m);
    const frame = grpcFrame(body);
    stream.write(tearLastInHalf && i === messages.length - 1 ? frame.subarray(0, 5 + (body.length >> 1)) : frame);
  });
  await new Promise((r) => setTimeout(r, 100)); // the frames reach the server
  session.destroy();
  await new Promise((r) => setTimeout(r, 100)); // the server notices the cut
}

/**
 * A DoGet over a plain HTTP/2 stream that reads nothing until `read()`: the
 * stream is paused before any byte arrives, so HTTP/2 flow control (64 KiB
 * window) holds the server's answer back. A grpc-js client cannot do this: its
 * stream reads ahead up to its high-water mark even while paused.
 */
export function heldGet(endpoint: string, ticket: Buffer): { read: () => Promise<FlightData[]>; close: () => void } {
  // Ticket { bytes ticket = 1; } with a one-byte length (tickets here are short).
  if (ticket.length > 127) throw new Error('heldGet: ticket too long');
  const { session, stream } = rawFlightStream(endpoint, 'DoGet');
  stream.pause();
  stream.end(grpcFrame(Buffer.concat([Buffer.from([0x0a, ticket.length]), ticket])));
  const read = (): Promise<FlightData[]> =>
    new Promise((resolve, reject) => {
      const messages: FlightData[] = [];
      const reader = new MessageReader((m) => messages.push(decodeFlightData(m)));
      let status: string | undefined;
      stream.on('trailers', (t) => (status = String(t['grpc-status'])));
      stream.on('data', (chunk: Buffer) => reader.push(chunk));
      stream.on('error', reject);
      stream.on('end', () => (status === '0' ? resolve(messages) : reject(new Error(`DoGet ended with grpc-status ${status}`))));
      stream.resume();
    });
  return { read, close: () => session.close() };
}

/** A Flight call as a bare HTTP/2 stream (errors swallowed: the tests look at what the server does). */
function rawFlightStream(endpoint: string, method: 'DoGet' | 'DoPut'): { session: http2.ClientHttp2Session; stream: http2.ClientHttp2Stream } {
  const session = http2.connect(endpoint.replace(/^grpc:/, 'http:'));
  session.on('error', () => undefined);
  const stream = session.request({ ':method': 'POST', ':path': `/arrow.flight.protocol.FlightService/${method}`, 'content-type': 'application/grpc', te: 'trailers' });
  stream.on('error', () => undefined);
  return { session, stream };
}

/** One uncompressed gRPC message: flag byte, 4-byte length, body. */
function grpcFrame(body: Buffer): Buffer {
  const frame = Buffer.alloc(5 + body.length);
  frame.writeUInt32BE(body.length, 1);
  body.copy(frame, 5);
  return frame;
}

/** Listens `server` on a loopback port: the endpoint a client reaches it at (grpc://, plain TCP). */
export async function listenLoopback(server: net.Server | http2.Http2Server): Promise<CacheEndpoint> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return parseEndpoint(`grpc://127.0.0.1:${(server.address() as net.AddressInfo).port}`);
}

/** The CallError a call fails with (the test fails if the call succeeds or fails otherwise). */
export async function callFailure(p: Promise<unknown>): Promise<CallError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(CallError);
    return err as CallError;
  }
  throw new Error('the call succeeded');
}
