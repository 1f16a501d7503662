/**
 * Large DoPut messages kept as their chunks (src/cache/server/received-parts.ts):
 * the same messages, fields and rows as the one-buffer path, wherever the chunk
 * boundaries fall, and the same refusals.
 */
import { BSON } from 'bson';
import { Binary, Field, Schema, Uint64, Utf8 } from 'apache-arrow';
import { CallError, frameFlightData } from '../../src/cache/transport';
import { decodeFlightData, encodeFlightData } from '../../src/cache/flight-data';
import { encodeRow, opaqueLayout, PUT_SCHEMA, PUT_SCHEMA_HEADER, readRows } from '../../src/cache/opaque';
import { plainBatch } from '../../src/cache/plain-batch';
import { decodeMessage, encodeBatchHeader, encodeSchema, RecordBatchHeader } from '../../src/wire/ipc';
import { BufferRegion, FieldNode } from 'apache-arrow/ipc/metadata/message';
import { FlmError, ErrorCode } from '../../src/errors';
import { decodeReceived, KEEP_PARTS_FROM, opaqueRowsFromParts } from '../../src/cache/server/received-parts';
import { PartsReader } from '../../src/cache/grpc-messages';
import { rawClient, rawGet, rawPut, startServer } from './helpers';

/** Cuts `buf` into pieces of the given sizes, cycling through them. */
function cut(buf: Buffer, sizes: number[]): Buffer[] {
  const out: Buffer[] = [];
  for (let pos = 0, i = 0; pos < buf.length; i++) {
    const n = sizes[i % sizes.length]!;
    out.push(buf.subarray(pos, pos + n));
    pos += n;
  }
  return out;
}

function filled(n: number, seed: number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + seed) & 0xff;
  return b;
}

test('PartsReader gives every message whole wherever the chunks are cut; a large one as views, not copies', () => {
  const small = Buffer.concat(frameFlightData({ data_header: PUT_SCHEMA_HEADER }));
  const big = Buffer.concat(frameFlightData({ data_header: PUT_SCHEMA_HEADER, data_body: filled(KEEP_PARTS_FROM + 3, 1) }));
  const empty = Buffer.from([0, 0, 0, 0, 0]);
  const stream = Buffer.concat([small, empty, big, small]);
  for (const sizes of [[1], [3, 7], [16384], [stream.length]]) {
    const got: Buffer[] = [];
    const allViews: boolean[] = [];
    const reader = new PartsReader((parts, length) => {
      allViews.push(parts.every((p) => p.buffer === stream.buffer));
      got.push(Buffer.concat(parts, length));
    }, Infinity);
    for (const c of cut(stream, sizes)) reader.push(c);
    expect(reader.partial).toBe(false);
    expect(got.map((g) => g.length)).toEqual([small.length - 5, 0, big.length - 5, small.length - 5]);
    expect(got[2]!.equals(big.subarray(5))).toBe(true);
    expect(allViews[2]).toBe(true); // the large message: views of the chunks, nothing copied
  }
});

test('PartsReader: a prefix that ends its chunk adds no empty part', () => {
  const message = filled(100, 2);
  const prefix = Buffer.from([0, 0, 0, 0, message.length]);
  const parts: Buffer[][] = [];
  const reader = new PartsReader((p) => parts.push(p), Infinity);
  reader.push(prefix);
  reader.push(message);
  expect(parts.map((p) => p.length)).toEqual([1]);
  expect(parts[0]![0]!.equals(message)).toBe(true);
});

test('PartsReader refuses a compressed message and one over the limit at its prefix', () => {
  const refuse = (bytes: number[], max: number): unknown => {
    try {
      new PartsReader(() => undefined, max).push(Buffer.from(bytes));
    } catch (err) {
      return err;
    }
    return undefined;
  };
  expect(refuse([1, 0, 0, 0, 1, 0], Infinity)).toBeInstanceOf(CallError);
  expect(refuse([0, 0, 0, 1, 0], 10)).toMatchObject({ code: 8 }); // RESOURCE_EXHAUSTED
});

