/**
 * The plain tar stream inside a (compressed) tar file, with the output capped
 * and the compression ratio bounded as it streams: node-tar's own ratio guard
 * never sees what these decompressors produce.
 *
 * gzip: node:zlib. xz: xz-decompress (xz-embedded compiled to WASM, no native
 * code, no install script; pull-based, so a bomb produces output only as fast
 * as we read it, in 64 KiB chunks; it has a process-wide lock, so we queue xz
 * work ourselves and never cancel a stream still waiting for that lock).
 * bzip2: see bunzip2.ts.
 */
import fs from 'node:fs';
import path from 'node:path';
import { pipeline as pipe, type TransformOptions } from 'node:stream';
import zlib from 'node:zlib';
import { XzReadableStream } from 'xz-decompress';
import { FlmError, invalidInput, isFlmError, limitExceeded } from '../errors';
import type { ArchiveKind } from './archive-kind';
import { bunzip2File } from './bunzip2';

export interface StreamLimits {
  /** Cap on the decompressed tar stream. */
  maxOutputBytes: number;
  maxRatio: number;
  ratioFloorBytes: number;
  timeoutMs: number;
}

const CHUNK = 64 * 1024;
/**
 * gzip and plain tar streams are read and inflated in 1 MiB pieces, with up to
 * 4 MiB inflated ahead of the extractor: each piece crosses from the libuv pool
 * to JavaScript once, and zlib keeps inflating while the extractor writes
 * files. With 64 KiB pieces and no read-ahead, that hand-over cost ~0.3 s of
 * CPU for the benchmark's 30 MB tar (docs/extraction.md). The caps still see
 * every piece before the parser does; what is inflated ahead is memory only.
 */
const BIG_CHUNK = 1024 * 1024;
/**
 * The 4 MiB ahead, counted in pieces: gunzip's readable side is in object
 * mode, so each read hands over one piece as zlib wrote it (at most 1 MiB).
 * In byte mode a read takes everything buffered, and with zlib ahead that
 * was 2–4 pieces copied into a fresh buffer each time: the whole tar copied
 * once more, into new pages (docs/extraction.md).
 */
const INFLATE_AHEAD_PIECES = 4;

/**
 * The plain tar stream inside `file`, chunk by chunk, under the output cap and
 * the ratio bound: the extractor checks and writes each entry as it arrives.
 * bzip2 alone goes through a file in `tmpDir` first (its decoder runs in a
 * worker, see bunzip2.ts); the entries are still checked in one pass over it.
 */
export async function* tarChunks(
  file: string, kind: Exclude<ArchiveKind, 'zip'>, tmpDir: string, limits: StreamLimits, where: string, signal: AbortSignal,
): AsyncGenerator<Buffer> {
  if (kind === 'tar' || kind === 'tar.bz2') {
    let plain = file;
    if (kind === 'tar') {
      const size = (await fs.promises.stat(file)).size;
      if (size > limits.maxOutputBytes) throw limitExceeded(`${where}: the tar is ${size} bytes (limit maxExtractBytes)`);
    } else {
      plain = path.join(tmpDir, 'plain.tar');
      await bunzip2File(file, plain, limits, where, signal);
    }
    for await (const c of fs.createReadStream(plain, { highWaterMark: BIG_CHUNK, signal })) yield c as Buffer;
    return;
  }
  const inSize = Math.max(1, (await fs.promises.stat(file)).size);
  let out = 0;
  const guard = (chunk: Buffer): Buffer => {
    out += chunk.length;
    if (out > limits.maxOutputBytes) {
      throw limitExceeded(`${where}: more than ${limits.maxOutputBytes} bytes after decompression (limit maxExtractBytes)`);
    }
    if (out > limits.ratioFloorBytes && out / inSize > limits.maxRatio) {
      throw limitExceeded(`${where}: ${kind} data expands more than ${limits.maxRatio} times (limit maxCompressionRatio)`);
    }
    return chunk;
  };
  yield* kind === 'tar.gz' ? gunzip(file, where, signal, guard) : unxz(file, where, signal, guard);
}

async function* gunzip(file: string, where: string, signal: AbortSignal, guard: (b: Buffer) => Buffer): AsyncGenerator<Buffer> {
  // zlib streams take the Transform options too; @types/node lists only zlib's own.
  const options: zlib.ZlibOptions & TransformOptions = { chunkSize: BIG_CHUNK, readableObjectMode: true, readableHighWaterMark: INFLATE_AHEAD_PIECES };
  const unzip = zlib.createGunzip(options);
  // pipeline forwards a read error into `unzip`, which the loop below then throws.
  pipe(fs.createReadStream(file, { highWaterMark: BIG_CHUNK, signal }), unzip, () => undefined);
  try {
    for await (const c of unzip) yield guard(c as Buffer);
  } catch (err) {
    if (signal.aborted) throw signal.reason;
    throw wrapCorrupt(err, 'gzip', where);
  } finally {
    unzip.destroy();
  }
}

let xzQueue: Promise<void> = Promise.resolve();

async function* unxz(file: string, where: string, signal: AbortSignal, guard: (b: Buffer) => Buffer): AsyncGenerator<Buffer> {
  // Our own queue in front of xz-decompress's lock (see the file comment).
  let release!: () => void;
  const mine = new Promise<void>((r) => (release = r));
  const before = xzQueue;
  xzQueue = before.then(() => mine);
  await before;
  const fh = await fs.promises.open(file, 'r');
  // A pull-based source: Readable.toWeb() on Node 20 throws past a closed controller after a decode error.
  const input = new ReadableStream<Uint8Array>({
    async pull(controller) {
      const buf = Buffer.alloc(CHUNK);
      const { bytesRead } = await fh.read(buf, 0, CHUNK, null);
      if (bytesRead === 0) controller.close();
      else controller.enqueue(buf.subarray(0, bytesRead));
    },
  });
  const reader = new XzReadableStream(input).getReader();
  let done = false;
  try {
    for (;;) {
      if (signal.aborted) throw signal.reason;
      const r = await reader.read().catch((err: unknown) => { done = true; throw wrapCorrupt(err, 'xz', where); });
      if (r.done) { done = true; return; }
      yield guard(Buffer.from(r.value.buffer, r.value.byteOffset, r.value.byteLength));
    }
  } finally {
    if (!done) await reader.cancel().catch(() => undefined);
    await fh.close().catch(() => undefined);
    release();
  }
}

function wrapCorrupt(err: unknown, format: string, where: string): FlmError {
  if (isFlmError(err)) return err;
  const msg = err instanceof Error ? err.message : String(err);
  // xz-embedded's codes: 4 memory limit (dictionary too large), 5 not xz, 6 unsupported options, 7 corrupt, 8 truncated.
  const hint = format === 'xz' ? xzHint(msg) : '';
  return invalidInput(`${where}: corrupt or truncated ${format} data (${msg}${hint})`, err);
}

function xzHint(msg: string): string {
  const code = /error code (\d+)/.exec(msg)?.[1];
  const words: Record<string, string> = {
    '4': ': dictionary larger than the decoder allows', '5': ': not xz data', '6': ': unsupported xz options',
    '7': ': data error', '8': ': unexpected end or bad structure',
  };
  if (/null|undefined/.test(msg)) return ': input ended early';
  return code ? words[code] ?? '' : '';
}
