/**
 * decompressBatch with ZSTD bodies whose declared length (the 8-byte prefix, the sender's word) is true,
 * short, long or absurd. The frames are built here from RLE blocks (RFC 8878 §3.1.1.2), which any ZSTD
 * decoder must read: node:zlib's on Node >= 22.15; before, the WebAssembly libzstd up to 16 MiB (loaded
 * before these tests) and fzstd above (and for declarations a frame could not honour). Text-like frames
 * (matches and literals, not runs) come from the same WebAssembly libzstd's compressor.
 */
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import zlib from 'node:zlib';
import { CompressionType } from 'apache-arrow';
import { BodyCompression, BufferRegion, FieldNode, RecordBatch as RecordBatchHeader } from 'apache-arrow/ipc/metadata/message';
import { compress as zstdCompress, isLoaded as compressorLoaded } from '@foxglove/wasm-zstd';
import { decompressBatch, loadZstdDecoder, zstdDecoderFor } from '../../src/cache/compression';
import { isFlmError } from '../../src/errors';
import { BLOCK_MAX, checksummedFrame, rleFrame } from './zstd-frames';

const MiB = 1024 * 1024;
const NODE_ZSTD = 'zstdDecompressSync' in zlib;

beforeAll(() => Promise.all([loadZstdDecoder(), compressorLoaded]));

