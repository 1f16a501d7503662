/**
 * Writes checked entries into the private staging directory, in archive order.
 *
 * Directories and links are made synchronously, as each entry arrives. A
 * regular file smaller than FLUSH_BYTES is created when its last byte has
 * arrived, opened, written and closed in one go. Where that happens depends
 * on what creating a file costs (docs/extraction.md, "Where small files are
 * created"):
 * - on the main thread, synchronously, while creation is cheap (tens of µs, as
 *   on a journaled ext4, xfs or tmpfs): what `tar xzf` does. Each file sent to
 *   the libuv pool instead costs the main thread a hand-over and two thread
 *   wake-ups (~10–70 µs here), more than the open it saves;
 * - on the libuv pool, beside the main thread's parsing and checking, once
 *   the opens of the last WINDOW files took more than OPEN_BUDGET_NS (opens
 *   that wait on the file system: ext4 without a journal walking recently
 *   freed inodes, a network file system), or one took tens of ms. The rest
 *   of this writer's files then go there.
 * On the main thread its data are written from the pieces they arrived in
 * (views of 1 MiB inflated chunks); for the pool they are first copied into
 * one buffer of their own, as a 1-byte view waiting there would keep a whole
 * MiB alive.
 * A bigger file is written synchronously from FLUSH_BYTES on: its cost is its
 * bytes, not its creation.
 * `room()` paces the parser at MAX_IN_FLIGHT files or MAX_IN_FLIGHT_BYTES of
 * their data waiting on the pool; a file handed over past the hard bounds
 * (HARD_MAX_*, what one more parse slice can add) is created synchronously,
 * so those hold strictly whoever calls the writer. `settle()` waits for
 * every file in flight: the extractor calls it before the tree is checked, and
 * `abandon()` before a failed tree is deleted, so no write is in flight then;
 * once abandoned, the writer creates nothing more.
 *
 * It only creates directories, new regular files and symbolic links. The entry
 * rules already refuse everything else (hard links, devices, duplicates, writes
 * through links); the writer still refuses to follow a link or reuse a name on
 * its own, as a second line: directories are made one component at a time and
 * must be real directories, files are created with O_EXCL|O_NOFOLLOW (on the
 * pool too: the flags are the same, only the thread differs).
 */
import fs from 'node:fs';
import path from 'node:path';
import { errnoOf } from '../util/errno';

const FILE_FLAGS = fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_NOFOLLOW;
/** Small files are gathered and written with one call; bigger ones are flushed at this size or count. */
const FLUSH_BYTES = 1 << 20;
const FLUSH_PIECES = 64;
/** Files being created on the pool at once, and their data (copies, so these bytes are the memory they hold): room() waits past these. */
const MAX_IN_FLIGHT = 64;
const MAX_IN_FLIGHT_BYTES = 4 << 20;
/**
 * The hard bounds: a file handed over past them is created synchronously. room() is only asked between 64 KiB
 * slices, which hold up to 128 headers, and one file under FLUSH_BYTES may complete in a slice: with these the
 * fallback stays a backstop (a lower hard bound sent over a third of a burst of tiny files to the main thread).
 */
const HARD_MAX_IN_FLIGHT = MAX_IN_FLIGHT + 128;
const HARD_MAX_IN_FLIGHT_BYTES = MAX_IN_FLIGHT_BYTES + FLUSH_BYTES + (64 << 10);
/**
 * The opens of the last WINDOW small files created on the main thread may take OPEN_BUDGET_NS in all, an
 * average of ~270 µs, leaving out up to FORGIVEN_NS of the longest one (a collection or a preemption inside the
 * timed call); past it the rest go to the pool. So one open of tens of ms moves them too, however far apart such
 * opens come. A fresh file's open takes 20–100 µs on this machine's file systems when it does not wait
 * (docs/extraction.md); only the open is timed, as only the open moves to the pool (the write and the close are
 * made on the main thread either way).
 */
const WINDOW = 16;
const OPEN_BUDGET_NS = 4_000_000;
const FORGIVEN_NS = 1_000_000;

/** Where small files are created: 'adaptive' (the default, above), or always on the main thread or the pool. */
export type CreateOn = 'adaptive' | 'main' | 'pool';

export interface OpenFile {
  write(chunk: Buffer): void;
  close(): void;
}

