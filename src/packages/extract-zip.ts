/**
 * Zip extraction with yauzl in two passes: first every central-directory entry
 * is checked (names and types through the shared entry rules, encryption,
 * compression method, declared sizes and ratio, overlapping entries — the
 * "better zip bomb" shares one compressed kernel among many entries), and only
 * then is anything written. Symbolic links in zips are refused: they are rare
 * in packages, and their target is file data that would need its own checks.
 */
import fs from 'node:fs';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import yauzl from 'yauzl';
import { FlmError, invalidInput, isFlmError, limitExceeded } from '../errors';
import { printable, type EntryKind, type EntryRules } from './entry-rules';

export interface ZipLimits {
  maxRatio: number;
  ratioFloorBytes: number;
}

interface Planned { entry: yauzl.Entry; name: string; kind: 'file' | 'dir'; mode: number }

const METHODS: Record<number, string> = { 0: 'stored', 8: 'deflate' };
const OTHER_METHODS: Record<number, string> = { 9: 'deflate64', 12: 'bzip2', 14: 'lzma', 93: 'zstd', 95: 'xz', 99: 'AES' };
const LOCAL_HEADER_BYTES = 30;

export async function extractZip(
  file: string, destDir: string, rules: EntryRules, limits: ZipLimits, where: string, signal: AbortSignal,
): Promise<void> {
  let zip: yauzl.ZipFile;
  try {
    zip = await yauzl.openPromise(file, { lazyEntries: true, autoClose: false, decodeStrings: false, validateEntrySizes: true, strictFileNames: true });
  } catch (err) {
    throw invalidInput(`${where}: not a valid zip archive (${err instanceof Error ? err.message : String(err)})`, err);
  }
  zip.on('error', () => undefined); // errors also reach the promise or stream in use
  try {
    const planned = await plan(zip, file, rules, limits, where);
    for (const p of planned) {
      if (signal.aborted) throw signal.reason;
      const dest = path.join(destDir, ...p.name.split('/'));
      if (p.kind === 'dir') {
        await fs.promises.mkdir(dest, { recursive: true, mode: 0o755 });
        continue;
      }
      await fs.promises.mkdir(path.dirname(dest), { recursive: true, mode: 0o755 });
      try {
        const src = await zip.openReadStreamPromise(p.entry);
        await pipeline(src, fs.createWriteStream(dest, { flags: 'wx', mode: p.mode }), { signal });
      } catch (err) {
        if (signal.aborted) throw signal.reason;
        throw invalidInput(`${where}: entry "${printable(p.name)}" could not be extracted (${err instanceof Error ? err.message : String(err)})`, err);
      }
    }
  } finally {
    zip.close();
  }
}

async function plan(zip: yauzl.ZipFile, file: string, rules: EntryRules, limits: ZipLimits, where: string): Promise<Planned[]> {
  const fileSize = Math.max(1, (await fs.promises.stat(file)).size);
  const planned: Planned[] = [];
  const spans: Array<{ start: number; end: number; name: string }> = [];
  let total = 0;
  try {
    for await (const entry of zip.eachEntry()) {
      const raw = yauzl.getFileNameLowLevel(entry.generalPurposeBitFlag, entry.fileNameRaw, entry.extraFields, true);
      const fail = (why: string): FlmError => invalidInput(`${where}: entry "${printable(raw)}" ${why}`);
      const kind = entryKind(entry, raw);
      if (kind === 'symlink') throw fail('is a symbolic link (set in its external attributes): links in zip archives are not supported; use a tar archive');
      if (entry.isEncrypted()) throw fail('is encrypted: encrypted zip entries are not supported');
      if (!(entry.compressionMethod in METHODS)) {
        const known = OTHER_METHODS[entry.compressionMethod];
        throw fail(`uses compression method ${entry.compressionMethod}${known ? ` (${known})` : ''}: only stored and deflate are supported`);
      }
      const name = rules.check(raw, kind, kind === 'dir' ? 0 : entry.uncompressedSize);
      if (kind !== 'dir' && entry.uncompressedSize > limits.ratioFloorBytes
          && entry.uncompressedSize / Math.max(1, entry.compressedSize) > limits.maxRatio) {
        throw limitExceeded(`${where}: entry "${printable(raw)}" expands ${Math.round(entry.uncompressedSize / Math.max(1, entry.compressedSize))} times (limit maxCompressionRatio ${limits.maxRatio})`);
      }
      total += entry.uncompressedSize;
      if (total > limits.ratioFloorBytes && total / fileSize > limits.maxRatio) {
        throw limitExceeded(`${where}: zip data expands more than ${limits.maxRatio} times (limit maxCompressionRatio)`);
      }
      const start = entry.relativeOffsetOfLocalHeader;
      spans.push({ start, end: start + LOCAL_HEADER_BYTES + entry.fileNameLength + entry.compressedSize, name: raw });
      if (name === undefined) continue;
      const unixMode = (entry.externalFileAttributes >>> 16) & 0o777;
      planned.push({ entry, name, kind: kind as 'file' | 'dir', mode: kind === 'dir' || (unixMode & 0o111) !== 0 ? 0o755 : 0o644 });
    }
  } catch (err) {
    if (isFlmError(err)) throw err;
    throw invalidInput(`${where}: invalid zip archive (${err instanceof Error ? err.message : String(err)})`, err);
  }
  spans.sort((a, b) => a.start - b.start);
  for (let i = 1; i < spans.length; i++) {
    const prev = spans[i - 1]!;
    const cur = spans[i]!;
    if (cur.start < prev.end) {
      throw invalidInput(`${where}: entries "${printable(prev.name)}" and "${printable(cur.name)}" overlap in the file (an overlapping-entries zip bomb?)`);
    }
  }
  return planned;
}

/** The entry's type: the Unix mode in the high external attributes (whatever host is claimed), else the name. */
function entryKind(entry: yauzl.Entry, name: string): EntryKind {
  const type = (entry.externalFileAttributes >>> 16) & 0o170000;
  switch (type) {
    case 0o120000: return 'symlink';
    case 0o040000: return 'dir';
    case 0o020000: case 0o060000: return 'device';
    case 0o010000: return 'fifo';
    case 0o140000: return 'other';
    case 0o100000: return name.endsWith('/') ? 'dir' : 'file';
    default: return name.endsWith('/') || (entry.externalFileAttributes & 0x10) !== 0 ? 'dir' : 'file';
  }
}
