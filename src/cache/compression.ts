/**
 * Arrow IPC body compression (format/Message.fbs BodyCompression, method
 * BUFFER): every buffer of a compressed record batch body is an int64
 * little-endian uncompressed length followed by the codec's frame, or by the
 * raw bytes when that length is -1; empty buffers stay empty.
 *
 * apache-arrow can decompress too, but only through its process-wide codec
 * registry, which user code may also set; this module keeps the cache's
 * decoding independent of that global state. The framing is eight bytes, the
 * codecs come from libraries:
 * - ZSTD: node:zlib's zstd when the runtime has it (Node >= 22.15); else
 *   @foxglove/wasm-zstd (libzstd built to WebAssembly, no install script) for
 *   outputs up to WASM_MAX_OUTPUT, and fzstd (pure JS) for larger ones and until
 *   the WebAssembly module has loaded (see zstdDecoderFor).
 * - LZ4_FRAME: lz4-napi (lz4_flex through N-API, prebuilt per platform as
 *   registry packages, no install script; maintained, works in worker threads).
 */
import zlib from 'node:zlib';
import { decompress as fzstdDecompress } from 'fzstd';
import type * as WasmZstd from '@foxglove/wasm-zstd';
import { decompressFrameSync } from 'lz4-napi';
import { CompressionType } from 'apache-arrow';
import { BufferRegion, RecordBatch as RecordBatchHeader } from 'apache-arrow/ipc/metadata/message';
import { invalidInput } from '../errors';

const NOT_COMPRESSED = -1n;
const PREFIX = 8;

type ZstdSync = (buf: Uint8Array, options?: { maxOutputLength?: number; chunkSize?: number }) => Buffer;
const nodeZstd = (zlib as unknown as { zstdDecompressSync?: ZstdSync }).zstdDecompressSync;
/** node:zlib's default output chunk. */
const ZLIB_CHUNK = 16 * 1024;
/** ZSTD's largest expansion: an RLE block, 4 bytes with its header, stands for 128 KiB. */
const MAX_ZSTD_RATIO = 32 * 1024;

/**
 * node:zlib's output chunk for a ZSTD frame declared to hold `expected` bytes: one chunk that takes all of
 * it and one byte more (a frame longer than declared is still seen and refused). With the default 16 KiB
 * chunks, zlib gathers the output piece by piece and joins it: a 64 MiB buffer cost 57 ms of CPU instead
 * of 11 (Node 24). The declaration is the sender's word: the chunk is never sized past what the frame
 * could hold, so a lying prefix allocates no more than an honest one of that frame would.
 * Never below zlib's default: a small output gains nothing from a chunk of its own size.
 */
function zstdChunk(frame: Uint8Array, expected: number): number {
  return Math.max(ZLIB_CHUNK, Math.min(expected + 1, frame.length * MAX_ZSTD_RATIO));
}

/**
 * Decoded bytes in memory of their own. node:zlib copies an output smaller than its chunk into a
 * Buffer.allocUnsafe, i.e. into Buffer's shared pool: a caller writing over its bytes' `.buffer` (the
 * cache client hands decoded values out as they are) would reach other buffers of the process, such as
 * a connection's cached request headers. The pool hands out less than half of each of its slabs, so an
 * output whose memory is less than twice its length is none of the pool's (fzstd's and zstdChunk's few
 * spare bytes are no one else's): only outputs that may be in it are copied, all of them small.
 */
function ownMemory(out: Uint8Array): Uint8Array {
  if (out.buffer.byteLength === out.length || out.buffer.byteLength < 2 * out.length) return out;
  const own = Buffer.allocUnsafeSlow(out.length);
  own.set(out);
  return own;
}

