/**
 * One-row batches (src/cache/opaque.ts): the header of every row, however it is made (in full for
 * the first row of a kind, from a template after), describes exactly the body beside it.
 */
import { decodeMessage } from '../../src/wire/ipc';
import { plainBatch } from '../../src/cache/plain-batch';
import { ANSWER_SCHEMA, PUT_SCHEMA, encodeRow, opaqueLayout, readRows } from '../../src/cache/opaque';

const LENGTHS = [0, 1, 7, 8, 9, 15, 16, 17, 100, 1023, 65_537, 1 << 20, (1 << 20) + 3];

test.each([
  ['put rows (no kind)', undefined],
  ['base rows', 'base'],
  ['patch rows', 'patch'],
  ['a kind of odd length', 'x'],
])('%s: regions, body length and the value read back match for every length', (_name, kind) => {
  const layout = opaqueLayout(kind === undefined ? PUT_SCHEMA : ANSWER_SCHEMA);
  for (const length of LENGTHS) {
    const data = Buffer.alloc(length);
    for (let i = 0; i < length; i++) data[i] = (i * 31 + length) & 0xff;
    // In two parts, as callers pass chunks.
    const row = encodeRow(length + 5, kind, [data.subarray(0, length >> 1), data.subarray(length >> 1)]);
    const body = Buffer.concat(row.body);
    expect(body.length).toBe(row.bodyLength);
    const message = decodeMessage(row.header);
    expect(message.isRecordBatch()).toBe(true);
    expect(message.bodyLength).toBe(row.bodyLength);
    const header = message.header() as { length: number; buffers: { offset: number; length: number }[] };
    expect(header.length).toBe(1);
    const last = header.buffers[header.buffers.length - 1]!;
    expect(last.length).toBe(length);
    expect(last.offset + length + ((8 - ((last.offset + length) % 8)) % 8)).toBe(row.bodyLength);
    const rows = readRows(layout, plainBatch(message, body, 'row'));
    expect(rows).toHaveLength(1);
    expect(rows[0]!.version).toBe(length + 5);
    expect(rows[0]!.kind).toBe(kind);
    expect(Buffer.from(rows[0]!.data).equals(data)).toBe(true);
  }
});