/** JSON-like lines with pseudo-random numbers: compressible, but by matches and literals, not runs. */
function textOf(size: number): Buffer {
  let x = 12345;
  const rnd = (): number => (x = (Math.imul(x, 1103515245) + 12345) & 0x7fffffff);
  const lines: string[] = [];
  for (let n = 0; n < size; ) {
    const line = `{"id":${rnd()},"name":"user${rnd() % 5000}","score":${(rnd() / 2 ** 31).toFixed(6)}}\n`;
    lines.push(line);
    n += line.length;
  }
  return Buffer.from(lines.join('').slice(0, size));
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
  expect(refusal(() => decompressBatch(header, body))).toMatch(/cannot decompress ZSTD buffer 0: a 10-byte frame cannot hold 1099511627776 bytes/);
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

// Node < 22.15 only: with node:zlib's zstd the WebAssembly decoder is never loaded.
(NODE_ZSTD ? test.skip : test)('the WebAssembly decoder takes outputs and frames up to 16 MiB, the output one the frame could hold; fzstd the rest', () => {
  const frame = rleFrame(16 * MiB, 1);
  expect(zstdDecoderFor(rleFrame(MiB, 1), MiB)).toBe('wasm');
  expect(zstdDecoderFor(frame, 16 * MiB)).toBe('wasm');
  expect(zstdDecoderFor(frame, 16 * MiB + 1)).toBe('fzstd');
  // A declaration past 32,768 x the frame's length is a lie: not the size of an allocation.
  expect(zstdDecoderFor(rleFrame(64, 1), MiB)).toBe('fzstd');
  // The frame goes into the module's memory as well: no larger than its largest output.
  expect(zstdDecoderFor(Buffer.alloc(16 * MiB + 1), MiB)).toBe('fzstd');
});

/** One compressed block regenerating 128 KiB of 'a' (literals and one long match; made by libzstd), not the last. */
const COMPRESSED_BLOCK = Buffer.from('5400001061610100fbff39c002', 'hex');

/** The offset of a frame's 4-byte content size field, for a frame made by zstdCompress of 65,792 bytes to 4 GiB. */
function contentSizeAt(frame: Buffer): number {
  const descriptor = frame[4]!;
  expect(descriptor >> 6).toBe(2); // a 4-byte Frame_Content_Size
  return 5 + ((descriptor >> 5) & 1 ? 0 : 1) + [0, 1, 2, 4][descriptor & 3]!;
}

// Node < 22.15 only, as above.
(NODE_ZSTD ? test.skip : test)('above 16 MiB, frames stating their size and made mostly of compressed blocks go to a WebAssembly instance of their own; runs to fzstd', () => {
  const size = 17 * MiB;
  const text = Buffer.from(zstdCompress(textOf(size), 3));
  expect(zstdDecoderFor(text, size)).toBe('wasm-once');
  // Runs of one byte, stated or not: fzstd writes them straight into the output handed on.
  expect(zstdDecoderFor(rleFrame(size, 1, true), size)).toBe('fzstd');
  expect(zstdDecoderFor(rleFrame(size, 1), size)).toBe('fzstd');
  // Mostly runs, a little text: under a third from compressed blocks.
  const small = textOf(MiB);
  const mixed = Buffer.concat([rleFrame(size, 1, true), Buffer.from(zstdCompress(small, 3))]);
  expect(zstdDecoderFor(mixed, size + MiB)).toBe('fzstd');
  // Half and half: the WebAssembly instance.
  const half = Buffer.concat([rleFrame(9 * MiB, 1, true), Buffer.from(zstdCompress(textOf(9 * MiB), 3))]);
  expect(zstdDecoderFor(half, 18 * MiB)).toBe('wasm-once');
  // Not a ZSTD buffer at all: refused by the check before any decoder.
  expect(zstdDecoderFor(Buffer.alloc(17 * MiB), size)).toBe('fzstd');
  // Compressed blocks only, stating their size (headers are all the choice reads: nothing is decoded here):
  // up to 256 MiB an instance of their own, above it fzstd (the instance would hold about twice the memory).
  const stating = (blocks: number): Buffer => {
    const head = Buffer.from('28b52ffd805800000000', 'hex'); // a 4-byte content size, window 2 MiB (0x58)
    head.writeUInt32LE(blocks * BLOCK_MAX, 6);
    const last = Buffer.from(COMPRESSED_BLOCK);
    last[0]! |= 1;
    return Buffer.concat([head, ...Array.from({ length: blocks - 1 }, () => COMPRESSED_BLOCK), last]);
  };
  expect(zstdDecoderFor(stating(2048), 2048 * BLOCK_MAX)).toBe('wasm-once');
  expect(zstdDecoderFor(stating(2049), 2049 * BLOCK_MAX)).toBe('fzstd');
});

test('a text-like ZSTD buffer above 16 MiB decodes the same before and after loading; wrong content sizes and truncation are refused by both', () => {
  const size = 17 * MiB + 7;
  const text = textOf(size);
  const frame = Buffer.from(zstdCompress(text, 3));
  const at = contentSizeAt(frame);
  for (const mod of [freshModule(), { decompressBatch }]) {
    const { header, body } = batch(frame, BigInt(size));
    const out = mod.decompressBatch(header, body).buffers[0]!;
    expect(Buffer.from(out).equals(text)).toBe(true);
    if (!NODE_ZSTD) expect(out.buffer.byteLength).toBe(size); // libzstd's output, copied out of its instance
    // The frame's header says one byte more, or one less, than its blocks hold.
    for (const said of [size + 1, size - 1]) {
      const lying = Buffer.from(frame);
      lying.writeUInt32LE(said, at);
      const { header, body } = batch(lying, BigInt(said));
      expect(refusal(() => mod.decompressBatch(header, body))).toMatch(/cannot decompress ZSTD buffer 0|ZSTD buffer 0 decompressed to/);
    }
    const bad = batch(frame.subarray(0, frame.length - 100), BigInt(size)); // truncated
    expect(refusal(() => mod.decompressBatch(bad.header, bad.body))).toMatch(/cannot decompress ZSTD buffer 0|ZSTD buffer 0 decompressed to/);
  }
});

test.each([10, 3000, 5000, MiB, 16 * MiB, 16 * MiB + 100])('a text-like ZSTD buffer of %i bytes decodes to them', (size) => {
  const text = textOf(size);
  const { header, body } = batch(zstdCompress(text, 3), BigInt(size));
  const out = decompressBatch(header, body).buffers[0]!;
  expect(Buffer.from(out).equals(text)).toBe(true);
  // Never Buffer's shared pool (the WebAssembly decoder's small outputs are copied out of it).
  expect(out.buffer).not.toBe(Buffer.allocUnsafe(1).buffer);
  expect(out.buffer.byteLength).toBeLessThan(Math.max(2 * size, 64));
  if (!NODE_ZSTD && size >= 4096) {
    // Which decoder wrote it: the WebAssembly one's output is a copy of exactly its size (above 16 MiB, from an
    // instance of its own: text comes from compressed blocks), fzstd's has 12 bytes before it.
    expect(out.buffer.byteLength).toBe(size);
  }
});

test('a text-like ZSTD buffer holding more or less than it declares is refused', () => {
  const text = textOf(50_000);
  const more = batch(zstdCompress(text, 3), 49_999n);
  expect(refusal(() => decompressBatch(more.header, more.body))).toMatch(/ZSTD buffer 0/);
  const less = batch(zstdCompress(text, 3), 50_001n);
  expect(refusal(() => decompressBatch(less.header, less.body))).toMatch(/ZSTD buffer 0 decompressed to 50000 bytes, expected 50001/);
});

test('a corrupt ZSTD frame is refused, and the next buffer still decodes', () => {
  const frame = Buffer.from(zstdCompress(textOf(50_000), 3));
  frame.fill(0xee, 20, 60);
  const bad = batch(frame, 50_000n);
  expect(refusal(() => decompressBatch(bad.header, bad.body))).toMatch(/cannot decompress ZSTD buffer 0|ZSTD buffer 0 decompressed to/);
  const text = textOf(70_000);
  const good = batch(zstdCompress(text, 3), 70_000n);
  expect(Buffer.from(decompressBatch(good.header, good.body).buffers[0]!).equals(text)).toBe(true);
});

test('a large decoded ZSTD buffer is not copied again', () => {
  // Past the WebAssembly decoder's 16 MiB, whose output is always a copy out of its memory.
  const size = 16 * MiB + 3 * BLOCK_MAX;
  const { header, body } = batch(rleFrame(size, 9, true), BigInt(size));
  const out = decompressBatch(header, body).buffers[0]!;
  expect(Buffer.from(out).equals(Buffer.alloc(size, 9))).toBe(true);
  // Both decoders leave a few spare bytes in their output's memory (fzstd before it, the zlib chunk one
  // after it); a copy would have none: the decoder's own output is handed on as it is.
  expect(out.buffer.byteLength).toBeGreaterThan(size);
  expect(out.buffer.byteLength).toBeLessThan(size + 64);
});

// ---- Review findings (session 8): load failure, --jitless, hostile headers, one answer before and after loading.

const DIST = path.resolve(__dirname, '..', '..', 'dist', 'cache', 'compression.js');
const OLD_NODE = !NODE_ZSTD;

/**
 * A child Node process (dist/, as the CLI runs it) that decodes a 100 KiB RLE ZSTD buffer before and after
 * the WebAssembly decoder's load settled, and prints what it saw: `shell` runs before node (a ulimit).
 */
function childDecode(nodeFlags: string[], shell = ''): { status: number | null; out: Record<string, unknown>; stderr: string } {
  const script = `
    const { decompressBatch, loadZstdDecoder, zstdDecoderFor } = require(${JSON.stringify(DIST)});
    const { CompressionType } = require('apache-arrow');
    const m = require('apache-arrow/ipc/metadata/message');
    const frame = Buffer.from(${JSON.stringify(rleFrame(100_000, 0x61).toString('hex'))}, 'hex');
    const prefix = Buffer.alloc(8); prefix.writeBigInt64LE(100000n);
    const body = Buffer.concat([prefix, frame]);
    const header = new m.RecordBatch(1, [new m.FieldNode(1, 0)], [new m.BufferRegion(0, body.length)], new m.BodyCompression(CompressionType.ZSTD));
    const ok = () => Buffer.from(decompressBatch(header, body).buffers[0]).equals(Buffer.alloc(100000, 0x61));
    const before = ok();
    loadZstdDecoder().then(() => {
      const after = ok();
      // A turn later: an unhandled rejection of the load would have ended the process by now.
      setTimeout(() => console.log(JSON.stringify({ before, after, decoder: zstdDecoderFor(frame, 100000), alive: true })), 50);
    });`;
  const cmd = `${shell}${shell ? '; ' : ''}exec "$0" "$@"`;
  const res = spawnSync('bash', ['-c', cmd, process.execPath, ...nodeFlags, '-e', script], { encoding: 'utf8', cwd: path.dirname(DIST) });
  const line = res.stdout.trim().split('\n').pop() ?? '';
  let out: Record<string, unknown> = {};
  try {
    out = JSON.parse(line) as Record<string, unknown>;
  } catch {
    // left empty: the assertions below show stdout and stderr
  }
  return { status: res.status, out, stderr: res.stderr };
}

test('a WebAssembly module that fails to load leaves fzstd decoding and the process alive', () => {
  // 3 GB of address space: Node runs, WebAssembly.instantiate cannot reserve its memory ("Out of memory").
  const res = childDecode([], 'ulimit -v 3000000');
  expect({ status: res.status, ...res.out }).toEqual({ status: 0, before: true, after: true, decoder: 'fzstd', alive: true });
});

test('the same child without the limit does load it (so the test above saw a real load failure)', () => {
  const res = childDecode([]);
  expect({ status: res.status, ...res.out }).toEqual({ status: 0, before: true, after: true, decoder: OLD_NODE ? 'wasm' : 'fzstd', alive: true });
});

test('under node --jitless (no WebAssembly) the module imports and decodes ZSTD', () => {
  const res = childDecode(['--jitless']);
  expect({ status: res.status, ...res.out, stderr: res.stderr.replace(/.*disabling flag --expose_wasm.*\n/, '') }).toEqual({
    status: 0,
    before: true,
    after: true,
    decoder: 'fzstd',
    alive: true,
    stderr: '',
  });
});

/** A frame header (no content size unless given) with window descriptor `wd`, then one last RLE block of `n` bytes. */
function windowFrame(wd: number, n: number): Buffer {
  const head = (n << 3) | (1 << 1) | 1;
  return Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0x00, wd, head & 0xff, (head >> 8) & 0xff, (head >> 16) & 0xff, 7]);
}

