/**
 * The staging writer's own second line, without the entry rules in front of it:
 * it never writes through a link that is already in the tree and never reuses
 * a name, so a rule that let something through still could not reach outside.
 */
import fs from 'node:fs';
import path from 'node:path';
import { StagingWriter } from '../../src/packages/staging-writer';
import { makeTempDir, removeDir } from '../helpers/tmp';
import { listTree } from './env';

let base: string;
let root: string;
let outside: string;

beforeEach(() => {
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
  const w = new StagingWriter(root);
  expect(() => w.dir('l/sub')).toThrow(expect.objectContaining({ code: 'EEXIST' }));
  expectOutsideUntouched();
});

it('refuses a file through a link, and a file named as the link', () => {
  const w = new StagingWriter(root);
  expect(() => w.file('l/evil', 0o644)).toThrow();
  expect(() => w.file('l', 0o644)).toThrow(expect.objectContaining({ code: 'EEXIST' }));
  expectOutsideUntouched();
});

it('never overwrites a file or replaces it with a link', () => {
  const w = new StagingWriter(root);
  expect(() => w.file('f', 0o644)).toThrow(expect.objectContaining({ code: 'EEXIST' }));
  expect(() => w.symlink('f', 'l')).toThrow(expect.objectContaining({ code: 'EEXIST' }));
  expect(fs.readFileSync(path.join(root, 'f'), 'utf8')).toBe('first');
});

it('writes small and large files whole, in pieces, with the mode asked for', () => {
  const w = new StagingWriter(root);
  const big = Buffer.alloc(3 * 1024 * 1024 + 5, 7);
  const out = w.file('a/b/big.bin', 0o755);
  for (let off = 0; off < big.length; off += 1000) out.write(big.subarray(off, off + 1000));
  out.close();
  const small = w.file('a/small.txt', 0o644);
  small.write(Buffer.from('he'));
  small.write(Buffer.from('llo'));
  small.close();
  expect(fs.readFileSync(path.join(root, 'a', 'b', 'big.bin')).equals(big)).toBe(true);
  expect(fs.readFileSync(path.join(root, 'a', 'small.txt'), 'utf8')).toBe('hello');
  expect(fs.statSync(path.join(root, 'a', 'b', 'big.bin')).mode & 0o111).not.toBe(0);
});
