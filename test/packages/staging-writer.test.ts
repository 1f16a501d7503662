/**
 * The staging writer's own second line, without the entry rules in front of it:
 * it never writes through a link that is already in the tree and never reuses
 * a name, so a rule that let something through still could not reach outside.
 * Small files are created on the main thread at close() while that is cheap,
 * then on the libuv pool: there their failures arrive through the writer's
 * error callback, and settle() waits for them. Most tests pin the pool (its
 * bounds and waits are what can go wrong); the main thread's and the switch
 * between the two have their own.
 */
import fs from 'node:fs';
import path from 'node:path';
import { StagingWriter, type CreateOn } from '../../src/packages/staging-writer';
import { makeTempDir, removeDir } from '../helpers/tmp';
import { listTree } from './env';

let base: string;
let root: string;
let outside: string;
let failures: Array<{ err: unknown; rel: string }>;

/** Every writer a test made: afterEach abandons them (waiting for their files) before the tree goes. */
let writers: StagingWriter[] = [];

function writer(createOn: CreateOn = 'pool', clock?: () => bigint): StagingWriter {
  // This test's own list: a file of a failed test still on the pool cannot report into the next test's.
  const sink = failures;
  const w = new StagingWriter(root, (err, rel) => sink.push({ err, rel }), createOn, clock);
  writers.push(w);
  return w;
}

/**
 * A clock for the writer under which each open made on the main thread takes the next of `opensUs` (µs), whatever
 * it really took, so that the switch to the pool never depends on the machine: the writer reads it twice per
 * open, before and after.
 */
function openTimes(opensUs: number[]): () => bigint {
  let now = 0n;
  let reads = 0;
  let next = 0;
  return () => {
    if (reads++ % 2 === 1) now += BigInt(Math.round((opensUs[next++] ?? 1) * 1000));
    return now;
  };
}

/** Hands over `n` small files under `dir`, each checked on disk right after its close() while the writer is on the main thread; returns where the switch came (the file count after which it was on the pool), or undefined. */
function handOver(w: StagingWriter, dir: string, n: number): number | undefined {
  let switchedAfter: number | undefined;
  for (let i = 0; i < n; i++) {
    const onPoolBefore = w.creatingOnPool;
    const out = w.file(`${dir}/s${i}`, 0o644);
    out.write(Buffer.alloc(100, i));
    out.close();
    if (!onPoolBefore) expect(fs.readFileSync(path.join(root, dir, `s${i}`)).equals(Buffer.alloc(100, i))).toBe(true);
    if (w.creatingOnPool && switchedAfter === undefined) switchedAfter = i + 1;
  }
  return switchedAfter;
}

/** A small file, created on the pool; resolves when it is created or has failed. */
async function smallFile(w: StagingWriter, rel: string, data = 'x'): Promise<void> {
  const out = w.file(rel, 0o644);
  out.write(Buffer.from(data));
  out.close();
  await w.settle();
}

beforeEach(() => {
  failures = [];
  base = makeTempDir('flmrun-writer-');
  root = path.join(base, 'stage');
  outside = path.join(base, 'outside');
  fs.mkdirSync(root);
  fs.mkdirSync(outside);
  fs.symlinkSync(outside, path.join(root, 'l'));
  fs.writeFileSync(path.join(root, 'f'), 'first');
});
afterEach(async () => {
  await Promise.allSettled(writers.map((w) => w.abandon()));
  writers = [];
  removeDir(base);
});

function expectOutsideUntouched(): void {
  expect(listTree(outside)).toEqual([]);
}

it('refuses a directory through a link', () => {
  const w = writer();
  expect(() => w.dir('l/sub')).toThrow(expect.objectContaining({ code: 'EEXIST' }));
  expectOutsideUntouched();
});

it('refuses a file through a link, and a file named as the link', async () => {
  const w = writer();
  expect(() => w.file('l/evil', 0o644)).toThrow();
  await smallFile(w, 'l');
  expect(failures).toEqual([{ err: expect.objectContaining({ code: 'EEXIST' }), rel: 'l' }]);
  expectOutsideUntouched();
});