/** A fresh copy of the module, whose WebAssembly decoder has not loaded (fzstd decodes until it has). */
function freshModule(): typeof import('../../src/cache/compression') {
  let mod: typeof import('../../src/cache/compression') | undefined;
  jest.isolateModules(() => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- a second, unloaded instance of the module
    mod = require('../../src/cache/compression') as typeof import('../../src/cache/compression');
  });
  return mod!;
}

test.each([
  [0n, 'window log 30, declared 0'],
  [2n ** 40n, 'window log 30, declared 2^40'],
  [327_680n, 'window log 30, declared what the frame could hold'],
])('a frame asking for a 1 GiB window is refused before decoding (%s: %s)', (declared) => {
  const frame = windowFrame((30 - 10) << 3, 5);
  for (const mod of [freshModule(), { decompressBatch }]) {
    const { header, body } = batch(frame, declared);
    const before = process.memoryUsage().arrayBuffers;
    expect(refusal(() => mod.decompressBatch(header, body))).toMatch(/cannot decompress ZSTD buffer 0/);
    // No 1 GiB output was allocated on the way (fzstd sizes its output by the window without this check).
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(64 * MiB);
  }
});

test('a window of 2^27 (libzstd\'s default limit) is accepted, one byte more is not', () => {
  const ok = batch(windowFrame((27 - 10) << 3, 5), 5n);
  expect(Buffer.from(freshModule().decompressBatch(ok.header, ok.body).buffers[0]!)).toEqual(Buffer.alloc(5, 7));
  const over = batch(windowFrame(((27 - 10) << 3) | 1, 5), 5n);
  expect(refusal(() => freshModule().decompressBatch(over.header, over.body))).toMatch(/cannot decompress ZSTD buffer 0/);
});

