/**
 * Writes checked entries into the private staging directory, synchronously and
 * in archive order. Synchronous on purpose (measured, see docs/extraction.md):
 * each call is one small system call, so the event loop is held for microseconds
 * at a time, and when the writer returns, the entry is on disk — no write is
 * ever still in flight when a later entry is checked or when a failure deletes
 * the staging tree.
 *
 * It only creates directories, new regular files and symbolic links. The entry
 * rules already refuse everything else (hard links, devices, duplicates, writes
 * through links); the writer still refuses to follow a link or reuse a name on
 * its own, as a second line: directories are made one component at a time and
 * must be real directories, files are created with O_EXCL|O_NOFOLLOW.
 */
import fs from 'node:fs';
import path from 'node:path';
import { errnoOf } from '../util/errno';

const FILE_FLAGS = fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_NOFOLLOW;
/** Small files are gathered and written with one call; bigger ones are flushed at this size or count. */
const FLUSH_BYTES = 1 << 20;
const FLUSH_PIECES = 64;

export interface OpenFile {
  write(chunk: Buffer): void;
  close(): void;
}

export class StagingWriter {
  /** Directories (relative, `/`-separated) known to exist as real directories. */
  private readonly dirs = new Set<string>(['']);
  private open: number | undefined;

  constructor(private readonly root: string) {}

  /** `rel` and its parents as real directories (never through a link). */
  dir(rel: string): void {
    if (this.dirs.has(rel)) return;
    const cut = rel.lastIndexOf('/');
    this.dir(cut < 0 ? '' : rel.slice(0, cut));
    const abs = this.abs(rel);
    try {
      fs.mkdirSync(abs, 0o755);
    } catch (err) {
      if (errnoOf(err) !== 'EEXIST' || !fs.lstatSync(abs).isDirectory()) throw err;
    }
    this.dirs.add(rel);
  }

  /** A new regular file; its data follows through write(), then close(). */
  file(rel: string, mode: number): OpenFile {
    this.parentOf(rel);
    const fd = fs.openSync(this.abs(rel), FILE_FLAGS, mode);
    this.open = fd;
    let pending: Buffer[] = [];
    let pendingBytes = 0;
    const flush = (): void => {
      if (pending.length === 1) fs.writeSync(fd, pending[0]!);
      else if (pending.length > 1) fs.writevSync(fd, pending);
      pending = [];
      pendingBytes = 0;
    };
    return {
      write: (chunk) => {
        // Views of a decompressed chunk: zlib, the xz decoder and file streams never reuse a buffer they handed out.
        pending.push(chunk);
        pendingBytes += chunk.length;
        if (pendingBytes >= FLUSH_BYTES || pending.length >= FLUSH_PIECES) flush();
      },
      close: () => {
        try {
          flush();
        } finally {
          this.open = undefined;
          fs.closeSync(fd);
        }
      },
    };
  }

  symlink(rel: string, target: string): void {
    this.parentOf(rel);
    fs.symlinkSync(target, this.abs(rel));
  }

  /** Closes a file left open by a failure; the caller then deletes the tree. */
  abandon(): void {
    if (this.open === undefined) return;
    const fd = this.open;
    this.open = undefined;
    try {
      fs.closeSync(fd);
    } catch {
      // already closed or never usable: nothing more to release
    }
  }

  private parentOf(rel: string): void {
    const cut = rel.lastIndexOf('/');
    this.dir(cut < 0 ? '' : rel.slice(0, cut));
  }

  private abs(rel: string): string {
    return rel === '' ? this.root : path.join(this.root, ...rel.split('/'));
  }
}