it('refuses a big file named as the link, while it writes it', () => {
  const w = writer();
  const out = w.file('l', 0o644);
  expect(() => out.write(Buffer.alloc(2 * 1024 * 1024, 1))).toThrow(expect.objectContaining({ code: 'EEXIST' }));
  expect(() => out.close()).not.toThrow();
  expectOutsideUntouched();
});

it('never overwrites a file or replaces it with a link', async () => {
  const w = writer();
  await smallFile(w, 'f', 'second');
  expect(failures).toEqual([{ err: expect.objectContaining({ code: 'EEXIST' }), rel: 'f' }]);
  expect(() => w.symlink('f', 'l')).toThrow(expect.objectContaining({ code: 'EEXIST' }));
  expect(fs.readFileSync(path.join(root, 'f'), 'utf8')).toBe('first');
});

it('writes small and large files whole, in pieces, with the mode asked for', async () => {
  const w = writer();
  const big = Buffer.alloc(3 * 1024 * 1024 + 5, 7);
  const out = w.file('a/b/big.bin', 0o755);
  for (let off = 0; off < big.length; off += 1000) out.write(big.subarray(off, off + 1000));
  out.close();
  const small = w.file('a/small.txt', 0o644);
  small.write(Buffer.from('he'));
  small.write(Buffer.from('llo'));
  small.close();
  const empty = w.file('a/empty', 0o755);
  empty.close();
  await w.settle();
  expect(failures).toEqual([]);
  expect(fs.readFileSync(path.join(root, 'a', 'b', 'big.bin')).equals(big)).toBe(true);
  expect(fs.readFileSync(path.join(root, 'a', 'small.txt'), 'utf8')).toBe('hello');
  expect(fs.readFileSync(path.join(root, 'a', 'empty'), 'utf8')).toBe('');
  expect(fs.statSync(path.join(root, 'a', 'b', 'big.bin')).mode & 0o111).not.toBe(0);
  expect(fs.statSync(path.join(root, 'a', 'empty')).mode & 0o111).not.toBe(0);
  expect(fs.statSync(path.join(root, 'a', 'small.txt')).mode & 0o111).toBe(0);
});

