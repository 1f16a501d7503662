/**
 * Fuzzing archive extraction (issue 6, item 3): mutated and truncated .tar,
 * .tar.gz, .tar.bz2, .tar.xz and .zip bytes through the package extractor
 * into a fresh directory. Every input extracts or is refused with an
 * FlmError, nothing appears outside the target directory, and a refused
 * archive leaves the target directory empty.
 */
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { execFileSync } from 'node:child_process';
import yazl from 'yazl';
import { extractArchive } from '../../src/packages/extract';
import { sniff } from '../../src/packages/archive-kind';
import { resolvePackageOptions } from '../../src/packages/options';
import { invalidInput } from '../../src/errors';
import { makeTempDir, removeDir } from '../helpers/tmp';
import { patchName, rawTar } from '../packages/archives';
import { corpusOf, checkAsync, fuzzAsync, testTimeoutMs } from './harness';
import { fuzzBytes } from './mutate';

const SHORT_RUNS = 300;
let root: string;

beforeAll(() => {
  root = makeTempDir('flmrun-fuzz-archive-');
});
afterAll(() => removeDir(root));

function zipOf(files: Record<string, string>): Promise<Buffer> {
  const zip = new yazl.ZipFile();
  for (const [name, data] of Object.entries(files)) zip.addBuffer(Buffer.from(data), name);
  zip.end();
  const parts: Buffer[] = [];
  return new Promise((resolve, reject) => {
    zip.outputStream.on('data', (b: Buffer) => parts.push(b)).on('end', () => resolve(Buffer.concat(parts))).on('error', reject);
  });
}

async function archiveSeeds(): Promise<Buffer[]> {
  const pkg = rawTar([
    { name: 'package/', type: '5' },
    { name: 'package/package.json', data: '{"name":"demo","version":"1.0.0"}' },
    { name: 'package/index.js', data: 'exports.add = (a, b) => a + b;\n'.repeat(20) },
    { name: 'package/lib/link.js', type: '2', linkname: '../index.js' },
  ]);
  const hostile = rawTar([{ name: '../escape.txt', data: 'x' }, { name: 'up', type: '2', linkname: '/etc' }, { name: '/abs.txt', data: 'y' }]);
  const compress = (tool: string, data: Buffer): Buffer => execFileSync(tool, ['-c'], { input: data });
  return [
    pkg, hostile, zlib.gzipSync(pkg), zlib.gzipSync(hostile), compress('bzip2', pkg), compress('xz', pkg),
    patchName(await zipOf({ 'package/package.json': '{"name":"z"}', 'package/index.js': 'exports.x = 1;\n'.repeat(20), 'xx/zip-escape.txt': 'no' }), 'xx/zip-escape.txt', '../zip-escape.txt'),
  ];
}

let n = 0;
async function extract(bytes: Buffer): Promise<void> {
  const run = path.join(root, String(n++));
  const file = path.join(run, 'archive');
  const dest = path.join(run, 'dest');
  const tmp = path.join(run, 'tmp');
  fs.mkdirSync(dest, { recursive: true });
  fs.mkdirSync(tmp);
  fs.writeFileSync(file, bytes);
  const o = resolvePackageOptions({ workDir: run, maxExtractBytes: 8 << 20, maxEntryBytes: 4 << 20, maxEntries: 1000, extractTimeoutMs: 5000 });
  let refusal: { err: unknown } | undefined;
  try {
    const kind = sniff(bytes.subarray(0, 512));
    if (!kind) throw invalidInput('not an archive');
    await extractArchive(file, kind, dest, tmp, o, 'fuzz archive');
  } catch (err) {
    // A refusal leaves the staging directory empty, however late in the stream it came.
    const left = fs.readdirSync(dest);
    refusal = { err: left.length > 0 ? new Error(`refused, but left in the target: ${left.join(', ')}`) : err };
  }
  const outside = fs.readdirSync(run).filter((e) => !['archive', 'dest', 'tmp'].includes(e));
  const escaped = ['escape.txt', 'abs.txt', 'zip-escape.txt', 'up'].filter((e) => fs.existsSync(path.join(root, e)));
  removeDir(run);
  // A plain Error: the harness counts it as a failure, whatever the extractor answered.
  if (outside.length > 0 || escaped.length > 0) throw new Error(`written outside the target: ${[...outside, ...escaped].join(', ')}`);
  if (refusal) throw refusal.err;
}

describe('fuzz archive-extract', () => {
  it('replays its corpus', async () => {
    for (const { file, input } of corpusOf('archive-extract')) {
      expect([file, await checkAsync('archive-extract', input, extract)]).toEqual([file, expect.stringMatching(/accepted|refused/)]);
    }
  }, testTimeoutMs(0));

  it('extracts or refuses every mutated archive, writing nothing outside the target', async () => {
    const stats = await fuzzAsync('archive-extract', fuzzBytes(await archiveSeeds()), extract, SHORT_RUNS);
    expect(stats.failures).toBe(0);
    expect(stats.accepted).toBeGreaterThan(0);
    expect(stats.refused).toBeGreaterThan(0);
  }, testTimeoutMs(SHORT_RUNS, 30));
});