test('a frame whose content size says more than declared is refused before decoding', () => {
  // 17 bytes, content size 2,130,706,432 (a 2 GiB output for fzstd), one real byte.
  const frame = Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0x80, 0x40, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
  frame.writeUInt32LE(2_130_706_432, 6);
  const head = (1 << 3) | (1 << 1) | 1;
  frame.set([head, 0, 0, 9], 10);
  const f = frame.subarray(0, 14);
  // 458,752 = 14 x 32,768: the most these 14 bytes could hold; above, the declaration alone is refused.
  for (const declared of [0n, 1n, 458_752n, 2_130_706_432n, 2n ** 40n]) {
    const why =
      declared > 458_752n
        ? /cannot decompress ZSTD buffer 0: a 14-byte frame cannot hold/
        : NODE_ZSTD // node:zlib decodes the one byte: its own answer
          ? /ZSTD buffer 0/
          : new RegExp(`cannot decompress ZSTD buffer 0: ZSTD frame header says 2130706432 bytes, more than the ${declared} declared`);
    for (const mod of [freshModule(), { decompressBatch }]) {
      const { header, body } = batch(f, declared);
      const before = process.memoryUsage().arrayBuffers;
      expect(refusal(() => mod.decompressBatch(header, body))).toMatch(why);
      expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(64 * MiB);
    }
  }
});