export class StagingWriter {
  /** Directories (relative, `/`-separated) known to exist as real directories. */
  private readonly dirs = new Set<string>(['']);
  /** A big file being written synchronously. */
  private open: number | undefined;
  private readonly inFlight = new Set<Promise<void>>();
  private inFlightBytes = 0;
  private waiting: Array<() => void> = [];
  /** A file's failure that `onError` could not take (it threw): settle() reports it instead of losing it. */
  private unreported: unknown;
  private abandoned = false;
  private onPool: boolean;
  /** How long the opens of the last WINDOW files created on this thread took (ns), oldest first. */
  private readonly opens: number[] = [];

  /**
   * `onError`: a file created on the pool failed (called once per file, with its name); the caller stops.
   * `createOn`: where small files are created (tests pin it; the extractor leaves it adaptive).
   * `clock`: what times the opens, in ns (tests give their own).
   */
  constructor(
    private readonly root: string,
    private readonly onError: (err: unknown, rel: string) => void,
    private readonly createOn: CreateOn = 'adaptive',
    private readonly clock: () => bigint = process.hrtime.bigint,
  ) {
    this.onPool = createOn === 'pool';
  }

  /** Whether small files now go to the pool (for tests and the benchmark). */
  get creatingOnPool(): boolean {
    return this.onPool;
  }

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

  /**
   * A new regular file; its data follows through write(), then close(). A
   * failure to create or write it throws here when it is written synchronously,
   * else it reaches `onError`.
   */
  file(rel: string, mode: number): OpenFile {
    this.refuseIfAbandoned();
    this.parentOf(rel);
    const abs = this.abs(rel);
    let fd: number | undefined;
    /** Written synchronously from its first flush on (it outgrew FLUSH_BYTES or FLUSH_PIECES). */
    let direct = false;
    let pending: Buffer[] = [];
    let pendingBytes = 0;
    const flush = (): void => {
      direct = true;
      if (fd === undefined) {
        fd = fs.openSync(abs, FILE_FLAGS, mode);
        this.open = fd;
      }
      const batch = pending;
      pending = [];
      pendingBytes = 0;
      writeAllSync(fd, batch);
    };
    return {
      write: (chunk) => {
        // Views of a decompressed chunk: zlib, the xz decoder and file streams never reuse a buffer they handed out.
        pending.push(chunk);
        pendingBytes += chunk.length;
        if (pendingBytes >= FLUSH_BYTES || pending.length >= FLUSH_PIECES) flush();
      },
      close: () => {
        if (!direct) {
          // Never handed over after abandon(): the tree may be being deleted.
          this.refuseIfAbandoned();
          const pieces = pending;
          pending = [];
          if (!this.onPool) {
            // Written now: the views go with this call, nothing keeps their chunks alive.
            this.createTimed(abs, mode, pieces);
            return;
          }
          // Kept until the pool gets to it: one buffer of its own (also one write), as the pieces are views that
          // keep their 1 MiB chunks alive.
          const data = pendingBytes === 0 ? [] : [Buffer.concat(pieces, pendingBytes)];
          if (this.inFlight.size >= HARD_MAX_IN_FLIGHT || this.inFlightBytes + pendingBytes > HARD_MAX_IN_FLIGHT_BYTES) {
            // Past the hard bounds (room() was not awaited often enough): created here, so they hold strictly.
            createFileSync(abs, mode, data);
          } else {
            this.createLater(abs, rel, mode, data, pendingBytes);
          }
          return;
        }
        // A failed open left nothing to close; a failed write still closes its file.
        if (fd === undefined) return;
        const own = fd;
        fd = undefined;
        try {
          if (pending.length > 0) writeAllSync(own, pending);
        } finally {
          this.open = undefined;
          fs.closeSync(own);
        }
      },
    };
  }

  symlink(rel: string, target: string): void {
    this.parentOf(rel);
    fs.symlinkSync(target, this.abs(rel));
  }