/**
 * The largest output given to the WebAssembly decoder. libzstd there decodes 3.5-4.5 times as fast as
 * fzstd (JSON-like text, 1 and 16 MiB: 6.1 -> 1.3 ms and 143 -> 32 ms; docs/cache-get.md), but it writes
 * into the module's linear memory, which only grows: every output is copied out of it (a second pass,
 * which makes a 64 MiB RLE-only output cost 21 ms instead of fzstd's 14), and the largest output decoded
 * stays allocated for the life of the process (thread). Up to this size both are small prices; above it,
 * fzstd writes straight into the memory handed on.
 */
const WASM_MAX_OUTPUT = 16 * 1024 * 1024;

let wasmZstd: typeof WasmZstd | undefined;
let wasmLoading: Promise<void> | undefined;

/**
 * Starts loading the WebAssembly ZSTD decoder (once, on the first ZSTD buffer on a runtime without
 * node:zlib's: processes that never meet one pay nothing; loading costs ~8 ms of CPU and 5 MiB);
 * resolves once it is usable, or once it failed to load (fzstd then stays the decoder).
 */
export function loadZstdDecoder(): Promise<void> {
  if (!wasmLoading) {
    let mod: typeof WasmZstd;
    try {
      // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded on first use on purpose (above)
      mod = require('@foxglove/wasm-zstd') as typeof WasmZstd;
    } catch {
      return (wasmLoading = Promise.resolve()); // not installed or not loadable: fzstd decodes
    }
    wasmLoading = mod.isLoaded.then(
      () => {
        wasmZstd = mod;
      },
      () => undefined,
    );
  }
  return wasmLoading;
}

/**
 * Which ZSTD decoder takes a frame declared to hold `expected` bytes (node:zlib's aside). The WebAssembly
 * one only up to WASM_MAX_OUTPUT (output and frame), and only for a declaration the frame could honour (the sender's word
 * sizes its allocation there): a lying prefix goes to fzstd, which allocates by what the frame holds.
 * Module loading is asynchronous: until it is done, fzstd decodes (the same bytes, more slowly).
 */
export function zstdDecoderFor(frame: Uint8Array, expected: number): 'wasm' | 'fzstd' {
  // The frame is copied into the module's memory too: bounded alike (a valid one is at most a little longer than its output).
  if (expected > WASM_MAX_OUTPUT || frame.length > WASM_MAX_OUTPUT || expected > frame.length * MAX_ZSTD_RATIO) return 'fzstd';
  if (!wasmZstd) {
    void loadZstdDecoder();
    return 'fzstd';
  }
  return 'wasm';
}

/** WebAssembly's trap error (the project's TypeScript libs do not declare the WebAssembly namespace). */
const WasmRuntimeError = (globalThis as unknown as { WebAssembly: { RuntimeError: new () => Error } }).WebAssembly.RuntimeError;

function wasmDecompress(mod: typeof WasmZstd, frame: Uint8Array, expected: number): Uint8Array {
  try {
    return mod.decompress(frame, expected);
  } catch (err) {
    // A trap (not libzstd's error answer) may leave the module's memory in any state: fzstd decodes from now on.
    if (err instanceof WasmRuntimeError) {
      wasmZstd = undefined;
      wasmLoading = Promise.resolve();
    }
    throw err;
  }
}

function codecName(type: CompressionType): string {
  return type === CompressionType.ZSTD ? 'ZSTD' : type === CompressionType.LZ4_FRAME ? 'LZ4_FRAME' : `codec ${type}`;
}

function decode(type: CompressionType, frame: Uint8Array, expected: number): Uint8Array {
  if (type === CompressionType.ZSTD) {
    if (nodeZstd) return nodeZstd(frame, { maxOutputLength: Math.max(expected, 1), chunkSize: zstdChunk(frame, expected) });
    // Asked for the declared length: a frame holding more is an error there, one holding less answers its
    // own length (the caller compares). An output under 4 KiB lies in Buffer's pool (ownMemory copies it).
    if (expected > 0 && zstdDecoderFor(frame, expected) === 'wasm') return wasmDecompress(wasmZstd!, frame, expected);
    // No buffer sized by the declared length: the 8-byte prefix is the sender's word, and a hostile
    // one (2^30, say) would make every request allocate and zero that much (found by test/fuzz).
    // The caller compares the result with the declared length.
    return fzstdDecompress(frame);
  }
  if (type === CompressionType.LZ4_FRAME) {
    return decompressFrameSync(Buffer.from(frame.buffer, frame.byteOffset, frame.byteLength));
  }
  throw invalidInput(`unsupported Arrow body compression ${codecName(type)}`);
}