test('a ZSTD buffer declared 0 bytes: an empty frame decodes, a frame with content is refused, before and after loading', () => {
  for (const mod of [freshModule(), { decompressBatch }]) {
    const empty = batch(rleFrame(0, 1), 0n);
    expect(mod.decompressBatch(empty.header, empty.body).buffers[0]!.length).toBe(0);
    const full = batch(rleFrame(1000, 1), 0n);
    expect(refusal(() => mod.decompressBatch(full.header, full.body))).toMatch(/ZSTD buffer 0/);
  }
});

test('a frame whose content size says more than its blocks hold is refused, before and after loading', () => {
  // Content size 1,000 (single segment), blocks of 999 bytes: libzstd refuses it, fzstd alone would pad it with a zero.
  const frame = rleFrame(999, 4, true);
  frame.writeUInt32LE(1000, 5);
  for (const mod of [freshModule(), { decompressBatch }]) {
    const { header, body } = batch(frame, 1000n);
    expect(refusal(() => mod.decompressBatch(header, body))).toMatch(/cannot decompress ZSTD buffer 0/);
  }
});

test('concatenated frames (and a skippable one) decode to their joined bytes, before and after loading', () => {
  const skippable = Buffer.from([0x50, 0x2a, 0x4d, 0x18, 3, 0, 0, 0, 1, 2, 3]);
  const text = textOf(30_000);
  const frame = Buffer.concat([rleFrame(1000, 1, true), skippable, Buffer.from(zstdCompress(text, 3)), rleFrame(500, 2)]);
  const want = Buffer.concat([Buffer.alloc(1000, 1), text, Buffer.alloc(500, 2)]);
  // Node 22's node:zlib (22.23 seen) stops after the first frame: refused there, not misread.
  const firstFrameOnly = NODE_ZSTD && Number(process.versions.node.split('.')[0]) < 24;
  for (const mod of [freshModule(), { decompressBatch }]) {
    const { header, body } = batch(frame, BigInt(want.length));
    if (firstFrameOnly) {
      expect(refusal(() => mod.decompressBatch(header, body))).toMatch(/ZSTD buffer 0 decompressed to 1000 bytes, expected 31500/);
      continue;
    }
    expect(Buffer.from(mod.decompressBatch(header, body).buffers[0]!).equals(want)).toBe(true);
    const short = batch(frame, BigInt(want.length - 1));
    expect(refusal(() => mod.decompressBatch(short.header, short.body))).toMatch(/ZSTD buffer 0/);
  }
});

