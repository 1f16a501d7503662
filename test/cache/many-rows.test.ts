/**
 * Puts whose messages carry many tiny rows (src/cache/server/put-receiver.ts mergeSmallRuns): stored whole,
 * held as a few buffers rather than one view per row, and no crash of the call.
 */
import * as grpc from '@grpc/grpc-js';
import { BSON } from 'bson';
import pino from 'pino';
import { Binary, Field, Schema } from 'apache-arrow';
import { BufferRegion, FieldNode } from 'apache-arrow/ipc/metadata/message';
import { decodeFlightDataLenient, encodeFlightData, type OutgoingFlightData } from '../../src/cache/flight-data';
import { encodeBatchHeader, encodeSchema, RecordBatchHeader } from '../../src/wire/ipc';
import { mergeSmallRuns, PutReceiver } from '../../src/cache/server/put-receiver';
import { PutBudget } from '../../src/cache/server/put-budget';
import { CacheClient } from '../../src/cache/client';
import { rawClient, rawGet, rawPut, startServer } from './helpers';

const DATA_ONLY_SCHEMA = encodeSchema(new Schema([new Field('data', new Binary(), false)]));

/** One batch of `rows` rows of the data-only schema, each row `rowBytes` bytes; the values are `values`. */
function manyRows(rows: number, rowBytes: number): { msg: OutgoingFlightData; values: Buffer } {
  const offsetsBytes = (rows + 1) * 4;
  const offsetsPadded = offsetsBytes + ((8 - (offsetsBytes % 8)) % 8);
  const values = Buffer.alloc(rows * rowBytes);
  for (let i = 0; i < values.length; i++) values[i] = (i * 7 + 3) & 0xff;
  const body = Buffer.alloc(offsetsPadded + values.length + ((8 - (values.length % 8)) % 8));
  for (let i = 0; i <= rows; i++) body.writeInt32LE(i * rowBytes, i * 4);
  values.copy(body, offsetsPadded);
  const header = encodeBatchHeader(
    new RecordBatchHeader(rows, [new FieldNode(rows, 0)], [new BufferRegion(0, 0), new BufferRegion(0, offsetsBytes), new BufferRegion(offsetsPadded, values.length)], null),
    body.length,
  );
  return { msg: { data_header: header, data_body: body }, values };
}

test('mergeSmallRuns joins runs of short views, keeps long ones and a lone short one as they are', () => {
  const long = Buffer.alloc(4096, 1);
  const lone = [Buffer.from('x')];
  expect(mergeSmallRuns(lone)[0]).toBe(lone[0]);
  const views = [Buffer.from('a'), Buffer.from('bc'), long, Buffer.from('d'), long, Buffer.from('e'), Buffer.from('f')];
  const merged = mergeSmallRuns(views);
  expect(merged.map((v) => Buffer.from(v).toString('latin1'))).toEqual(['abc', long.toString('latin1'), 'd', long.toString('latin1'), 'ef']);
  expect(merged[1]).toBe(long);
  expect(Buffer.concat(merged).equals(Buffer.concat(views))).toBe(true);
});

test('a put receiver holds a message of 200,000 one-byte rows as one buffer, not a view per row', async () => {
  const budget = new PutBudget(64 << 20);
  const receiver = new PutReceiver({ maxBytes: 64 << 20, budget });
  const { msg, values } = manyRows(200_000, 1);
  const asReceived = (m: OutgoingFlightData) => decodeFlightDataLenient(encodeFlightData(m));
  await receiver.add(asReceived({ flight_descriptor: { type: 'PATH', path: ['many/s'] }, data_header: DATA_ONLY_SCHEMA }));
  await receiver.add(asReceived(msg));
  const req = receiver.finish();
  expect(req.op).toBe('put');
  const value = req.op === 'put' ? req.value : undefined;
  expect(value?.kind).toBe('opaque');
  const chunks = value?.kind === 'opaque' ? value.chunks : [];
  expect(chunks.length).toBe(1);
  expect(Buffer.concat(chunks).equals(values)).toBe(true);
  await receiver.close();
  expect(budget.bytes).toBe(0);
});

test('a 1 MB put of 200,000 one-byte rows (twice over, and a patch of them) is stored whole; no error is logged, the server keeps serving', async () => {
  const lines: string[] = [];
  const logger = pino({ level: 'warn' }, { write: (line: string) => void lines.push(line) });
  const { server, endpoint } = await startServer({ logger });
  const raw = rawClient(endpoint);
  const client = new CacheClient({ endpoint, lruEntries: 0 });
  try {
    const { msg, values } = manyRows(200_000, 1);
    const schemaMsg = { flight_descriptor: { type: 'PATH' as const, path: ['many/s'] }, data_header: DATA_ONLY_SCHEMA };
    const key = BSON.deserialize(await rawPut(raw, [schemaMsg, msg, msg])).key as string;
    const got = await rawGet(raw, `${key}:0`);
    expect(got.rows.length).toBe(1);
    expect(Buffer.from(got.rows[0]!.data).equals(Buffer.concat([values, values]))).toBe(true);
    await rawPut(raw, [{ flight_descriptor: { type: 'CMD', cmd: Buffer.from(`PATCH:${key}`) }, data_header: DATA_ONLY_SCHEMA }, msg]);
    const patched = await rawGet(raw, `${key}:0`);
    expect(patched.rows.map((r) => r.data.length)).toEqual([400_000, 200_000]);
    const ref = await client.put('many/after', Buffer.from('still serving'));
    const after = await client.get(ref);
    expect(after.kind === 'opaque' && after.base.toString()).toBe('still serving');
    expect(lines.filter((l) => (JSON.parse(l) as { level: number }).level >= 50)).toEqual([]);
  } finally {
    client.close();
    raw.close();
    await server.close();
  }
}, 30_000);

test('refusals of such puts are still clear statuses', async () => {
  const { server, endpoint } = await startServer({ maxMemoryBytes: 100_000 });
  const raw = rawClient(endpoint);
  try {
    const { msg } = manyRows(200_000, 1);
    const schemaMsg = { flight_descriptor: { type: 'PATH' as const, path: ['many/s'] }, data_header: DATA_ONLY_SCHEMA };
    await expect(rawPut(raw, [schemaMsg, msg])).rejects.toMatchObject({ code: grpc.status.RESOURCE_EXHAUSTED });
  } finally {
    raw.close();
    await server.close();
  }
});