export interface PlainBatch {
  /** The header rewritten for the decompressed body (no compression). */
  header: RecordBatchHeader;
  /** The body as parts (buffers and their 8-byte alignment padding). */
  body: Uint8Array[];
  bodyLength: number;
  /** Each buffer of the body, by the header's buffer index. */
  buffers: Uint8Array[];
  /** Whether the body was compressed (so the header was rewritten). */
  wasCompressed: boolean;
  /** By buffer index: whether it is a view into the given body (not compressed, or stored raw) rather than the codec's new output. */
  viewsBody: boolean[];
}

const PADDING = new Uint8Array(8);

/** Decompresses a record batch body; answers the header and body unchanged when not compressed. */
export function decompressBatch(header: RecordBatchHeader, body: Uint8Array): PlainBatch {
  const compression = header.compression;
  if (!compression) {
    const buffers = header.buffers.map(({ offset: start, length }, i) => {
      if (start < 0 || length < 0 || start + length > body.length) {
        throw invalidInput(`record batch buffer ${i} [${start}, +${length}) lies outside the ${body.length}-byte body`);
      }
      return body.subarray(start, start + length);
    });
    return { header, body: [body], bodyLength: body.length, buffers, wasCompressed: false, viewsBody: buffers.map(() => true) };
  }
  const buffers: Uint8Array[] = [];
  const parts: Uint8Array[] = [];
  const regions: BufferRegion[] = [];
  let offset = 0;
  const viewsBody: boolean[] = [];
  header.buffers.forEach(({ offset: start, length }, i) => {
    if (start < 0 || length < 0 || start + length > body.length) {
      throw invalidInput(`record batch buffer ${i} [${start}, +${length}) lies outside the ${body.length}-byte body`);
    }
    let plain: Uint8Array;
    if (length === 0) {
      plain = new Uint8Array(0);
    } else {
      if (length < PREFIX) throw invalidInput(`compressed buffer ${i} is shorter than its length prefix`);
      const view = new DataView(body.buffer, body.byteOffset + start, PREFIX);
      const declared = view.getBigInt64(0, true);
      const frame = body.subarray(start + PREFIX, start + length);
      if (declared === NOT_COMPRESSED) {
        plain = frame;
        viewsBody[i] = true;
      } else {
        if (declared < 0n || declared > BigInt(Number.MAX_SAFE_INTEGER)) {
          throw invalidInput(`compressed buffer ${i} declares an impossible length ${declared}`);
        }
        const expected = Number(declared);
        try {
          plain = ownMemory(decode(compression.type, frame, expected));
        } catch (err) {
          throw invalidInput(`cannot decompress ${codecName(compression.type)} buffer ${i}: ${err instanceof Error ? err.message : String(err)}`, err);
        }
        if (plain.length !== expected) {
          throw invalidInput(
            `${codecName(compression.type)} buffer ${i} decompressed to ${plain.length} bytes, expected ${expected}`,
          );
        }
      }
    }
    viewsBody[i] ??= false;
    regions.push(new BufferRegion(offset, plain.length));
    parts.push(plain);
    buffers.push(plain);
    offset += plain.length;
    const pad = (8 - (offset % 8)) % 8;
    if (pad) {
      parts.push(PADDING.subarray(0, pad));
      offset += pad;
    }
  });
  const plainHeader = new RecordBatchHeader(
    header.length,
    header.nodes,
    regions,
    null,
    header.variadicBufferCounts,
    header.metadata,
  );
  return { header: plainHeader, body: parts, bodyLength: offset, buffers, wasCompressed: true, viewsBody };
}
