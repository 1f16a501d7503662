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
 *   outputs up to WASM_MAX_OUTPUT in one kept instance, and for larger outputs
 *   made mostly by compressed blocks in an instance of their own; fzstd (pure
 *   JS) for the rest (runs of one byte), until the WebAssembly module has
 *   loaded, and where it cannot load (see zstdDecoderFor, loadZstdDecoder).
 *   Every frame's header is checked first (checkZstdFrames) so that no decoder
 *   allocates by a hostile header.
 * - LZ4_FRAME: lz4-napi (lz4_flex through N-API, prebuilt per platform as
 *   registry packages, no install script; maintained, works in worker threads).
 */
import fs from 'node:fs';
import zlib from 'node:zlib';
import { decompress as fzstdDecompress, Decompress as FzstdStream } from 'fzstd';
import { CompressionType } from 'apache-arrow/fb/compression-type';
import { BufferRegion, RecordBatch as RecordBatchHeader } from 'apache-arrow/ipc/metadata/message';
import { describeThrown, ErrorCode, FlmError, invalidInput, isFlmError } from '../errors';

const NOT_COMPRESSED = -1n;

/**
 * A native addon loaded on first use: each costs ~7 ms at a process's start (serve, every session
 * process), and most processes never need them. LZ4 bodies are rare (Flame's cache answers in ZSTD, our
 * server uncompressed; LZ4 comes only from a writer that chose it), and the XXH64 checksum is needed only
 * where fzstd decodes (Node < 22.15) a frame that carries one. An addon that cannot load (no prebuilt
 * binary for the platform) fails that use as UNIMPLEMENTED, not as bad input: it is this installation's
 * lack, not the data's. The failure is remembered (napi-rs's loader is not run again for each request).
 */
function lazyAddon<T>(name: string, use: string): () => T {
  let mod: T | undefined;
  let failure: FlmError | undefined;
  return () => {
    if (mod !== undefined) return mod;
    if (failure) throw failure;
    try {
      // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded lazily on purpose (above)
      return (mod = require(name) as T);
    } catch (err) {
      throw (failure = new FlmError(ErrorCode.Unimplemented, `${use} needs ${name}, which cannot be loaded here: ${describeThrown(err)}`, { cause: err }));
    }
  };
}
const lz4 = lazyAddon<typeof import('lz4-napi')>('lz4-napi', 'decoding an LZ4_FRAME body');
const xxhash = lazyAddon<typeof import('@node-rs/xxhash')>('@node-rs/xxhash', "checking a ZSTD frame's checksum");
const lz4Decompress = (frame: Buffer): Buffer => lz4().decompressFrameSync(frame);
const xxh64 = (data: Uint8Array): bigint => xxhash().xxh64(data);
const PREFIX = 8;

type ZstdSync = (buf: Uint8Array, options?: { maxOutputLength?: number; chunkSize?: number }) => Buffer;
const nodeZstd = (zlib as unknown as { zstdDecompressSync?: ZstdSync }).zstdDecompressSync;
/** node:zlib's default output chunk. */
const ZLIB_CHUNK = 16 * 1024;
/**
 * ZSTD's largest expansion, a strict bound: no block is shorter than 4 bytes (a 3-byte header and an RLE
 * block's one byte) nor holds more than 128 KiB, and each frame adds a header of 6 bytes or more. Measured
 * closest: 64 MiB of one byte, compressed by libzstd 1.5 (pyarrow, levels 1-22; the zstd CLI) into
 * 2,065-2,288 bytes, a ratio of at most 32,498.
 */
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
 * The largest output given to the kept WebAssembly decoder. libzstd there decodes 3.5-4.5 times as fast as
 * fzstd (JSON-like text, 1 and 16 MiB: 6.1 -> 1.3 ms and 143 -> 32 ms; docs/cache-get.md), but it writes
 * into the module's linear memory, which only grows: every output is copied out of it (a second pass,
 * which makes a 64 MiB RLE-only output cost 21 ms instead of fzstd's 14), and the largest output decoded
 * stays allocated for the life of the process (thread). Up to this size both are small prices; above it,
 * see WASM_ONCE_SHARE.
 */
