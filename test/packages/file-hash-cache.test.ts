/**
 * The hash of a file:// archive is reused only while the file is unchanged
 * (same device, inode, size, mtime and ctime) and was last changed well
 * before it was hashed; any change, even one that keeps size and mtime, is
 * hashed again. A real PackageManager then extracts the new content.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { sha256File, sha256Handle } from '../../src/packages/fetch';
import { FileHashCache } from '../../src/packages/file-hash-cache';
import { PackageManager } from '../../src/packages/package-manager';
import { makeTempDir, removeDir } from '../helpers/tmp';
import { packTar, writePackage } from './archives';

let base: string;
beforeEach(() => {
  base = makeTempDir('flmrun-hash-cache-');
});
afterEach(() => removeDir(base));

const stat = (f: string): fs.BigIntStats => fs.statSync(f, { bigint: true });
/** Lets the clock move past the file's last change (the cache's racy window below is 20 ms). */
const pause = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
/** A whole second, which utimes sets exactly (a Date loses the nanoseconds): mtime can then be put back as it was. */
const ROUND_MTIME = 1_700_000_000;

type HashHandle = (fh: fs.promises.FileHandle, f: string, w: string) => Promise<string>;

function counting(): { hash: HashHandle; reads: () => number } {
  let n = 0;
  return {
    hash: (fh, f, w) => {
      n++;
      return sha256Handle(fh, f, w);
    },
    reads: () => n,
  };
}

describe('sha256File', () => {
  it('hashes a file of several pieces, whatever the boundary, as one digest of its bytes', async () => {
    // Pieces of 1 MiB are read while the one before is hashed: sizes around the boundaries, the empty file too.
    for (const size of [0, 1, (1 << 20) - 1, 1 << 20, (1 << 20) + 1, 3 * (1 << 20) + 12345]) {
      const data = Buffer.alloc(size);
      for (let i = 0; i < size; i += 4093) data[i] = (i / 4093) % 251;
      const f = path.join(base, `p${size}.bin`);
      fs.writeFileSync(f, data);
      expect(await sha256File(f, 'test')).toBe(createHash('sha256').update(data).digest('hex'));
    }
  });

  /** A file handle whose reads each take a turn of the event loop, counted; read `failAt` (1-based) fails with EIO. */
  function countedHandle(failAt?: number): { fh: fs.promises.FileHandle; started: () => number; settled: () => number } {
    let started = 0;
    let settled = 0;
    const read = async (buf: Buffer, off: number, len: number): Promise<{ bytesRead: number }> => {
      const n = ++started;
      await new Promise((r) => setImmediate(r));
      settled++;
      if (n === failAt) throw Object.assign(new Error('EIO: i/o error, read'), { code: 'EIO' });
      buf.fill(1, off, off + len);
      return { bytesRead: len };
    };
    return { fh: { read } as unknown as fs.promises.FileHandle, started: () => started, settled: () => settled };
  }

  it('lets no read of its own outlive it when the hashing fails with the next read in flight', async () => {
    const h = countedHandle();
    // The first piece's update throws while the second piece's read is under way.
    const update = jest.spyOn(Object.getPrototypeOf(createHash('sha256')) as { update: () => unknown }, 'update').mockImplementationOnce(() => {
      throw new Error('hashing failed');
    });
    try {
      await expect(sha256Handle(h.fh, '/data/pkg.tgz', 'package z')).rejects.toThrow(/package z: could not read \/data\/pkg\.tgz: .*hashing failed/);
    } finally {
      update.mockRestore();
    }
    expect(h.started()).toBe(2);
    expect(h.settled()).toBe(h.started());
  });

  it('says which file it could not read when a read fails part way', async () => {
    const h = countedHandle(3);
    await expect(sha256Handle(h.fh, '/data/pkg.tgz', 'package y')).rejects.toThrow(/^package y: could not read \/data\/pkg\.tgz: .*EIO/);
    expect(h.settled()).toBe(h.started());
  });

  it('says which file it could not read', async () => {
    await expect(sha256File(path.join(base, 'missing.tgz'), 'package x')).rejects.toThrow(/package x: could not read .*missing\.tgz/);
  });
});