  /**
   * Resolves when fewer files than the bounds are waiting to be created, or at once when `signal` is aborted: a
   * timeout is noticed without waiting for the pool (the files in flight are still settled before any delete).
   */
  async room(signal?: AbortSignal): Promise<void> {
    while (this.inFlight.size >= MAX_IN_FLIGHT || this.inFlightBytes >= MAX_IN_FLIGHT_BYTES) {
      if (signal?.aborted) return;
      await new Promise<void>((resolve) => {
        const onAbort = (): void => resolve();
        signal?.addEventListener('abort', onAbort, { once: true });
        this.waiting.push(() => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        });
      });
    }
  }

  /**
   * Every file handed over so far is created and closed, or has failed (failures went to onError). Rejects with a
   * failure that onError could not take.
   */
  async settle(): Promise<void> {
    await this.drain();
    if (this.unreported !== undefined) throw this.unreported;
  }

  /** Closes a file left open by a failure and waits for files still being created; the caller then deletes the tree. */
  async abandon(): Promise<void> {
    this.abandoned = true;
    if (this.open !== undefined) {
      const fd = this.open;
      this.open = undefined;
      try {
        fs.closeSync(fd);
      } catch {
        // already closed or never usable: nothing more to release
      }
    }
    // The extractor is already failing: a failure onError could not take adds nothing, and must not hide that one.
    await this.drain();
  }

  /** Waits for every job, the failed ones too (a job never rejects, but nothing here relies on it). */
  private async drain(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
  }

  private refuseIfAbandoned(): void {
    if (this.abandoned) throw new Error('the staging writer was abandoned: no file is created any more');
  }

  /** Creates a file on this thread, and sends the following ones to the pool once creating them proves slow. */
  private createTimed(abs: string, mode: number, data: Buffer[]): void {
    if (this.createOn === 'main') {
      createFileSync(abs, mode, data);
      return;
    }
    createFileSync(abs, mode, data, () => {
      const t0 = this.clock();
      try {
        return fs.openSync(abs, FILE_FLAGS, mode);
      } finally {
        this.timedOpen(Number(this.clock() - t0));
      }
    });
  }

  /** Counts one open made on this thread; past the budget, the writer's next files go to the pool. */
  private timedOpen(ns: number): void {
    this.opens.push(ns);
    if (this.opens.length > WINDOW) this.opens.shift();
    let sum = 0;
    let longest = 0;
    for (const t of this.opens) {
      sum += t;
      longest = Math.max(longest, t);
    }
    if (sum - Math.min(longest, FORGIVEN_NS) > OPEN_BUDGET_NS) this.onPool = true;
  }

  private createLater(abs: string, rel: string, mode: number, data: Buffer[], bytes: number): void {
    this.inFlightBytes += bytes;
    const job = createFile(abs, mode, data)
      .catch((err: unknown) => {
        try {
          this.onError(err, rel);
        } catch {
          // A rejection here would reach nobody until settle(), and unhandled it ends the process.
          this.unreported ??= err;
        }
      })
      .finally(() => {
        this.inFlight.delete(job);
        this.inFlightBytes -= bytes;
        const waiting = this.waiting;
        this.waiting = [];
        for (const wake of waiting) wake();
      });
    this.inFlight.add(job);
  }

  private parentOf(rel: string): void {
    const cut = rel.lastIndexOf('/');
    this.dir(cut < 0 ? '' : rel.slice(0, cut));
  }

  private abs(rel: string): string {
    return rel === '' ? this.root : path.join(this.root, ...rel.split('/'));
  }
}

/** Writes every byte of `pieces` (a short write is continued, never taken for the end). */
function writeAllSync(fd: number, pieces: Buffer[]): void {
  let rest = pieces.filter((p) => p.length > 0);
  while (rest.length > 0) {
    const n = rest.length === 1 ? fs.writeSync(fd, rest[0]!) : fs.writevSync(fd, rest);
    rest = skipBytes(rest, n);
  }
}

/**
 * Creating the file (the open with O_CREAT) is the expensive call, kernel time; it runs on the pool. The write of
 * a small file into the page cache and the close are cheap, and are made at once when the open returns: each
 * return to the main thread waits for it to be scheduled, which on a loaded machine costs more than the calls.
 */
async function createFile(abs: string, mode: number, pieces: Buffer[]): Promise<void> {
  const fd = await new Promise<number>((resolve, reject) => fs.open(abs, FILE_FLAGS, mode, (err, f) => (err ? reject(err) : resolve(f))));
  try {
    writeAllSync(fd, pieces);
  } finally {
    fs.closeSync(fd);
  }
}

/** `open`: how the file is opened (the adaptive writer times it). */
function createFileSync(abs: string, mode: number, pieces: Buffer[], open = (): number => fs.openSync(abs, FILE_FLAGS, mode)): void {
  const fd = open();
  try {
    writeAllSync(fd, pieces);
  } finally {
    fs.closeSync(fd);
  }
}

/** What is left of `pieces` after their first `n` bytes were written. */
function skipBytes(pieces: Buffer[], n: number): Buffer[] {
  if (n <= 0) throw Object.assign(new Error('a write made no progress'), { code: 'EIO' });
  let i = 0;
  while (i < pieces.length && n >= pieces[i]!.length) n -= pieces[i++]!.length;
  const rest = pieces.slice(i);
  if (n > 0) rest[0] = rest[0]!.subarray(n);
  return rest;
}
