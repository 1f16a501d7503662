/**
 * bzip2 → file, in a worker thread.
 *
 * seek-bzip is the careful choice among the registry's bzip2 decoders (the
 * streaming unbzip2-stream decodes every buffered block synchronously into JS
 * arrays, so a 1 KiB bomb blocks the event loop while it builds gigabytes), but
 * it is synchronous too. So it runs in a worker that we can terminate on a
 * deadline, with a heap limit, writing to a file and refusing output past a
 * cap or a compression ratio: the caller then reads a plain tar from disk.
 * The worker source is inline so that it runs the same from src/ (tests) and dist/.
 */
import { Worker } from 'node:worker_threads';
import { FlmError, invalidInput, limitExceeded, unavailable } from '../errors';

export interface Bunzip2Limits {
  maxOutputBytes: number;
  maxRatio: number;
  ratioFloorBytes: number;
  timeoutMs: number;
}

const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const fs = require('node:fs');
const Bunzip = require(workerData.seekBzip);
const { input, output, maxOutputBytes, maxRatio, ratioFloorBytes } = workerData;
const inFd = fs.openSync(input, 'r');
const outFd = fs.openSync(output, 'wx', 0o600);
const inSize = Math.max(1, fs.fstatSync(inFd).size);
const inBuf = Buffer.alloc(65536); let inLen = 0, inPos = 0, inEof = false;
const outBuf = Buffer.alloc(65536); let outPos = 0, written = 0;
class Limit extends Error {}
function fill() { inLen = fs.readSync(inFd, inBuf, 0, inBuf.length, null); inPos = 0; if (inLen === 0) inEof = true; }
const src = {
  readByte() { if (inPos >= inLen) { if (inEof) return -1; fill(); if (inEof) return -1; } return inBuf[inPos++]; },
  eof() { if (inPos < inLen) return false; if (!inEof) fill(); return inEof; },
  read(buf, off, len) {
    let n = 0;
    while (n < len) { const b = this.readByte(); if (b < 0) break; buf[off + n++] = b; }
    return n === 0 && len > 0 ? -1 : n;
  },
};
function flush() {
  fs.writeSync(outFd, outBuf, 0, outPos); written += outPos; outPos = 0;
  if (written > maxOutputBytes) throw new Limit('more than ' + maxOutputBytes + ' bytes after bzip2 decompression (limit maxExtractBytes)');
  if (written > ratioFloorBytes && written / inSize > maxRatio) throw new Limit('bzip2 data expands more than ' + maxRatio + ' times (limit maxCompressionRatio)');
}
const dst = { writeByte(b) { outBuf[outPos++] = b; if (outPos === outBuf.length) flush(); } };
try {
  Bunzip.decode(src, dst, true);
  flush();
  parentPort.postMessage({ ok: true, bytes: written });
} catch (e) {
  parentPort.postMessage({ ok: false, limit: e instanceof Limit, message: String(e && e.message || e) });
} finally {
  fs.closeSync(inFd); fs.closeSync(outFd);
}
`;

type Reply = { ok: true; bytes: number } | { ok: false; limit: boolean; message: string };

/** Decompresses `input` (bzip2, multi-stream allowed) into the new file `output`. */
export function bunzip2File(input: string, output: string, limits: Bunzip2Limits, where: string, signal?: AbortSignal): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    const worker = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: { seekBzip: require.resolve('seek-bzip'), input, output, ...limits },
      resourceLimits: { maxOldGenerationSizeMb: 128, maxYoungGenerationSizeMb: 32 },
    });
    let settled = false;
    const finish = (err: FlmError | undefined, bytes = 0): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      void worker.terminate();
      if (err) reject(err);
      else resolve(bytes);
    };
    const timer = setTimeout(() => {
      finish(limitExceeded(`${where}: bzip2 decompression took longer than ${limits.timeoutMs} ms (limit extractTimeoutMs)`));
    }, limits.timeoutMs);
    timer.unref();
    const onAbort = (): void => finish(unavailable(`${where}: bzip2 decompression cancelled`));
    signal?.addEventListener('abort', onAbort, { once: true });
    worker.on('message', (m: Reply) => {
      if (m.ok) finish(undefined, m.bytes);
      else if (m.limit) finish(limitExceeded(`${where}: ${m.message}`));
      else finish(invalidInput(`${where}: corrupt or truncated bzip2 data (${m.message})`));
    });
    worker.on('error', (e: Error) => {
      const oom = /ERR_WORKER_OUT_OF_MEMORY/.test(String((e as { code?: string }).code));
      finish(oom ? limitExceeded(`${where}: bzip2 decompression ran out of memory`, e) : invalidInput(`${where}: bzip2 decompression failed: ${e.message}`, e));
    });
    worker.on('exit', (code) => finish(invalidInput(`${where}: bzip2 decompression stopped unexpectedly (exit ${code})`)));
  });
}