test('decodeReceived: the fields of a large FlightData in any order, its body as parts; garbage as the one-buffer decoder says', () => {
  const body = filled(KEEP_PARTS_FROM + 100, 2);
  const meta = Buffer.from('meta');
  const msg = encodeFlightData({ flight_descriptor: { type: 'PATH', path: ['a/b'] }, data_header: PUT_SCHEMA_HEADER, app_metadata: meta, data_body: body });
  // data_body (field 1000) first, then the rest: a protobuf decoder takes fields in any order.
  const bodyField = msg.subarray(msg.length - body.length - 5); // tag 1000 (2 bytes) and a 3-byte length
  const reordered = Buffer.concat([bodyField, msg.subarray(0, msg.length - body.length - 5)]);
  expect(decodeFlightData(reordered).data_body.equals(body)).toBe(true);
  for (const bytes of [msg, reordered]) {
    const got = decodeReceived(cut(bytes, [5000, 1, 77]), bytes.length);
    expect(got.decode_error).toBeUndefined();
    expect(got.flight_descriptor?.path).toEqual(['a/b']);
    expect(Buffer.from(got.data_header).equals(Buffer.from(PUT_SCHEMA_HEADER))).toBe(true);
    expect(got.app_metadata.equals(meta)).toBe(true);
    expect(got.data_body.length).toBe(0);
    expect(Buffer.concat(got.body_parts!).equals(body)).toBe(true);
  }
  const truncated = msg.subarray(0, msg.length - 1);
  const broken = decodeReceived(cut(truncated, [4096]), truncated.length);
  expect(broken.decode_error).toBe(decodeReceived([truncated], truncated.length).decode_error);
  expect(broken.decode_error).toBeTruthy();
});

test('decodeReceived copies a large message whose chunks sit in read buffers far larger than themselves', () => {
  const body = filled(KEEP_PARTS_FROM + 100, 6);
  const msg = encodeFlightData({ data_header: PUT_SCHEMA_HEADER, data_body: body });
  // Each 4 KiB chunk alone in a 64 KiB buffer, as node:http2 leaves a sender of small frames.
  const sparse = cut(msg, [4096]).map((c) => {
    const own = Buffer.alloc(64 * 1024);
    c.copy(own);
    return own.subarray(0, c.length);
  });
  const copied = decodeReceived(sparse, msg.length);
  expect(copied.body_parts).toBeUndefined();
  expect(copied.data_body.equals(body)).toBe(true);
  const dense = decodeReceived(cut(Buffer.from(msg), [64 * 1024]), msg.length);
  expect(dense.body_parts).toBeDefined();
});

test('opaqueRowsFromParts: the rows readRows reads, from any cut; bad offsets refused the same way', () => {
  // Two rows: {version, data} with data values 'x'.repeat(a) and filled(b).
  const a = Buffer.from('first row');
  const b = filled(5000, 3);
  const values = Buffer.concat([a, b]);
  const padded = Math.ceil(values.length / 8) * 8;
  const offsets = Buffer.alloc(16);
  offsets.writeInt32LE(0, 0);
  offsets.writeInt32LE(a.length, 4);
  offsets.writeInt32LE(values.length, 8);
  const versions = Buffer.alloc(16);
  const body = Buffer.concat([versions, offsets, values, Buffer.alloc(padded - values.length)]);
  const regions = [new BufferRegion(0, 0), new BufferRegion(0, 16), new BufferRegion(16, 0), new BufferRegion(16, 12), new BufferRegion(32, values.length)];
  const header = new RecordBatchHeader(2, [new FieldNode(2, 0), new FieldNode(2, 0)], regions, null);
  const message = decodeMessage(encodeBatchHeader(header, body.length));
  const decoded = message.header() as RecordBatchHeader;
  const layout = opaqueLayout(PUT_SCHEMA);
  const expected = readRows(layout, plainBatch(message, body)).map((r) => Buffer.from(r.data));
  for (const sizes of [[1], [7, 3000], [body.length]]) {
    const rows = opaqueRowsFromParts(layout, decoded, cut(body, sizes), body.length, 'test batch').map((parts) => Buffer.concat(parts));
    expect(rows).toEqual(expected);
  }
  const bad = Buffer.from(body);
  bad.writeInt32LE(values.length + 1, 24); // row 1 ends past the values
  const refusal = (f: () => unknown): unknown => {
    try {
      f();
    } catch (err) {
      return err;
    }
    return undefined;
  };
  const fromParts = refusal(() => opaqueRowsFromParts(layout, decoded, cut(bad, [100]), bad.length, 'test batch'));
  const fromWhole = refusal(() => readRows(layout, plainBatch(message, bad)));
  expect(fromParts instanceof FlmError && fromParts.code === ErrorCode.InvalidInput).toBe(true);
  expect(fromParts instanceof Error && fromWhole instanceof Error && fromParts.message === fromWhole.message).toBe(true);
  const short = refusal(() => opaqueRowsFromParts(layout, decoded, [body.subarray(0, 40)], body.length, 'test batch'));
  expect(short instanceof FlmError && short.code === ErrorCode.InvalidInput).toBe(true);
});