const WASM_MAX_OUTPUT = 16 * 1024 * 1024;

/**
 * Above WASM_MAX_OUTPUT, libzstd decodes in a WebAssembly instance made for the one buffer (made from the
 * compiled module in about a millisecond, dropped after it: its memory goes back at the next garbage
 * collection, as an ArrayBuffer's would) when at least this share of the output comes from compressed
 * blocks: there fzstd's byte loops cost most (64 MiB of JSON-like text from Flame's cache: fzstd 312-378 ms
 * of CPU, libzstd here 92-135 ms and its instance's fresh memory 40-65 ms of system time; docs/cache-get.md).
 * Raw and RLE blocks fzstd writes at memory speed straight into the output handed on, which a fresh
 * instance's memory and the copy out of it would only slow (about 1 ms per MiB of output here, against
 * about 3 ms per MiB of compressed blocks saved: even at a third the two are close).
 */
const WASM_ONCE_SHARE = 1 / 3;

/**
 * The largest output a one-buffer instance decodes. The instance holds the frame, the output and libzstd's
 * workspace (about 95 MiB for a 64 MiB output of text) besides the output copied out of it, until the next
 * garbage collection: about twice fzstd's memory while it lasts. Past this size that transient memory
 * weighs more than the CPU saved, and fzstd decodes, slowly but into the output alone.
 */
const WASM_ONCE_MAX_OUTPUT = 256 * 1024 * 1024;

/** What the Emscripten module of @foxglove/wasm-zstd exposes (its dist/wasm-zstd.js; the package declares no types for it). */
interface ZstdModule {
  HEAPU8: Uint8Array;
  _malloc(size: number): number;
  _free(pointer: number): void;
  /** libzstd's ZSTD_decompress: the decoded length, or -1 on any error (including an output past dstCapacity). */
  _decompress(dst: number, dstCapacity: number, src: number, srcSize: number): number;
}

/** The few parts of the WebAssembly API used here (our TypeScript lib has no WebAssembly types; `node --jitless` has no WebAssembly). */
interface WasmApi {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: object };
  compile(bytes: Uint8Array): Promise<object>;
  RuntimeError: new () => Error;
}
const wasmApi = (): WasmApi | undefined => (globalThis as { WebAssembly?: WasmApi }).WebAssembly;

/** The kept instance (outputs up to WASM_MAX_OUTPUT). */
let wasmZstd: ZstdModule | undefined;
let wasmLoading: Promise<void> | undefined;
/** The compiled module, shared by the kept instance and the one-buffer ones; null: it cannot be had here. */
let wasmCompiled: object | null | undefined;

/** The package's .wasm file, or undefined when it is not installed. */
function wasmBytes(): Buffer | undefined {
  try {
    return fs.readFileSync(require.resolve('@foxglove/wasm-zstd/dist/wasm-zstd.wasm'));
  } catch {
    return undefined;
  }
}

type ZstdFactory = (overrides: object) => Promise<unknown>;
let wasmFactory: ZstdFactory | null | undefined;

/** The package's Emscripten factory (its dist/wasm-zstd.js), required once; undefined when it cannot be. */
function zstdFactory(): ZstdFactory | undefined {
  if (wasmFactory === undefined) {
    try {
      // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded on demand on purpose (loadZstdDecoder); the package has no `exports` map
      wasmFactory = require('@foxglove/wasm-zstd/dist/wasm-zstd.js') as ZstdFactory;
    } catch {
      wasmFactory = null;
    }
  }
  return wasmFactory ?? undefined;
}

/**
 * An instance of the compiled module through the package's Emscripten factory, made synchronously (its
 * `instantiateWasm` hook: the factory then sets the module up before it returns), or undefined when it
 * cannot be made (no memory for it: "WebAssembly.instantiate(): Out of memory" under `ulimit -v`).
 */