test.each([
  ['a CacheClient', "new (require('./client.js').CacheClient)({ endpoint: 'grpc://127.0.0.1:1' })"],
  ['a CacheServer', "new (require('./server/cache-server.js').CacheServer)({})"],
  ['nothing (the control)', 'undefined'],
])('after making %s, the WebAssembly decoder loads before any ZSTD buffer (Node < 22.15)', (what, make) => {
  // beforeExit comes once the event loop has nothing left, pending WebAssembly compilation included: no timer.
  const script = `
    const { zstdDecoderFor } = require('./compression.js');
    ${make};
    process.once('beforeExit', () => console.log(zstdDecoderFor(Buffer.alloc(100), 1000)));`;
  const res = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', cwd: path.dirname(DIST) });
  expect({ status: res.status, decoder: res.stdout.trim(), stderr: res.stderr }).toEqual({
    status: 0,
    decoder: OLD_NODE && what !== 'nothing (the control)' ? 'wasm' : 'fzstd',
    stderr: '',
  });
});

test.each([1000, 16 * MiB + 5])('a ZSTD frame of %i bytes with a wrong checksum is refused, a right one accepted, before and after loading', (size) => {
  for (const mod of [freshModule(), { decompressBatch }]) {
    const good = batch(checksummedFrame(size, 6, false), BigInt(size));
    expect(Buffer.from(mod.decompressBatch(good.header, good.body).buffers[0]!).equals(Buffer.alloc(size, 6))).toBe(true);
    const bad = batch(checksummedFrame(size, 6, true), BigInt(size));
    expect(refusal(() => mod.decompressBatch(bad.header, bad.body))).toMatch(/cannot decompress ZSTD buffer 0/);
  }
});

/** A frame header with no content size and window descriptor `wd`, then `blocks` RLE blocks of `n` bytes each. */
function rleBlocksFrame(wd: number, blocks: number, n: number): Buffer {
  const parts = [Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0x00, wd])];
  for (let i = 0; i < blocks; i++) {
    const head = (n << 3) | (1 << 1) | (i === blocks - 1 ? 1 : 0);
    parts.push(Buffer.from([head & 0xff, (head >> 8) & 0xff, (head >> 16) & 0xff, 3]));
  }
  return Buffer.concat(parts);
}

test('a frame stating no content size is stopped once past the declared length: 4 KB of RLE blocks for 125 MiB, declared 1, before and after loading', () => {
  const frame = rleBlocksFrame((17 - 10) << 3, 1000, BLOCK_MAX);
  for (const mod of [freshModule(), { decompressBatch }]) {
    const { header, body } = batch(frame, 1n);
    const before = process.memoryUsage().arrayBuffers;
    expect(refusal(() => mod.decompressBatch(header, body))).toMatch(/cannot decompress ZSTD buffer 0/);
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(64 * MiB);
  }
  // The same frame declared truly (above 16 MiB: fzstd decodes it block by block) is its bytes.
  const { header, body } = batch(frame, BigInt(1000 * BLOCK_MAX));
  const out = decompressBatch(header, body).buffers[0]!;
  expect(out.length).toBe(1000 * BLOCK_MAX);
  expect(out[0]).toBe(3);
  expect(out[out.length - 1]).toBe(3);
});

