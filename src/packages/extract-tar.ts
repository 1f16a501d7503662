/**
 * Tar extraction in one streaming pass: each raw header is inspected, node-tar
 * (7.5.23) parses it, our entry rules check it, and only then is the entry
 * handed to the writer, before the next header is read: directories and links
 * are made at once, small files when their last byte has arrived (on the
 * main thread, or on the libuv pool while the next headers are parsed once
 * creating them proves slow: staging-writer.ts). The first violation stops the pass;
 * every file in flight is settled before the caller deletes the staging tree.
 * Why this is as safe as checking the whole archive first: docs/extraction.md.
 *
 * node-tar is used as a parser only: its Unpack strips or skips a bad entry
 * with a warning, where we refuse the whole archive, and it costs ~2x the CPU of
 * the writer here for the same tree (see docs/extraction.md).
 */
import { once } from 'node:events';
import { Parser, type ReadEntry } from 'tar';
import { describeThrown, ErrorCode, FlmError, invalidInput, isFlmError } from '../errors';
import { printable, type EntryKind, type EntryRules } from './entry-rules';
import { errnoOf } from '../util/errno';
import { StagingWriter, type CreateOn, type OpenFile } from './staging-writer';
import { TarHeaderInspector } from './tar-headers';

const PARSE_SLICE = 64 * 1024;

const KINDS: Record<string, EntryKind> = {
  File: 'file', OldFile: 'file', ContiguousFile: 'file',
  Directory: 'dir', GNUDumpDir: 'dir',
  SymbolicLink: 'symlink', Link: 'hardlink',
  CharacterDevice: 'device', BlockDevice: 'device', FIFO: 'fifo',
};

/** Runs one entry through the rules; undefined when it is the root itself. */
function checkEntry(rules: EntryRules, e: ReadEntry): string | undefined {
  const kind = KINDS[e.type] ?? 'other';
  // node-tar reads an unreadable or negative size as "none".
  const size = kind === 'file' ? e.header.size ?? NaN : e.size ?? 0;
  return rules.check(e.path, kind, size, e.linkpath);
}

/** Keep the executable bits, drop setuid/setgid/sticky and odd permissions. */
function fileMode(e: ReadEntry): number {
  return ((e.mode ?? 0) & 0o111) !== 0 ? 0o755 : 0o644;
}

/** `createOn`: where the writer creates small files (tests pin it; adaptive otherwise, see staging-writer.ts). */
export async function extractTar(
  chunks: AsyncIterable<Buffer>, destDir: string, rules: EntryRules, where: string, signal: AbortSignal, createOn?: CreateOn,
): Promise<void> {
  let failure: FlmError | undefined;
  const fail = (err: unknown): void => {
    failure ??= isFlmError(err) ? err : tarError(err, where);
  };
  const writer = new StagingWriter(destDir, (err, rel) => fail(writeError(err, rel, where)), createOn);
  const parser = new Parser({
    strict: true,
    // The stream is already decompressed by us, under our caps: never let node-tar decompress a nested stream.
    brotli: false,
    zstd: false,
    // Called as each header is parsed, before any of its data: the rules see every entry in archive order.
    filter: (_p: string, entry: unknown): boolean => {
      if (failure) return false;
      const e = entry as ReadEntry;
      try {
        const name = checkEntry(rules, e);
        if (name === undefined) return false;
        e.path = name;
        return true;
      } catch (err) {
        fail(err);
        return false;
      }
    },
  });
  // Only entries that passed the filter arrive here, in order, each before the next header is parsed.
  parser.on('entry', (e: ReadEntry) => {
    if (failure) {
      e.resume();
      return;
    }
    const failWrite = (err: unknown): void => fail(writeError(err, e.path, where));
    try {
      if (e.type === 'File' || e.type === 'OldFile' || e.type === 'ContiguousFile') {
        writeFile(writer.file(e.path, fileMode(e)), e, failWrite, () => failure !== undefined);
        return;
      }
      if (e.type === 'SymbolicLink') writer.symlink(e.path, e.linkpath ?? '');
      else writer.dir(e.path);
    } catch (err) {
      failWrite(err);
    }
    e.resume();
  });
  const done = new Promise<void>((resolve, reject) => {
    parser.on('end', () => resolve());
    parser.on('error', (err: unknown) => {
      fail(err);
      reject(failure);
    });
  });
  done.catch(() => undefined);
  const inspector = new TarHeaderInspector(where);
  try {
    let first = true;
    for await (const chunk of chunks) {
      if (signal.aborted) throw signal.reason;
      if (first) refuseNestedCompression(chunk, where);
      first = false;
      inspector.write(chunk);
      // The parser gets at most 64 KiB at a time and the event loop runs between slices: decompressed chunks are
      // up to 1 MiB (decompress.ts).
      for (let at = 0; at < chunk.length; at += PARSE_SLICE) {
        if (at > 0) await new Promise<void>((resolve) => setImmediate(resolve));
        if (!parser.write(chunk.subarray(at, at + PARSE_SLICE)) && !failure) await Promise.race([once(parser, 'drain'), done]);
        // Once the writer creates small files on the pool (staging-writer.ts), parsing waits while 64 are in
        // flight. One slice can still hand over up to 128 more (one header each): the writer's hard bound, 192, is
        // sized for that.
        await writer.room(signal);
        if (failure) throw failure;
        if (signal.aborted) throw signal.reason;
      }
    }
    parser.end();
    await done;
    // Every file is on disk (or has failed) before the links are judged and the tree is checked.
    await writer.settle();
    if (failure) throw failure;
    rules.finish();
  } catch (err) {
    fail(err);
    parser.abort(failure ?? new Error('extraction stopped'));
    throw signal.aborted && !isFlmError(err) ? signal.reason : failure;
  } finally {
    // No write is in flight when this returns: the caller deletes the tree next.
    await writer.abandon();
  }
}

