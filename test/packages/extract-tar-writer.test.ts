/**
 * extractTar with the staging writer on either thread: small files created on
 * the main thread (the usual case) or on the libuv pool (once opens prove
 * slow, staging-writer.ts). A file the disk refuses stops the pass with the
 * same message and code either way, and when the pass rejects nothing is
 * still being written; an abort does the same with files in flight.
 */
import fs from 'node:fs';
import path from 'node:path';
import { ErrorCode } from '../../src/errors';
import { EntryRules } from '../../src/packages/entry-rules';
import { extractTar } from '../../src/packages/extract-tar';
import { resolvePackageOptions } from '../../src/packages/options';
import type { CreateOn } from '../../src/packages/staging-writer';
import { makeTempDir, removeDir } from '../helpers/tmp';
import { rawTar, type RawEntry } from './archives';
import { listTree } from './env';

let base: string;
let stage: string;
beforeEach(() => {
  base = makeTempDir('flmrun-extract-tar-');
  stage = path.join(base, 'stage');
  fs.mkdirSync(stage);
});
afterEach(() => removeDir(base));

const WHERE = 'package test.tgz';
const files = (n: number, size = 3000): RawEntry[] =>
  Array.from({ length: n }, (_, i) => ({ name: `package/f${i}.js`, data: Buffer.alloc(size, 97 + (i % 26)).toString() }));

/** The tar in 64 KiB slices, counting those handed out: a pass that stops early leaves some. */
function slices(tar: Buffer): { chunks: AsyncGenerator<Buffer>; taken: () => number; total: number } {
  const SLICE = 64 * 1024;
  let taken = 0;
  async function* gen(): AsyncGenerator<Buffer> {
    for (let at = 0; at < tar.length; at += SLICE) {
      taken++;
      yield tar.subarray(at, at + SLICE);
    }
  }
  return { chunks: gen(), taken: () => taken, total: Math.ceil(tar.length / SLICE) };
}

function extract(entries: RawEntry[], createOn: CreateOn): { done: Promise<void>; taken: () => number; total: number } {
  const rules = new EntryRules(resolvePackageOptions({ workDir: base }), WHERE);
  const s = slices(rawTar(entries));
  return { done: extractTar(s.chunks, stage, rules, WHERE, new AbortController().signal, createOn), taken: s.taken, total: s.total };
}

/** The tree now and a moment later: equal when nothing was still being written after the pass settled. */
async function settledListing(): Promise<string[]> {
  const now = listTree(stage);
  await new Promise((r) => setTimeout(r, 50));
  expect(listTree(stage)).toEqual(now);
  return now;
}

describe.each(['main', 'pool'] as const)('small files on the %s thread', (createOn) => {
  it('writes every file whole', async () => {
    const entries = files(300);
    await extract(entries, createOn).done;
    expect(fs.readdirSync(path.join(stage, 'package'))).toHaveLength(300);
    expect(fs.readFileSync(path.join(stage, 'package', 'f299.js'), 'utf8')).toBe(entries[299]!.data);
  });

  it('stops at a file the disk refuses, naming it, with nothing in flight afterwards', async () => {
    // The rules judge the archive's names, not the disk: a name already taken on disk is refused by the writer.
    fs.mkdirSync(path.join(stage, 'package'));
    fs.writeFileSync(path.join(stage, 'package', 'f150.js'), 'there before');
    const run = extract(files(600), createOn);
    const err = await run.done.then(() => undefined, (e: unknown) => e);
    expect(err).toMatchObject({
      code: ErrorCode.InvalidInput,
      message: expect.stringMatching(/^package test\.tgz: entry "package\/f150\.js" could not be written \(.*EEXIST/),
    });
    const left = await settledListing();
    expect(fs.readFileSync(path.join(stage, 'package', 'f150.js'), 'utf8')).toBe('there before');
    if (createOn === 'main') {
      // The failure is known at the file's close(), in the slice that holds it: the pass stops there. (On the pool
      // it is known when the open returns, which depends on the pool's threads.)
      expect(run.taken()).toBeLessThan(run.total / 2);
      expect(left).not.toContain('package/f599.js');
    }
  });

  it('rejects with the abort reason, with nothing in flight afterwards', async () => {
    const ctl = new AbortController();
    const reason = new Error('extraction took too long');
    const entries = files(400, 20_000);
    const rules = new EntryRules(resolvePackageOptions({ workDir: base }), WHERE);
    const tar = rawTar(entries);
    async function* slices(): AsyncGenerator<Buffer> {
      for (let at = 0; at < tar.length; at += 256 * 1024) {
        if (at >= tar.length / 2) ctl.abort(reason);
        yield tar.subarray(at, at + 256 * 1024);
      }
    }
    await expect(extractTar(slices(), stage, rules, WHERE, ctl.signal, createOn)).rejects.toBe(reason);
    const left = await settledListing();
    expect(left.length).toBeGreaterThan(0);
    expect(left).not.toContain('package/f399.js');
  });
});