describe('small files on the main thread', () => {
  it('creates each at close(), whole, with its mode, and refuses a link or an existing name there', () => {
    const w = writer('main');
    const chunk = Buffer.alloc(1024 * 1024, 0x61);
    const out = w.file('a/small.txt', 0o755);
    out.write(chunk.subarray(0, 3));
    out.write(Buffer.from('bc'));
    out.close();
    // Written by close() itself: no callback has run, and the chunk's later use changes nothing.
    chunk.fill(0x62);
    expect(fs.readFileSync(path.join(root, 'a', 'small.txt'), 'utf8')).toBe('aaabc');
    expect(fs.statSync(path.join(root, 'a', 'small.txt')).mode & 0o111).not.toBe(0);
    const empty = w.file('a/empty', 0o644);
    empty.close();
    expect(fs.readFileSync(path.join(root, 'a', 'empty'), 'utf8')).toBe('');

    const onLink = w.file('l', 0o644);
    onLink.write(Buffer.from('evil'));
    expect(() => onLink.close()).toThrow(expect.objectContaining({ code: 'EEXIST' }));
    const again = w.file('f', 0o644);
    again.write(Buffer.from('second'));
    expect(() => again.close()).toThrow(expect.objectContaining({ code: 'EEXIST' }));
    expect(fs.readFileSync(path.join(root, 'f'), 'utf8')).toBe('first');
    expect(failures).toEqual([]);
    expect(w.creatingOnPool).toBe(false);
    expectOutsideUntouched();
  });

  it('keeps creating there while opens are fast, and through a short stall now and then', async () => {
    // 20 µs opens, with one of 3 ms among them (a collection inside the timed call): up to 1 ms of the longest is
    // forgiven, 2 ms + 15 x 20 µs stays within the 4 ms budget.
    const times: number[] = Array.from({ length: 60 }, (_, i) => (i === 20 ? 3_000 : 20));
    // Then 7 opens of 600 µs: 4.2 ms, minus the longest 0.6, stays within it too.
    times.push(...Array.from({ length: 7 }, () => 600));
    const w = writer('adaptive', openTimes(times));
    expect(handOver(w, 'fast', times.length)).toBeUndefined();
    expect(w.creatingOnPool).toBe(false);
    await w.settle();
  });

  it('sends the rest to the pool once the last 16 opens, the longest left out, took over 4 ms, and every file is still written', async () => {
    // 800 µs opens (ext4 without a journal after deletions): 6 of them, minus the longest, make 4.0 ms; the 7th passes it.
    const w = writer('adaptive', openTimes(Array.from({ length: 40 }, () => 800)));
    expect(handOver(w, 'slow', 40)).toBe(7);
    // A failure on the pool now reaches the callback instead of close().
    const dup = w.file('slow/s0', 0o644);
    dup.write(Buffer.from('again'));
    expect(() => dup.close()).not.toThrow();
    await w.settle();
    expect(failures).toEqual([{ err: expect.objectContaining({ code: 'EEXIST' }), rel: 'slow/s0' }]);
    for (let i = 0; i < 40; i++) expect(fs.readFileSync(path.join(root, 'slow', `s${i}`)).equals(Buffer.alloc(100, i))).toBe(true);
  });

  it('judges the last 16 opens: 400 µs each moves after the 12th file', async () => {
    // 11 opens, minus the longest, make 4.0 ms (not over); the 12th's make 4.4 ms. A window of 8 would never get there.
    const w = writer('adaptive', openTimes(Array.from({ length: 30 }, () => 400)));
    expect(handOver(w, 'steady', 30)).toBe(12);
    await w.settle();
  });

  it('moves after one open of tens of ms, however far apart such opens come', async () => {
    // One 50 ms open every 17th file: the window never holds two, and no more than 1 ms of it is forgiven.
    const times = Array.from({ length: 40 }, (_, i) => (i % 17 === 16 ? 50_000 : 20));
    const w = writer('adaptive', openTimes(times));
    expect(handOver(w, 'stalls', 40)).toBe(17);
    await w.settle();
  });

  it('counts the open only: a long write of a big small file is no reason to move', async () => {
    // The clock moves by 10 ms during each write and stands still otherwise: if the write were timed with the open,
    // 16 files would make 160 ms.
    let now = 0n;
    const realWritev = fs.writevSync;
    const writev = jest.spyOn(fs, 'writevSync').mockImplementation((...a: Parameters<typeof fs.writevSync>) => {
      now += 10_000_000n;
      return realWritev(...a);
    });
    const realWrite = fs.writeSync;
    const write = jest.spyOn(fs, 'writeSync').mockImplementation(((...a: unknown[]) => {
      now += 10_000_000n;
      return (realWrite as (...x: unknown[]) => number)(...a);
    }) as typeof fs.writeSync);
    try {
      const w = writer('adaptive', () => now);
      for (let i = 0; i < 20; i++) {
        const out = w.file(`big/b${i}`, 0o644);
        out.write(Buffer.alloc(512 * 1024, i));
        out.close();
      }
      expect(w.creatingOnPool).toBe(false);
      await w.settle();
    } finally {
      write.mockRestore();
      writev.mockRestore();
    }
    expect(fs.readFileSync(path.join(root, 'big', 'b19')).equals(Buffer.alloc(512 * 1024, 19))).toBe(true);
  });
});

it('makes room() wait while 64 files are in flight, and creates every file handed over', async () => {
  const w = writer();
  const names: string[] = [];
  const hand = (i: number): void => {
    const out = w.file(`many/m${i}`, 0o644);
    out.write(Buffer.alloc(40 * 1024, i % 256));
    out.close();
    names.push(`m${i}`);
  };
  for (let i = 0; i < 64; i++) hand(i);
  let roomy = false;
  void w.room().then(() => (roomy = true));
  // No file-system callback can run during microtasks: none of the 64 has finished yet.
  for (let i = 0; i < 5; i++) await Promise.resolve();
  expect(roomy).toBe(false);
  for (let i = 64; i < 300; i++) {
    await w.room();
    hand(i);
  }
  await w.settle();
  expect(roomy).toBe(true);
  expect(failures).toEqual([]);
  expect(fs.readdirSync(path.join(root, 'many')).sort()).toEqual(names.sort());
  expect(fs.readFileSync(path.join(root, 'many', 'm299')).equals(Buffer.alloc(40 * 1024, 299 % 256))).toBe(true);
});

