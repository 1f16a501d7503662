/**
 * The staging writer's own second line, without the entry rules in front of it:
 * it never writes through a link that is already in the tree and never reuses
 * a name, so a rule that let something through still could not reach outside.
 * Small files are created on the libuv pool: their failures arrive through the
 * writer's error callback, and settle() waits for them.
 */
import fs from 'node:fs';
import path from 'node:path';
import { StagingWriter } from '../../src/packages/staging-writer';
import { makeTempDir, removeDir } from '../helpers/tmp';
import { listTree } from './env';

let base: string;
let root: string;
let outside: string;
let failures: Array<{ err: unknown; rel: string }>;

function writer(): StagingWriter {
  return new StagingWriter(root, (err, rel) => failures.push({ err, rel }));
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
afterEach(() => removeDir(base));

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