function instantiateZstd(compiled: object): ZstdModule | undefined {
  const api = wasmApi();
  const factory = zstdFactory();
  if (!api || !factory) return undefined;
  let made = false;
  const overrides = {
    // The module reports a failed instantiation on stderr itself; the failure is handled here (fzstd decodes).
    printErr: () => undefined,
    instantiateWasm(imports: object, receive: (instance: object, module: object) => void): object {
      const instance = new api.Instance(compiled, imports);
      receive(instance, compiled);
      made = true;
      return instance.exports;
    },
  };
  try {
    // The factory's promise rejects when the hook threw; that is seen through `made`.
    factory(overrides).catch(() => undefined);
  } catch {
    return undefined;
  }
  const mod = overrides as unknown as ZstdModule;
  return made && mod.HEAPU8 instanceof Uint8Array ? mod : undefined;
}

/** The compiled module, compiled now (synchronously, ~8 ms once) if loadZstdDecoder has not done so yet. */
function compiledZstd(): object | undefined {
  if (wasmCompiled === undefined) {
    const api = wasmApi();
    const bytes = api && wasmBytes();
    try {
      wasmCompiled = api && bytes ? new api.Module(bytes) : null;
    } catch {
      wasmCompiled = null;
    }
  }
  return wasmCompiled ?? undefined;
}

/**
 * Starts loading the WebAssembly ZSTD decoder, once: on Node < 22.15 when a CacheClient or CacheServer is
 * made (so that the same bytes meet the same decoder from the first answer on), else on the first ZSTD
 * buffer; loading costs ~8 ms of CPU and 5 MiB. Resolves once it is usable, or once it failed to load
 * (fzstd then stays the decoder); never rejects.
 *
 * The package's own entry (dist/index.js) is not used: it starts loading on import and leaves the load's
 * rejection unhandled (a missing .wasm, or "WebAssembly.instantiate(): Out of memory" under `ulimit -v`,
 * would end the process), its decompress does not check malloc's result and answers a Buffer.allocUnsafe
 * (Buffer's shared pool). The module is compiled here and instantiated through the Emscripten factory
 * (instantiateZstd), and the few lines of wasmDecompress below stand in for that wrapper.
 */
export function loadZstdDecoder(): Promise<void> {
  if (!wasmLoading) {
    const api = wasmApi();
    const factory = !nodeZstd && api ? zstdFactory() : undefined;
    // The .wasm is read only when compiledZstd has not compiled it already.
    const bytes = factory && wasmCompiled === undefined ? wasmBytes() : undefined;
    if (!api || !factory || wasmCompiled === null || (!wasmCompiled && !bytes)) return (wasmLoading = Promise.resolve()); // node:zlib decodes, or fzstd (not installed, --jitless)
    wasmLoading = new Promise<void>((done) => {
      const overrides = {
        // The module reports a failed load on stderr itself; the failure is handled here (fzstd decodes).
        printErr: () => undefined,
        // Compiled off the event loop, once (compiledZstd may have done it already), then instantiated.
        instantiateWasm(imports: object, receive: (instance: object, module: object) => void): object {
          const compiled = wasmCompiled ? Promise.resolve(wasmCompiled) : bytes ? api.compile(bytes) : Promise.reject(new Error('no .wasm'));
          compiled
            .then((module) => {
              wasmCompiled ??= module;
              receive(new api.Instance(module, imports), module);
            })
            .catch(() => {
              wasmCompiled ??= null;
              done(); // not usable here (e.g. "Out of memory" under `ulimit -v`): fzstd decodes
            });
          return {}; // the exports come through `receive`
        },
      };
      try {
        factory(overrides).then(
          () => {
            wasmZstd = overrides as unknown as ZstdModule;
            done();
          },
          () => done(),
        );
      } catch {
        done();
      }
    });
  }
  return wasmLoading;
}

/** For CacheClient and CacheServer: starts loading the WebAssembly decoder where it would be used (see loadZstdDecoder). */
export function preloadZstdDecoder(): void {
  void loadZstdDecoder();
}