function writeFile(out: OpenFile, e: ReadEntry, fail: (err: unknown) => void, failed: () => boolean): void {
  let open = true;
  const close = (): void => {
    if (!open) return;
    open = false;
    try {
      out.close();
    } catch (err) {
      fail(err);
    }
  };
  const closeUnlessFailed = (): void => {
    // After a failure nothing more is handed over (a file left open is closed by abandon()).
    if (failed()) open = false;
    close();
  };
  e.on('data', (chunk: Buffer) => {
    if (!open || failed()) return;
    try {
      out.write(chunk);
    } catch (err) {
      fail(err);
      close();
    }
  });
  e.on('end', closeUnlessFailed);
  if (e.emittedEnd) closeUnlessFailed();
}

/**
 * node-tar inflates a stream that starts with gzip magic by itself, outside our caps (brotli and zstd are
 * switched off by option, gzip cannot be). No valid tar starts so: the name would begin with a control character.
 */
function refuseNestedCompression(chunk: Buffer, where: string): void {
  if (chunk[0] === 0x1f && chunk[1] === 0x8b) {
    throw invalidInput(`${where}: not a valid tar archive (the decompressed data is gzip again; nested compression is not supported)`);
  }
}

/** A name the rules let through but the file system refuses is the archive's fault; anything else (disk full, permissions) is ours. */
const ARCHIVE_ERRNOS = new Set(['EEXIST', 'ENOTDIR', 'EISDIR', 'ELOOP', 'ENAMETOOLONG']);

function writeError(err: unknown, name: string, where: string): FlmError {
  if (isFlmError(err)) return err;
  const errno = errnoOf(err);
  const message = `${where}: entry "${printable(name)}" could not be written (${describeThrown(err)})`;
  return errno !== undefined && ARCHIVE_ERRNOS.has(errno) ? invalidInput(message, err) : new FlmError(ErrorCode.Internal, message, { cause: err });
}

function tarError(err: unknown, where: string): FlmError {
  if (isFlmError(err)) return err;
  const rec = err as { message?: string; tarCode?: string; path?: string; entry?: { path?: string } };
  const entry = rec.entry?.path ?? rec.path;
  const what = rec.tarCode === 'TAR_BAD_ARCHIVE' ? 'not a valid tar archive' : 'invalid tar data';
  return invalidInput(`${where}: ${what}${entry ? ` at entry "${entry}"` : ''} (${rec.message ?? String(err)})`, err);
}
