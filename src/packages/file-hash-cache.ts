/**
 * The sha256 of local (file://) package archives this process has hashed,
 * kept while the file is unchanged: a warm enter then skips reading and
 * hashing the archive again (the benchmark's 23 MB: 35–60 ms of CPU, about
 * half of a warm enter whose session process is booted; docs/extraction.md).
 *
 * "Unchanged", as git's index and make judge it: the same device, inode,
 * size, mtime and ctime, to the nanosecond. The kernel sets ctime on every
 * write, rename onto the path or metadata change, and user code cannot set
 * it. Two changes within one tick of the file system's clock could leave
 * the times equal, so a hash is kept only for a file whose last change lies
 * `racyMs` before the hashing began, and whose stat did not move while it
 * was read. Anything else is hashed again, every time.
 */
import fs from 'node:fs';
import { describeThrown, unavailable } from '../errors';

/** Far longer than any file system clock tick (ext4: a few ms; some network file systems: 1 s). */
const RACY_MS = 2_000;
/** Paths remembered; the oldest is forgotten first. */
const MAX_FILES = 64;

type HashHandle = (fh: fs.promises.FileHandle, file: string, where: string) => Promise<string>;

export class FileHashCache {
  private readonly byPath = new Map<string, { identity: string; sha256: string }>();

  constructor(
    private readonly hashHandle: HashHandle,
    private readonly racyMs = RACY_MS,
  ) {}

  /**
   * The sha256 of `file`. Every stat is of the open file, never of the path: a path looked up again
   * (a symlink repointed while the file was hashed) could name another file than the one whose bytes
   * were hashed, and on NFS only an open revalidates the attributes a path stat may serve from cache.
   */
  async sha256(file: string, where: string): Promise<string> {
    let fh: fs.promises.FileHandle;
    try {
      fh = await fs.promises.open(file, 'r');
    } catch (err) {
      throw unavailable(`${where}: could not read ${file}: ${describeThrown(err)}`, err);
    }
    try {
      const st = await fh.stat({ bigint: true });
      const id = identity(st);
      const known = this.byPath.get(file);
      if (known?.identity === id) return known.sha256;
      this.byPath.delete(file);
      const began = BigInt(Date.now() - this.racyMs) * 1_000_000n;
      const sha256 = await this.hashHandle(fh, file, where);
      const after = await fh.stat({ bigint: true });
      if (identity(after) === id && st.ctimeNs < began) {
        this.byPath.set(file, { identity: id, sha256 });
        if (this.byPath.size > MAX_FILES) this.byPath.delete(this.byPath.keys().next().value!);
      }
      return sha256;
    } finally {
      await fh.close().catch(() => undefined);
    }
  }
}

function identity(st: fs.BigIntStats): string {
  return `${st.dev}:${st.ino}:${st.size}:${st.mtimeNs}:${st.ctimeNs}`;
}
