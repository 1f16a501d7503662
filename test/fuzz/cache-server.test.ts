/**
 * Fuzzing a live CacheServer (issue 6, item 3): mutated DoPut streams and
 * DoGet tickets as raw bytes through a gRPC client on 127.0.0.1. Every call
 * must end with a proper gRPC status (OK, or a refusal code with details), and
 * the server must still serve afterwards.
 */
import * as grpc from '@grpc/grpc-js';
import { invalidInput } from '../../src/errors';
import { CacheClient } from '../../src/cache/client';
import type { CacheServer } from '../../src/cache/server/cache-server';
import { startServer } from '../cache/helpers';
import { corpusOf, checkAsync, fuzzAsync, testTimeoutMs } from './harness';
import { fromFrames, fuzzBytes, fuzzSequences, toFrames } from './mutate';
import { putStreams } from './stream-seeds';

const SHORT_RUNS = 300;
const REFUSALS = new Set([grpc.status.INVALID_ARGUMENT, grpc.status.NOT_FOUND, grpc.status.RESOURCE_EXHAUSTED]);
const identity = (b: Buffer): Buffer => b;

const RawFlight = grpc.makeGenericClientConstructor({
  DoPut: { path: '/arrow.flight.protocol.FlightService/DoPut', requestStream: true, responseStream: true, requestSerialize: identity, requestDeserialize: identity, responseSerialize: identity, responseDeserialize: identity },
  DoGet: { path: '/arrow.flight.protocol.FlightService/DoGet', requestStream: false, responseStream: true, requestSerialize: identity, requestDeserialize: identity, responseSerialize: identity, responseDeserialize: identity },
}, 'FlightService');

let server: CacheServer;
let raw: grpc.Client & Record<string, (...args: unknown[]) => grpc.ClientDuplexStream<Buffer, Buffer> & grpc.ClientReadableStream<Buffer>>;
let client: CacheClient;
let calls = 0;

beforeAll(async () => {
  const started = await startServer({ maxMemoryBytes: 4 << 20 });
  server = started.server;
  raw = new RawFlight(started.endpoint.replace(/^grpc:\/\//, ''), grpc.credentials.createInsecure()) as typeof raw;
  client = new CacheClient({ endpoint: started.endpoint });
});

afterAll(async () => {
  raw.close();
  client.close();
  await server.close();
});

async function stillServes(): Promise<void> {
  const ref = await client.put('health/check', Buffer.from('ok'));
  const obj = await client.get(ref);
  if (obj.kind !== 'opaque' || obj.base.toString() !== 'ok') throw new Error('the server no longer serves');
}

/** The end of one call as the harness wants it: OK accepted, a refusal an FlmError, anything else a failure. */
function judged(status: grpc.StatusObject): void {
  if (status.code === grpc.status.OK) return;
  if (REFUSALS.has(status.code) && status.details) throw invalidInput(`refused: ${status.details}`);
  throw new Error(`unexpected gRPC status ${grpc.status[status.code]}: ${status.details}`);
}

function endOf(call: grpc.ClientReadableStream<Buffer> | grpc.ClientDuplexStream<Buffer, Buffer>): Promise<grpc.StatusObject> {
  return new Promise((resolve) => {
    call.on('data', () => undefined);
    call.on('error', () => undefined);
    call.on('status', resolve);
  });
}

async function doPut(frames: Buffer): Promise<void> {
  const call = raw.DoPut!() as grpc.ClientDuplexStream<Buffer, Buffer>;
  const end = endOf(call);
  for (const m of fromFrames(frames)) call.write(m);
  call.end();
  judged(await end);
  if (++calls % 100 === 0) await stillServes();
}

async function doGet(ticket: Buffer): Promise<void> {
  // Ticket { bytes ticket = 1; } written by hand, so that any bytes at all can be the ticket.
  const len: number[] = [];
  for (let n = ticket.length; ; n >>>= 7) {
    if (n < 0x80) { len.push(n); break; }
    len.push((n & 0x7f) | 0x80);
  }
  const call = raw.DoGet!(Buffer.concat([Buffer.from([0x0a, ...len]), ticket])) as grpc.ClientReadableStream<Buffer>;
  judged(await endOf(call));
  if (++calls % 100 === 0) await stillServes();
}

const TICKETS = ['app/ssn/obj:0', 'app/ssn/obj:3', 'app/ssn/obj', 'health/check/x:1', 'a/b/c:999999999999999'].map((t) => Buffer.from(t));

describe.each([
  ['server-doput', doPut, async () => fuzzSequences(await putStreams()).map(toFrames)],
  ['server-doget-ticket', doGet, () => fuzzBytes(TICKETS, { maxRandomLength: 64 })],
] as const)('fuzz %s', (name, call, inputs) => {
  it('replays its corpus', async () => {
    for (const { file, input } of corpusOf(name)) expect([file, await checkAsync(name, input, call)]).toEqual([file, expect.stringMatching(/accepted|refused/)]);
  }, testTimeoutMs(0));

  it('answers every mutated call with a proper status and keeps serving', async () => {
    const stats = await fuzzAsync(name, await inputs(), call, SHORT_RUNS);
    expect(stats.failures).toBe(0);
    expect(stats.refused).toBeGreaterThan(0);
    await stillServes();
  }, testTimeoutMs(SHORT_RUNS, 20));
});