it('keeps a copy of a small file\'s data, not a view of the chunk it came in', async () => {
  const w = writer();
  // A 1-byte view of a 1 MiB chunk, as the inflater hands them out; the chunk is reused after close().
  const chunk = Buffer.alloc(1024 * 1024, 0x61);
  const out = w.file('tiny', 0o644);
  out.write(chunk.subarray(10, 11));
  out.close();
  // The open is still on the pool (no callback runs before the next await): a view would see this change.
  chunk.fill(0x62);
  await w.settle();
  expect(failures).toEqual([]);
  expect(fs.readFileSync(path.join(root, 'tiny'), 'utf8')).toBe('a');
});

it('never has more than 192 files in flight, even when room() is not awaited', () => {
  const w = writer();
  for (let i = 0; i < 300; i++) {
    const out = w.file(`burst/b${i}`, 0o644);
    out.write(Buffer.from(`${i}`));
    out.close();
  }
  // No pool callback has run yet: every file past the 192nd was created synchronously, whole.
  for (let i = 192; i < 300; i++) expect(fs.readFileSync(path.join(root, 'burst', `b${i}`), 'utf8')).toBe(`${i}`);
});

it('keeps a failure whose callback threw for settle(), and abandon() still waits for every file', async () => {
  const seen: unknown[] = [];
  const onUnhandled = (reason: unknown): void => {
    seen.push(reason);
  };
  process.on('unhandledRejection', onUnhandled);
  try {
    let calls = 0;
    const w = new StagingWriter(root, () => {
      calls++;
      throw new Error('the error callback itself failed');
    }, 'pool');
    writers.push(w);
    const out = w.file('f', 0o644); // exists already: EEXIST on the pool
    out.write(Buffer.from('second'));
    out.close();
    while (calls === 0) await new Promise<void>((resolve) => setImmediate(resolve));
    // Unhandled rejections are reported before the next macrotask.
    await new Promise<void>((resolve) => setImmediate(resolve));
    expect(seen).toEqual([]);
    await expect(w.settle()).rejects.toMatchObject({ code: 'EEXIST' });

    const v = new StagingWriter(root, () => {
      throw new Error('the error callback itself failed');
    }, 'pool');
    writers.push(v);
    const bad = v.file('f', 0o644);
    bad.close();
    for (let i = 0; i < 20; i++) {
      const good = v.file(`after/g${i}`, 0o644);
      good.write(Buffer.from('g'));
      good.close();
    }
    await expect(v.abandon()).resolves.toBeUndefined();
    expect(fs.readdirSync(path.join(root, 'after'))).toHaveLength(20);
    expect(seen).toEqual([]);
  } finally {
    process.off('unhandledRejection', onUnhandled);
  }
});

it('creates nothing once abandoned', async () => {
  const w = writer();
  const late = w.file('late', 0o644);
  late.write(Buffer.from('x'));
  await w.abandon();
  expect(() => late.close()).toThrow(/abandoned/);
  expect(() => w.file('later', 0o644)).toThrow(/abandoned/);
  await w.settle();
  expect(fs.existsSync(path.join(root, 'late'))).toBe(false);
  expect(fs.existsSync(path.join(root, 'later'))).toBe(false);
});

it('lets room() return at once when the extraction is aborted', async () => {
  const w = writer();
  for (let i = 0; i < 64; i++) {
    const out = w.file(`ab/a${i}`, 0o644);
    out.write(Buffer.from('a'));
    out.close();
  }
  const ctl = new AbortController();
  let returned = false;
  const waited = w.room(ctl.signal).then(() => (returned = true));
  await Promise.resolve();
  expect(returned).toBe(false);
  ctl.abort();
  // Still no pool callback has run: only the abort can have ended the wait.
  for (let i = 0; i < 5; i++) await Promise.resolve();
  expect(returned).toBe(true);
  await waited;
  await w.settle();
});