test('a frame needing a dictionary is refused, before and after loading', () => {
  // Descriptor 0x01: a 1-byte dictionary id (5), no content size; window 2^17; one last raw block "abc".
  const frame = Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0x01, 0x38, 5, (3 << 3) | 1, 0, 0, 0x61, 0x62, 0x63]);
  for (const mod of [freshModule(), { decompressBatch }]) {
    const { header, body } = batch(frame, 3n);
    expect(refusal(() => mod.decompressBatch(header, body))).toMatch(/cannot decompress ZSTD buffer 0/);
  }
  // The same frame with dictionary id 0 (none) is "abc".
  const none = Buffer.from(frame);
  none[6] = 0;
  const { header, body } = batch(none, 3n);
  expect(Buffer.from(decompressBatch(header, body).buffers[0]!).toString()).toBe('abc');
});

(OLD_NODE ? test : test.skip)('a block above 128 KiB is refused before either decoder sees it (Node < 22.15)', () => {
  for (const mod of [freshModule(), { decompressBatch }]) {
    const { header, body } = batch(rleBlocksFrame((20 - 10) << 3, 1, BLOCK_MAX + 1), BigInt(BLOCK_MAX + 1));
    expect(refusal(() => mod.decompressBatch(header, body))).toMatch(/ZSTD block of 131073 bytes, above the 131072/);
  }
  const { header, body } = batch(rleBlocksFrame((20 - 10) << 3, 1, BLOCK_MAX), BigInt(BLOCK_MAX));
  expect(decompressBatch(header, body).buffers[0]!.length).toBe(BLOCK_MAX);
});

test('more than 1,024 frames in one buffer are refused; 1,024 decode', () => {
  const empty = rleFrame(0, 1, true);
  for (const [frames, ok] of [[1024, true], [1025, false]] as const) {
    const { header, body } = batch(Buffer.concat(Array.from({ length: frames }, () => empty)), 0n);
    if (ok) expect(decompressBatch(header, body).buffers[0]!.length).toBe(0);
    else if (!NODE_ZSTD) expect(refusal(() => decompressBatch(header, body))).toMatch(/more than 1024 ZSTD frames/);
  }
});

test('a frame of compressed blocks stating no content size is stopped once past the declared length (13 KB for 125 MiB, declared 1), before and after loading', () => {
  // COMPRESSED_BLOCK (made by libzstd with contentSizeFlag 0), repeated: 1,000 of them. Its output is
  // unknown until decoded.
  const block = COMPRESSED_BLOCK;
  const last = Buffer.from(block);
  last[0]! |= 1;
  const frame = Buffer.concat([Buffer.from('28b52ffd0058', 'hex'), ...Array.from({ length: 999 }, () => block), last]);
  for (const mod of [freshModule(), { decompressBatch }]) {
    const { header, body } = batch(frame, 1n);
    const before = process.memoryUsage().arrayBuffers;
    expect(refusal(() => mod.decompressBatch(header, body))).toMatch(/cannot decompress ZSTD buffer 0/);
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(64 * MiB);
  }
  if (OLD_NODE) {
    // fzstd (before loading) is stopped while decoding, not after producing all 125 MiB.
    const { header, body } = batch(frame, BigInt(8 * MiB));
    expect(refusal(() => freshModule().decompressBatch(header, body))).toMatch(/cannot decompress ZSTD buffer 0: ZSTD buffer holds more than declared/);
  }
  // All compressed blocks, but no stated size: only the prefix would size a WebAssembly output, so fzstd decodes.
  if (OLD_NODE) expect(zstdDecoderFor(frame, 1000 * BLOCK_MAX)).toBe('fzstd');
  const { header, body } = batch(frame, BigInt(1000 * BLOCK_MAX));
  const out = decompressBatch(header, body).buffers[0]!;
  expect(out.length).toBe(1000 * BLOCK_MAX);
  expect(out[0] === 0x61 && out[out.length - 1] === 0x61).toBe(true);
});