describe('FileHashCache', () => {
  it('an unchanged file is hashed once', async () => {
    const f = path.join(base, 'a.tgz');
    fs.writeFileSync(f, 'one');
    await pause(60);
    const c = counting();
    const cache = new FileHashCache(c.hash, 20);
    const first = await cache.sha256(f, 'test');
    expect(await cache.sha256(f, 'test')).toBe(first);
    expect(c.reads()).toBe(1);
  });

  it('a rewrite in place with the same size and mtime is hashed again (its ctime moved)', async () => {
    const f = path.join(base, 'a.tgz');
    fs.writeFileSync(f, 'one');
    fs.utimesSync(f, ROUND_MTIME, ROUND_MTIME);
    await pause(60);
    const c = counting();
    const cache = new FileHashCache(c.hash, 20);
    const before = stat(f);
    const first = await cache.sha256(f, 'test');
    await pause(60);
    fs.writeFileSync(f, 'two');
    fs.utimesSync(f, ROUND_MTIME, ROUND_MTIME);
    const now = stat(f);
    expect([now.ino, now.size, now.mtimeNs]).toEqual([before.ino, before.size, before.mtimeNs]);
    const again = await cache.sha256(f, 'test');
    expect(again).not.toBe(first);
    expect(again).toBe(await sha256File(f, 'test'));
    expect(c.reads()).toBe(2);
  });

  it('a file replaced by a rename is hashed again', async () => {
    const f = path.join(base, 'a.tgz');
    fs.writeFileSync(f, 'one');
    await pause(60);
    const cache = new FileHashCache(sha256Handle, 20);
    const first = await cache.sha256(f, 'test');
    fs.writeFileSync(path.join(base, 'b.tgz'), 'two');
    fs.renameSync(path.join(base, 'b.tgz'), f);
    expect(await cache.sha256(f, 'test')).not.toBe(first);
  });

  it('a symlink repointed while the file is hashed: the hash kept is of the bytes read, under their own file', async () => {
    const a = path.join(base, 'a.tgz');
    const b = path.join(base, 'b.tgz');
    const link = path.join(base, 'pkg.tgz');
    fs.writeFileSync(a, 'one');
    fs.writeFileSync(b, 'two');
    fs.symlinkSync(a, link);
    await pause(60);
    const repoint = (to: string): void => {
      fs.unlinkSync(link);
      fs.symlinkSync(to, link);
    };
    // Mid-hash, the link names b, then a again: a path looked up again would have read b's bytes.
    let reads = 0;
    const swapping: HashHandle = async (fh, f, w) => {
      reads++;
      repoint(b);
      try {
        return await sha256Handle(fh, f, w);
      } finally {
        repoint(a);
      }
    };
    const cache = new FileHashCache(swapping, 20);
    const hashA = await sha256File(a, 'test');
    expect(await cache.sha256(link, 'test')).toBe(hashA);
    // Remembered for a's own identity: the next enter through the link is not read again.
    expect(await cache.sha256(link, 'test')).toBe(hashA);
    expect(reads).toBe(1);
    fs.unlinkSync(link);
    fs.symlinkSync(b, link);
    expect(await cache.sha256(link, 'test')).toBe(await sha256File(b, 'test'));
    expect(reads).toBe(2);
  });

  it('a file changed shortly before it was hashed is not remembered', async () => {
    const f = path.join(base, 'a.tgz');
    fs.writeFileSync(f, 'one');
    const c = counting();
    const cache = new FileHashCache(c.hash, 60_000);
    await cache.sha256(f, 'test');
    await cache.sha256(f, 'test');
    expect(c.reads()).toBe(2);
  });
});

describe('PackageManager with a file:// archive entered again', () => {
  it('new content at the same path is extracted, not taken for the old tree', async () => {
    const src = path.join(base, 'src');
    const archive = path.join(base, 'pkg.tar');
    // Markers of one length: the archive keeps its size; packTar rewrites it in place (same inode).
    const pack = (marker: string): void => {
      writePackage(path.join(src, 'package'), { marker });
      packTar(src, 'package', archive);
    };
    pack('one');
    fs.utimesSync(archive, ROUND_MTIME, ROUND_MTIME);
    const pm = new PackageManager({ workDir: path.join(base, 'work'), keepExtracted: true });
    try {
      const one = await pm.install(`file://${archive}`, 's1');
      await pause(2_100); // past the cache's racy window: the next install remembers the hash
      const two = await pm.install(`file://${archive}`, 's2');
      expect(two.reused).toBe(true);
      expect(two.sha256).toBe(one.sha256);
      const old = stat(archive);
      pack('two'); // same size, new content, and the old mtime: only its ctime tells
      fs.utimesSync(archive, ROUND_MTIME, ROUND_MTIME);
      const now = stat(archive);
      expect([now.ino, now.size, now.mtimeNs]).toEqual([old.ino, old.size, old.mtimeNs]);
      const three = await pm.install(`file://${archive}`, 's3');
      expect(three.reused).toBe(false);
      expect(three.sha256).not.toBe(one.sha256);
      expect(fs.readFileSync(path.join(three.root, 'index.js'), 'utf8')).toContain('"two"');
      for (const p of [one, two, three]) await p.release();
    } finally {
      await pm.close();
    }
  });
});
