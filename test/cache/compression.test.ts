/**
 * decompressBatch with ZSTD bodies whose declared length (the 8-byte prefix, the sender's word) is true,
 * short, long or absurd. The frames are built here from RLE blocks (RFC 8878 §3.1.1.2), which any ZSTD
 * decoder must read: node:zlib's on Node >= 22.15, fzstd before.
 */
import { CompressionType } from 'apache-arrow';
import { BodyCompression, BufferRegion, FieldNode, RecordBatch as RecordBatchHeader } from 'apache-arrow/ipc/metadata/message';
import { decompressBatch } from '../../src/cache/compression';
import { isFlmError } from '../../src/errors';

const BLOCK_MAX = 128 * 1024;

/** A ZSTD frame of `size` bytes of `byte`: RLE blocks, no checksum; with `contentSize`, a single segment that says its size. */
function rleFrame(size: number, byte: number, contentSize = false): Buffer {
  // Frame header descriptor 0: no single segment, no checksum, no dictionary, no content size; window 2^17.
  // 0xa0: single segment, a 4-byte content size.
  const head = contentSize ? Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0xa0, 0, 0, 0, 0]) : Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0x00, 0x40]);
  if (contentSize) head.writeUInt32LE(size, 5);
  const parts: Buffer[] = [head];
  let left = size;
  do {
    const n = Math.min(left, BLOCK_MAX);
    left -= n;
    const head = (n << 3) | (1 << 1) | (left === 0 ? 1 : 0); // RLE block, last when nothing is left
    parts.push(Buffer.from([head & 0xff, (head >> 8) & 0xff, (head >> 16) & 0xff, byte]));
  } while (left > 0);
  return Buffer.concat(parts);
}

/** A one-buffer ZSTD-compressed body declaring `declared` bytes, and its header. */
function batch(frame: Buffer, declared: bigint): { header: RecordBatchHeader; body: Buffer } {
  const prefix = Buffer.alloc(8);
  prefix.writeBigInt64LE(declared);
  const body = Buffer.concat([prefix, frame]);
  const header = new RecordBatchHeader(1, [new FieldNode(1, 0)], [new BufferRegion(0, body.length)], new BodyCompression(CompressionType.ZSTD));
  return { header, body };
}

function refusal(f: () => unknown): string {
  try {
    f();
  } catch (err) {
    if (!isFlmError(err)) throw err;
    return err.message;
  }
  throw new Error('expected a refusal');
}

test.each([1, 100, BLOCK_MAX, 3 * BLOCK_MAX + 5, 4 << 20])('a ZSTD buffer of %i bytes declared truly decodes to them', (size) => {
  const { header, body } = batch(rleFrame(size, 0x5a), BigInt(size));
  const plain = decompressBatch(header, body);
  expect(plain.wasCompressed).toBe(true);
  expect(plain.buffers[0]!.length).toBe(size);
  expect(Buffer.from(plain.buffers[0]!).equals(Buffer.alloc(size, 0x5a))).toBe(true);
  expect(plain.header.buffers[0]!.length).toBe(size);
});

test('a ZSTD buffer holding more than it declares is refused', () => {
  const { header, body } = batch(rleFrame(BLOCK_MAX + 10, 1), BigInt(BLOCK_MAX + 9));
  expect(refusal(() => decompressBatch(header, body))).toMatch(/ZSTD buffer 0/);
});

test('a ZSTD buffer holding less than it declares is refused', () => {
  const { header, body } = batch(rleFrame(1000, 1), 1001n);
  expect(refusal(() => decompressBatch(header, body))).toMatch(/ZSTD buffer 0 decompressed to 1000 bytes, expected 1001/);
});

test('a ZSTD buffer declaring far more than its frame could hold is refused', () => {
  const { header, body } = batch(rleFrame(64, 1), 2n ** 40n);
  expect(refusal(() => decompressBatch(header, body))).toMatch(/ZSTD buffer 0 decompressed to 64 bytes, expected 1099511627776/);
});

test.each([0, 100, 5000, 40_000])("a decoded ZSTD buffer of %i bytes is memory of its own, not in Buffer's shared pool", (size) => {
  const { header, body } = batch(rleFrame(size, 3), BigInt(size));
  const out = decompressBatch(header, body).buffers[0]!;
  // A caller may write over all of `out.buffer` (the cache client hands decoded values out as they are):
  // were it the pool, that would reach other buffers of the process.
  expect(out.buffer).not.toBe(Buffer.allocUnsafe(1).buffer);
  expect(out.buffer.byteLength).toBeLessThan(Math.max(2 * size, 64));
  expect(Buffer.from(out).equals(Buffer.alloc(size, 3))).toBe(true);
});

test('a large decoded ZSTD buffer is not copied again', () => {
  const size = 3 * BLOCK_MAX;
  const { header, body } = batch(rleFrame(size, 9, true), BigInt(size));
  const out = decompressBatch(header, body).buffers[0]!;
  expect(Buffer.from(out).equals(Buffer.alloc(size, 9))).toBe(true);
  // Both decoders leave a few spare bytes in their output's memory (fzstd before it, the zlib chunk one
  // after it); a copy would have none: the decoder's own output is handed on as it is.
  expect(out.buffer.byteLength).toBeGreaterThan(size);
  expect(out.buffer.byteLength).toBeLessThan(size + 64);
});