/**
 * Which ZSTD decoder takes a frame declared to hold `expected` bytes (node:zlib's aside), `checked` being
 * what checkZstdFrames found in it (walked here when not given).
 * - 'wasm', the kept WebAssembly instance: outputs and frames up to WASM_MAX_OUTPUT, and only a
 *   declaration the frame could honour (the sender's word sizes its allocation there). Its loading is
 *   asynchronous: until it is done, fzstd decodes (the same bytes, more slowly).
 * - 'wasm-once', an instance of its own: larger outputs, up to WASM_ONCE_MAX_OUTPUT, whose frames all state
 *   their content size (which then sizes the allocation, as fzstd's would be) and that come mostly from
 *   compressed blocks (WASM_ONCE_SHARE). Made synchronously: the choice depends on the bytes alone, never
 *   on loading.
 * - 'fzstd' for the rest: a lying prefix, runs of one byte, frames that do not state their size, outputs
 *   above WASM_ONCE_MAX_OUTPUT.
 */
export function zstdDecoderFor(frame: Uint8Array, expected: number, checked?: CheckedFrames): 'wasm' | 'wasm-once' | 'fzstd' {
  if (expected > frame.length * MAX_ZSTD_RATIO || !wasmApi()) return 'fzstd';
  if (expected > WASM_MAX_OUTPUT || frame.length > WASM_MAX_OUTPUT) {
    let found = checked;
    try {
      found ??= checkZstdFrames(frame, expected);
    } catch {
      return 'fzstd'; // refused by the check: no decoder will see it
    }
    const { stated, known } = found;
    const once = stated !== undefined && stated <= WASM_ONCE_MAX_OUTPUT && stated - known >= stated * WASM_ONCE_SHARE;
    return once && compiledZstd() ? 'wasm-once' : 'fzstd';
  }
  if (!wasmZstd) {
    void loadZstdDecoder();
    return 'fzstd';
  }
  return 'wasm';
}

/** WebAssembly's trap error, read when needed: under `node --jitless` there is no WebAssembly. */
function isWasmTrap(err: unknown): boolean {
  const RuntimeError = wasmApi()?.RuntimeError;
  return RuntimeError !== undefined && err instanceof RuntimeError;
}

/**
 * libzstd's ZSTD_decompress into an output of at most `expected` bytes, copied out of the module's memory
 * into memory of its own (never Buffer's shared pool). Throws when libzstd refuses the frame; answers
 * undefined when the module's memory cannot hold frame and output (malloc answered 0): fzstd decodes then.
 * A one-buffer instance (not the kept one) is left as it is: nothing else uses it.
 */
function wasmDecompress(mod: ZstdModule, frame: Uint8Array, expected: number): Uint8Array | undefined {
  let src = 0;
  let dst = 0;
  try {
    src = mod._malloc(Math.max(frame.length, 1));
    dst = mod._malloc(Math.max(expected, 1));
    if (src === 0 || dst === 0) return undefined;
    mod.HEAPU8.set(frame, src); // HEAPU8 read after malloc: growing the memory replaces it
    const n = mod._decompress(dst, expected, src, frame.length);
    if (n < 0) throw new Error('libzstd refused the frame (corrupt, wrong checksum, or longer than declared)');
    const out = new Uint8Array(n);
    out.set(mod.HEAPU8.subarray(dst, dst + n));
    return out;
  } catch (err) {
    // A trap (not libzstd's error answer) may leave the kept module's memory in any state: fzstd decodes from now on.
    if (mod === wasmZstd && isWasmTrap(err)) {
      wasmZstd = undefined;
      wasmLoading = Promise.resolve();
    }
    throw err;
  } finally {
    if (wasmZstd === mod) {
      if (src) mod._free(src);
      if (dst) mod._free(dst);
    }
  }
}

function codecName(type: CompressionType): string {
  return type === CompressionType.ZSTD ? 'ZSTD' : type === CompressionType.LZ4_FRAME ? 'LZ4_FRAME' : `codec ${type}`;
}