test('large puts over the node:http2 path: two rows, and a schema with a kind column, read back whole', async () => {
  const { server, endpoint } = await startServer();
  const raw = rawClient(endpoint);
  try {
    const first = filled(KEEP_PARTS_FROM, 4);
    const second = filled(KEEP_PARTS_FROM + 11, 5);
    const two = encodeRow(0, undefined, [first]);
    const three = encodeRow(0, undefined, [second]);
    const meta = await rawPut(raw, [
      { flight_descriptor: { type: 'PATH', path: ['parts/s'] }, data_header: PUT_SCHEMA_HEADER },
      { data_header: two.header, data_body: two.body },
      { data_header: three.header, data_body: three.body },
    ]);
    const key = BSON.deserialize(meta).key as string;
    const got = await rawGet(raw, `${key}:0`);
    expect(Buffer.concat(got.rows.map((r) => Buffer.from(r.data))).equals(Buffer.concat([first, second]))).toBe(true);

    // A put schema with a kind column takes the one-buffer path (readRows reads the kinds).
    const withKind = new Schema([new Field('version', new Uint64(), false), new Field('kind', new Utf8(), false), new Field('data', new Binary(), false)]);
    const kindRow = encodeRow(0, 'base', [second]);
    const meta2 = await rawPut(raw, [
      { flight_descriptor: { type: 'PATH', path: ['parts/k'] }, data_header: encodeSchema(withKind) },
      { data_header: kindRow.header, data_body: kindRow.body },
    ]);
    const got2 = await rawGet(raw, `${BSON.deserialize(meta2).key as string}:0`);
    expect(Buffer.from(got2.rows[0]!.data).equals(second)).toBe(true);
  } finally {
    raw.close();
    await server.close();
  }
});

test('a zero-row batch with empty buffers (as Arrow Java and Go write empty arrays) is taken by a put, alone or before a row', async () => {
  const { server, endpoint } = await startServer();
  const raw = rawClient(endpoint);
  // Two columns of the put schema: version (validity, values), data (validity, offsets, values); all empty.
  const empty = encodeBatchHeader(
    new RecordBatchHeader(0, [new FieldNode(0, 0), new FieldNode(0, 0)], [0, 1, 2, 3, 4].map(() => new BufferRegion(0, 0)), null),
    0,
  );
  const schemaMsg = { flight_descriptor: { type: 'PATH' as const, path: ['empty/s'] }, data_header: PUT_SCHEMA_HEADER };
  try {
    const alone = BSON.deserialize(await rawPut(raw, [schemaMsg, { data_header: empty }])).key as string;
    const none = await rawGet(raw, `${alone}:0`);
    expect(none.rows.map((r) => Buffer.from(r.data).length)).toEqual([0]);
    const row = encodeRow(0, undefined, [Buffer.from('after')]);
    const before = BSON.deserialize(await rawPut(raw, [schemaMsg, { data_header: empty }, { data_header: row.header, data_body: row.body }])).key as string;
    const got = await rawGet(raw, `${before}:0`);
    expect(got.rows.map((r) => Buffer.from(r.data).toString())).toEqual(['after']);
  } finally {
    raw.close();
    await server.close();
  }
});

test('opaqueRowsFromParts reads many rows over many parts in one pass, not each row from the first part', () => {
  // Parts that count how often their length is read: the steps of a scan over them (subarray keeps the class).
  let reads = 0;
  class CountedPart extends Uint8Array {
    override get length(): number {
      reads++;
      return super.length;
    }
  }
  const rows = 5000;
  const offsetsBytes = (rows + 1) * 4;
  const values = filled(rows, 9);
  const body = Buffer.alloc(offsetsBytes + 4 + rows + ((8 - (rows % 8)) % 8));
  for (let i = 0; i <= rows; i++) body.writeInt32LE(i, i * 4);
  values.copy(body, offsetsBytes + 4);
  const header = new RecordBatchHeader(
    rows,
    [new FieldNode(rows, 0)],
    [new BufferRegion(0, 0), new BufferRegion(0, offsetsBytes), new BufferRegion(offsetsBytes + 4, rows)],
    null,
  );
  const decoded = decodeMessage(encodeBatchHeader(header, body.length)).header() as RecordBatchHeader;
  const layout = opaqueLayout(new Schema([new Field('data', new Binary(), false)]));
  const parts = cut(body, [16]).map((p) => new CountedPart(p));
  reads = 0;
  const got = opaqueRowsFromParts(layout, decoded, parts, body.length, 'test batch');
  const counted = reads;
  expect(Buffer.concat(got.map((r) => Buffer.concat(r))).equals(values)).toBe(true);
  expect(got.every((r) => r.length === 1 && r[0]!.length === 1)).toBe(true);
  // One pass is a few reads per row and per part; a scan from the first part per row is ~rows × parts / 2.
  expect(counted).toBeLessThan(20 * (rows + parts.length));
});
