/**
 * From a package URL to bytes on disk (or a directory used in place), by
 * scheme (docs/protocol.md §6): file://, http(s)://, grpc(s)://host:port/<key> through the
 * object cache. An optional `#sha256=<hex>` fragment is checked. Errors that
 * mean "could not get the bytes" (unreachable, refused, timed out, HTTP error
 * status including 404, missing file or cache key) are Unavailable (shim code 3);
 * bytes that arrived but are wrong (integrity, too large) are code 2.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describeThrown, ErrorCode, invalidInput, isFlmError, limitExceeded, unavailable } from '../errors';
import { safeUrl } from '../redact';
import type { FileHashCache } from './file-hash-cache';
import { httpDownload } from './http-download';
import type { ResolvedPackageOptions } from './options';

export type Fetched =
  | { type: 'dir'; dir: string }
  | { type: 'file'; file: string; name: string; sha256: string; contentType?: string; downloaded: boolean };

export interface ParsedPackageUrl {
  url: URL;
  /** From the `#sha256=<hex>` fragment. */
  expectedSha256?: string;
}

export function parsePackageUrl(raw: string): ParsedPackageUrl {
  let url: URL;
  try {
    url = raw.startsWith('/') ? new URL(`file://${raw.split('/').map(encodeURIComponent).join('/')}`) : new URL(raw);
  } catch {
    throw invalidInput(`package URL "${safeUrl(raw)}" is not a valid URL`);
  }
  let expectedSha256: string | undefined;
  if (url.hash) {
    const m = /^#sha256=([0-9a-fA-F]{64})$/.exec(url.hash);
    if (!m) throw invalidInput(`package URL ${safeUrl(url)}: the fragment must be #sha256=<64 hex digits>`);
    expectedSha256 = m[1]!.toLowerCase();
    url.hash = '';
  }
  if (!['file:', 'http:', 'https:', 'grpc:', 'grpcs:', 'grpc+tls:'].includes(url.protocol)) {
    throw invalidInput(`package URL ${safeUrl(url)}: unsupported scheme "${url.protocol}" (use file://, http://, https://, grpc:// or grpcs://)`);
  }
  return { url, expectedSha256 };
}

/** The last path component, decoded: what the archive is called. */
function lastComponent(p: string): string {
  const last = p.split('/').filter(Boolean).pop() ?? '';
  try {
    return decodeURIComponent(last);
  } catch {
    return last;
  }
}

export async function fetchPackage(
  parsed: ParsedPackageUrl,
  tmpDir: string,
  o: ResolvedPackageOptions,
  ca: () => Buffer | undefined,
  signal?: AbortSignal,
  hashes?: FileHashCache,
): Promise<Fetched> {
  const { url, expectedSha256 } = parsed;
  const where = `package ${safeUrl(url)}`;
  const dest = path.join(tmpDir, 'download');
  let fetched: Fetched;
  switch (url.protocol) {
    case 'file:': {
      const p = fileURLToPath(url);
      const st = await fs.promises.stat(p, { bigint: true }).catch((err: unknown) => {
        throw unavailable(`${where}: could not read ${p}: ${describeThrown(err)}`, err);
      });
      if (st.isDirectory()) {
        if (expectedSha256) throw invalidInput(`${where}: a #sha256 fragment cannot check a directory`);
        return { type: 'dir', dir: p };
      }
      if (!st.isFile()) throw invalidInput(`${where}: ${p} is neither a file nor a directory`);
      if (st.size > BigInt(o.maxDownloadBytes)) {
        throw limitExceeded(`${where}: the file is ${st.size} bytes (limit maxDownloadBytes ${o.maxDownloadBytes})`);
      }
      const sha256 = hashes ? await hashes.sha256(p, where) : await sha256File(p, where);
      fetched = { type: 'file', file: p, name: path.basename(p), sha256, downloaded: false };
      break;
    }
    case 'http:': case 'https:': {
      const d = await httpDownload(url, dest, { ...o, ca: ca(), signal }, where);
      fetched = { type: 'file', file: dest, name: lastComponent(new URL(d.finalUrl).pathname) || lastComponent(url.pathname), sha256: d.sha256, contentType: d.contentType, downloaded: true };
      break;
    }
    default: {
      // grpc://host:port/<key>: the key may itself contain '/', e.g. <app>/pkg/<file>.
      const key = decodeURIComponent(url.pathname.replace(/^\/+/, ''));
      if (!key) throw invalidInput(`${where}: the URL names no object key (grpc://host:port/<key>)`);
      if (!o.fetchFromCache) throw unavailable(`${where}: no object cache client is configured to fetch grpc:// packages`);
      const endpoint = `${url.protocol}//${url.host}`;
      try {
        await o.fetchFromCache(endpoint, key, dest);
      } catch (err) {
        if (isFlmError(err) && err.code === ErrorCode.LimitExceeded) throw err;
        throw unavailable(`${where}: could not fetch from the object cache: ${isFlmError(err) ? err.message : describeThrown(err)}`, err);
      }
      const size = (await fs.promises.stat(dest)).size;
      if (size > o.maxDownloadBytes) {
        throw limitExceeded(`${where}: the object is ${size} bytes (limit maxDownloadBytes ${o.maxDownloadBytes})`);
      }
      fetched = { type: 'file', file: dest, name: lastComponent(key), sha256: await sha256File(dest, where), downloaded: true };
    }
  }
  if (expectedSha256 && fetched.sha256 !== expectedSha256) {
    throw invalidInput(`${where}: sha256 mismatch: the URL expects ${expectedSha256} but the content is ${fetched.sha256}`);
  }
  return fetched;
}

/**
 * One buffer, reused for every read: a stream's fresh 1 MiB buffer per read
 * meant ~6,000 new pages to fault in and give back for the benchmark's 23 MB
 * archive, about as much system CPU as the hashing itself (docs/extraction.md).
 */
const HASH_READ = 1 << 20;

export async function sha256File(file: string, where: string): Promise<string> {
  let fh: fs.promises.FileHandle | undefined;
  try {
    fh = await fs.promises.open(file, 'r');
  } catch (err) {
    throw unavailable(`${where}: could not read ${file}: ${describeThrown(err)}`, err);
  }
  try {
    return await sha256Handle(fh, file, where);
  } finally {
    await fh.close().catch(() => undefined);
  }
}

/** The sha256 of what an open file holds, read from its start (`file`: its name, for the error message). */
export async function sha256Handle(fh: fs.promises.FileHandle, file: string, where: string): Promise<string> {
  const hash = createHash('sha256');
  // Two buffers: the next piece is read on the pool while this one is hashed here (the read and the hash each
  // take about half of the time; one after the other they added up).
  const bufs = [Buffer.allocUnsafe(HASH_READ), Buffer.allocUnsafe(HASH_READ)];
  let reading: Promise<number> | undefined;
  try {
    let at = 0;
    let which = 0;
    reading = fh.read(bufs[0]!, 0, HASH_READ, 0).then((r) => r.bytesRead);
    for (;;) {
      const n = await reading;
      reading = undefined;
      if (n === 0) break;
      at += n;
      const buf = bufs[which]!;
      which ^= 1;
      reading = fh.read(bufs[which]!, 0, HASH_READ, at).then((r) => r.bytesRead);
      hash.update(buf.subarray(0, n));
    }
  } catch (err) {
    throw unavailable(`${where}: could not read ${file}: ${describeThrown(err)}`, err);
  } finally {
    // A read still in flight (hash.update threw) settles before the caller closes the file.
    await reading?.catch(() => undefined);
  }
  return hash.digest('hex');
}