/** libzstd's default largest window (ZSTD_WINDOWLOG_LIMIT_DEFAULT), which node:zlib's decoder keeps too. */
const MAX_WINDOW = 2 ** 27;
/** The most a ZSTD block regenerates (Block_Maximum_Size's ceiling, RFC 8878 §3.1.1.2.3). */
const ZSTD_BLOCK_MAX = 128 * 1024;
/** Frames in one buffer: Arrow's writers put one in each; many empty ones would only cost memory and time. */
const MAX_ZSTD_FRAMES = 1024;
const ZSTD_MAGIC = 0xfd2fb528;

/**
 * Checks each frame's header in a ZSTD buffer (RFC 8878 §3.1.1) before a decoder sees it: fzstd sizes its
 * output by the frame's own header (the window size, or the content size: up to 2 GiB) whatever the
 * declared length is, and pads a frame whose content size says more than it holds with zeros. Refuses a
 * window above libzstd's default limit (as node:zlib does), content sizes or raw and RLE blocks adding up
 * to more than `expected`, a block above Block_Maximum_Size, a frame needing a dictionary, and more than
 * MAX_ZSTD_FRAMES frames; answers the frames (skippable ones left out) and the bytes their raw and RLE
 * blocks regenerate. Walks block headers only (3 bytes each, no decoding). By hand: fzstd reads these
 * headers but does not export that, and no maintained JS library does it alone.
 */
function checkZstdFrames(buf: Uint8Array, expected: number): CheckedFrames {
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const frames: ZstdFrame[] = [];
  /** The content sizes the frames state, added up; whether every frame states one. */
  let total = 0;
  let allStated = true;
  /** Bytes the raw and RLE blocks of all frames regenerate: known exactly from their headers. */
  let known = 0;
  let at = 0;
  const need = (n: number): void => {
    if (at + n > buf.length) throw new Error('truncated ZSTD frame');
  };
  while (at < buf.length) {
    need(4);
    const magic = view.getUint32(at, true);
    if (magic >>> 4 === 0x184d2a5) {
      // Skippable frame: 4 bytes of size, then that much.
      need(8);
      at += 8 + view.getUint32(at + 4, true);
      if (at > buf.length) throw new Error('truncated ZSTD skippable frame');
      continue;
    }
    if (magic !== ZSTD_MAGIC) throw new Error('not a ZSTD frame (bad magic number)');
    if (frames.length === MAX_ZSTD_FRAMES) throw new Error(`more than ${MAX_ZSTD_FRAMES} ZSTD frames in one buffer`);
    const start = at;
    at += 4;
    need(1);
    const descriptor = buf[at++]!;
    const fcsFlag = descriptor >> 6;
    const single = (descriptor >> 5) & 1;
    const checksum = (descriptor >> 2) & 1;
    if (descriptor & 8) throw new Error('ZSTD frame header: reserved bit set');
    let window = -1;
    if (!single) {
      need(1);
      const wd = buf[at++]!;
      const base = 2 ** (10 + (wd >> 3));
      window = base + (base / 8) * (wd & 7);
      if (window > MAX_WINDOW) throw new Error(`ZSTD frame needs a ${window}-byte window, above the ${MAX_WINDOW} decoders accept by default`);
    }
    const dictBytes = [0, 1, 2, 4][descriptor & 3]!;
    need(dictBytes);
    // fzstd ignores a dictionary, libzstd refuses a frame that needs one it was not given: refused here, by both.
    for (let i = 0; i < dictBytes; i++) if (buf[at + i]) throw new Error('ZSTD frame needs a dictionary');
    at += dictBytes;
    const fcsBytes = [single, 2, 4, 8][fcsFlag]!;
    need(fcsBytes);
    let contentSize: number | undefined;
    if (fcsBytes === 1) contentSize = buf[at]!;
    else if (fcsBytes === 2) contentSize = view.getUint16(at, true) + 256;
    else if (fcsBytes === 4) contentSize = view.getUint32(at, true);
    else if (fcsBytes === 8) contentSize = Number(view.getBigUint64(at, true));
    at += fcsBytes;
    if (contentSize !== undefined) {
      total += contentSize;
      if (total > expected) throw new Error(`ZSTD frame header says ${contentSize} bytes, more than the ${expected} declared`);
    } else allStated = false;
    // A single-segment frame's window is its content (RFC 8878 §3.1.1.1.2).
    if (single) window = contentSize!;
    // Block_Maximum_Size (§3.1.1.2.3): what keeps a block's output, and so MAX_ZSTD_RATIO, bounded. fzstd
    // and this build of libzstd both decode an RLE block of up to 2^21 - 1 bytes.
    const blockMax = Math.min(ZSTD_BLOCK_MAX, window);
    let frameKnown = 0;
    for (let last = 0; !last; ) {
      need(3);
      const head = buf[at]! | (buf[at + 1]! << 8) | (buf[at + 2]! << 16);
      at += 3;
      last = head & 1;
      const type = (head >> 1) & 3;
      if (type === 3) throw new Error('ZSTD block of reserved type');
      const size = head >>> 3;
      if (size > blockMax) throw new Error(`ZSTD block of ${size} bytes, above the ${blockMax} a block of this frame may hold`);
      if (type !== 2) frameKnown += size; // raw and RLE blocks regenerate their size
      at += type === 1 ? 1 : size;
    }
    need(checksum * 4);
    at += checksum * 4;
    if (contentSize !== undefined && frameKnown > contentSize) throw new Error(`ZSTD frame header says ${contentSize} bytes, its blocks hold more`);
    known += frameKnown;
    if (known > expected) throw new Error(`ZSTD buffer holds more than the ${expected} declared`);
    frames.push({ start, end: at, contentSize: contentSize ?? -1, checksum: checksum === 1 });
  }
  return { frames, known, stated: allStated ? total : undefined };
}

/** What checkZstdFrames found in a ZSTD buffer. */
export interface CheckedFrames {
  frames: ZstdFrame[];
  /** What all the frames' headers say they hold together; undefined when one does not say. */
  stated: number | undefined;
  /** Bytes the raw and RLE blocks of all frames regenerate (known from their headers; the rest comes from compressed blocks). */
  known: number;
}

interface ZstdFrame {
  start: number;
  end: number;
  /** -1 when the header does not state it. */
  contentSize: number;
  /** Whether the frame ends with the low 32 bits of its content's XXH64 (RFC 8878 §3.1.1). */
  checksum: boolean;
}

/**
 * fzstd's decoding, after checkZstdFrames, held to what libzstd checks, so that the same bytes get the
 * same answer from either decoder (and from node:zlib):
 * - fzstd does not check the content checksum: it is checked here (XXH64 from @node-rs/xxhash, native,
 *   prebuilt per platform like lz4-napi, no install script; 5.4-8.2 ms of CPU for 64 MiB).
 * - fzstd answers a frame of stated content size as that many bytes even when its blocks hold fewer (zero
 *   padding). Up to WASM_MAX_OUTPUT, such frames are decoded through fzstd's stream decoder, which hands
 *   out each block's bytes, so that their real length is known. Not above: the stream decoder costs up
 *   to twice the CPU of the one-shot one (64 MiB of runs: 93-142 vs 45-91 ms), and there the decoder
 *   is chosen by the bytes alone (zstdDecoderFor): no answer changes with loading.
 * Several frames are decoded one by one (each has its own checksum and content size) and joined.
 */
function fzstdDecode(buf: Uint8Array, expected: number, frames: ZstdFrame[]): Uint8Array {
  let length = 0;
  const one = (frame: ZstdFrame): Uint8Array => {
    const bytes = buf.subarray(frame.start, frame.end);
    // A frame that does not state its content size is decoded block by block and stopped once past what is
    // left of the declared length: nothing else bounds its output (many RLE blocks of 128 KiB).
    const out =
      frame.contentSize < 0
        ? fzstdStream(bytes, expected - length, false)
        : expected > WASM_MAX_OUTPUT
          ? fzstdDecompress(bytes)
          : fzstdStream(bytes, frame.contentSize, true);
    if (frame.checksum) {
      const want = new DataView(bytes.buffer, bytes.byteOffset + bytes.length - 4, 4).getUint32(0, true);
      if (Number(xxh64(out) & 0xffffffffn) !== want) throw new Error('ZSTD frame checksum does not match its content');
    }
    return out;
  };
  if (frames.length === 1 && frames[0]!.start === 0 && frames[0]!.end === buf.length) return one(frames[0]!);
  const parts: Uint8Array[] = [];
  for (const frame of frames) {
    const part = one(frame);
    length += part.length;
    if (length > expected) throw new Error(`ZSTD buffer holds more than the ${expected} declared`);
    parts.push(part);
  }
  return join(parts, length);
}

/**
 * fzstd's stream decoding of one frame, stopped as soon as it passes `limit` bytes: the content size its
 * header states (`exact`: a frame holding another length is refused), or what is left of the declared
 * length for a frame that states none.
 */
function fzstdStream(bytes: Uint8Array, limit: number, exact: boolean): Uint8Array {
  const parts: Uint8Array[] = [];
  let length = 0;
  const stream = new FzstdStream((chunk) => {
    length += chunk.length;
    if (length > limit) throw new Error(exact ? `ZSTD frame holds more than the ${limit} bytes its header says` : `ZSTD buffer holds more than declared`);
    parts.push(chunk.slice());
  });
  stream.push(bytes, true);
  if (exact && length !== limit) throw new Error(`ZSTD frame header says ${limit} bytes, its blocks hold ${length}`);
  return join(parts, length);
}

function join(parts: Uint8Array[], length: number): Uint8Array {
  if (parts.length === 1) return parts[0]!;
  const out = new Uint8Array(length);
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

function decode(type: CompressionType, frame: Uint8Array, expected: number): Uint8Array {
  if (type === CompressionType.ZSTD) {
    // A ZSTD buffer expands at most MAX_ZSTD_RATIO times: a declaration past that is refused undecoded
    // (fzstd would size its output by the frame's header whatever is declared).
    if (expected > frame.length * MAX_ZSTD_RATIO) {
      throw new Error(`a ${frame.length}-byte frame cannot hold ${expected} bytes`);
    }
    if (nodeZstd) return nodeZstd(frame, { maxOutputLength: Math.max(expected, 1), chunkSize: zstdChunk(frame, expected) });
    // Asked for the declared length (0 too): a frame holding more is an error there, one holding less
    // answers its own length (the caller compares).
    // Both decoders below see only frames that pass (libzstd's one-shot decoding has no window limit, fzstd
    // allocates by the window): the same bytes get the same answer from either.
    const checked = checkZstdFrames(frame, expected);
    const decoder = zstdDecoderFor(frame, expected, checked);
    if (decoder === 'wasm') {
      const out = wasmDecompress(wasmZstd!, frame, expected);
      if (out) return out;
    } else if (decoder === 'wasm-once') {
      // Sized by what the frames state (libzstd refuses a frame holding another length), not by the prefix.
      const once = instantiateZstd(compiledZstd()!);
      const out = once && wasmDecompress(once, frame, checked.stated!);
      if (out) return out;
    }
    // No buffer sized by the declared length: the 8-byte prefix is the sender's word, and a hostile
    // one (2^30, say) would make every request allocate and zero that much (found by test/fuzz).
    // The caller compares the result with the declared length.
    return fzstdDecode(frame, expected, checked.frames);
  }
  if (type === CompressionType.LZ4_FRAME) {
    return lz4Decompress(Buffer.from(frame.buffer, frame.byteOffset, frame.byteLength));
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
          if (isFlmError(err) && err.code === ErrorCode.Unimplemented) throw err; // the codec cannot load here (lazyAddon)
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
