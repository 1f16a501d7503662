/**
 * Hostile zips (entries byte-patched after yazl wrote them), decompression
 * bombs of every format, and truncated or corrupt compressed data: each
 * refused with a clear message, nothing created around the target.
 */
import fs from 'node:fs';
import path from 'node:path';
import yazl from 'yazl';
import { ErrorCode } from '../../src/errors';
import { centralRecords, compressWith, finishZip, localRecords, patchName, rawTar, writePackage, packTar, gzipFile, zeroBombTar } from './archives';
import { fileUrl, refusal, sandbox, type Sandbox } from './env';

let sb: Sandbox;
beforeEach(() => {
  sb = sandbox();
});
afterEach(async () => {
  await sb.close();
});

async function zipOf(entries: Array<[string, string | Buffer, number?]>): Promise<Buffer> {
  const zip = new yazl.ZipFile();
  for (const [name, data, mode] of entries) {
    if (name.endsWith('/')) zip.addEmptyDirectory(name);
    else zip.addBuffer(Buffer.from(data), name, mode !== undefined ? { mode } : {});
  }
  const tmp = path.join(sb.base, `tmp-${Math.random()}.zip`);
  await finishZip(zip, tmp);
  const buf = fs.readFileSync(tmp);
  fs.rmSync(tmp);
  return buf;
}

async function expectRefused(bytes: Buffer, name: string, expected: string | RegExp, code = ErrorCode.InvalidInput): Promise<void> {
  const before = sb.listing();
  const archive = path.join(sb.input, name);
  fs.writeFileSync(archive, bytes);
  const e = await refusal(sb.pm.install(fileUrl(archive), 's1'));
  if (typeof expected === 'string') expect(e.message).toContain(expected);
  else expect(e.message).toMatch(expected);
  expect(e.message).toContain(archive);
  expect(e.code).toBe(code);
  expect(e.returnCode).toBe(2);
  expect(sb.listing()).toEqual(before);
  expect(fs.readdirSync(sb.work)).toEqual([]);
}

const PKG: [string, string] = ['package.json', '{"name":"z"}'];

describe('zip entries', () => {
  it.each([
    ['../', 'xx/evil', '../evil', '".." path component'],
    ['backslashes', 'xxxxxxxxx', '..\\..\\evi', 'backslash'],
    ['absolute', 'tmp/evil', '/tmp/evi', 'absolute path'],
    ['drive letter', 'xxevil', 'C:evil', 'drive-letter'],
    ['NUL in a name', 'okxevil', 'ok\u0000evil', 'control characters'],
  ])('%s', async (_what, written, patched, expected) => {
    const bytes = patchName(await zipOf([PKG, [written, 'pwned']]), written, patched);
    await expectRefused(bytes, 'evil.zip', expected);
  });

  it('a symlink set through the external attributes', async () => {
    const bytes = await zipOf([PKG, ['link', '/etc/passwd', 0o120777]]);
    for (const off of centralRecords(bytes)) {
      if (bytes.toString('latin1', off + 46, off + 50) === 'link') expect((bytes.readUInt32LE(off + 38) >>> 16) & 0o170000).toBe(0o120000);
    }
    await expectRefused(bytes, 'evil.zip', 'symbolic link');
  });

  it('a symlink type set by patching the attributes of a plain file', async () => {
    const bytes = await zipOf([PKG, ['link', '../../etc']]);
    const rec = centralRecords(bytes)[1]!;
    bytes.writeUInt32LE((0o120777 << 16) >>> 0, rec + 38);
    await expectRefused(bytes, 'evil.zip', '"link" is a symbolic link');
  });

  it('an encrypted entry', async () => {
    const bytes = await zipOf([PKG, ['secret.js', 'x']]);
    const c = centralRecords(bytes)[1]!;
    const l = localRecords(bytes)[1]!;
    bytes.writeUInt16LE(bytes.readUInt16LE(c + 8) | 1, c + 8);
    bytes.writeUInt16LE(bytes.readUInt16LE(l + 6) | 1, l + 6);
    await expectRefused(bytes, 'evil.zip', '"secret.js" is encrypted');
  });

  it('an unsupported compression method', async () => {
    const bytes = await zipOf([PKG, ['x.js', 'x']]);
    const c = centralRecords(bytes)[1]!;
    const l = localRecords(bytes)[1]!;
    bytes.writeUInt16LE(14, c + 10);
    bytes.writeUInt16LE(14, l + 8);
    await expectRefused(bytes, 'evil.zip', 'compression method 14 (lzma)');
  });

  it('overlapping entries', async () => {
    const bytes = await zipOf([PKG, ['a.js', 'aaaa'], ['b.js', 'bbbb']]);
    const [, second, third] = centralRecords(bytes);
    bytes.writeUInt32LE(bytes.readUInt32LE(second! + 42), third! + 42);
    await expectRefused(bytes, 'evil.zip', 'overlap');
  });

  it.each([
    ['file/file', [['a', 'x'], ['a', 'y']]],
    ['case', [['README', 'x'], ['readme', 'y']]],
    ['dir/file', [['a/', ''], ['a', 'y']]],
  ] as Array<[string, Array<[string, string]>]>)('duplicate entries: %s', async (_what, entries) => {
    await expectRefused(await zipOf([PKG, ...entries]), 'dup.zip', /appears twice|collides/);
  });

  it('a zip bomb (one highly compressible entry)', async () => {
    await expectRefused(await zipOf([PKG, ['zeros.bin', Buffer.alloc(64 * 1024 * 1024)]]), 'bomb.zip', 'maxCompressionRatio', ErrorCode.LimitExceeded);
  });
});

describe('decompression bombs', () => {
  it.each(['gzip', 'bzip2', 'xz'] as const)('%s: a tar of zeros stops at the ratio bound', async (format) => {
    const ext = { gzip: 'tgz', bzip2: 'tbz2', xz: 'txz' }[format];
    const archive = path.join(sb.base, `bomb.${ext}`);
    await zeroBombTar(archive, 64 * 1024 * 1024, format);
    await expectRefused(fs.readFileSync(archive), `bomb.${ext}`, 'maxCompressionRatio', ErrorCode.LimitExceeded);
  });

  it('maxExtractBytes stops a stream that is not bomb-like', async () => {
    const small = sandbox({ maxExtractBytes: 1024 * 1024, maxEntries: 10 });
    try {
      const archive = path.join(small.input, 'big.tgz');
      await zeroBombTar(archive, 8 * 1024 * 1024, 'gzip');
      const e = await refusal(small.pm.install(fileUrl(archive), 's1'));
      expect(e.code).toBe(ErrorCode.LimitExceeded);
      expect(e.message).toContain('maxExtractBytes');
      expect(fs.readdirSync(small.work)).toEqual([]);
    } finally {
      await small.close();
    }
  });
});

describe('truncated and corrupt compressed data', () => {
  let tarFile: string;
  beforeEach(() => {
    writePackage(path.join(sb.base, 'src', 'package'));
    // Some bulk so that the compressed stream spans several blocks.
    fs.writeFileSync(path.join(sb.base, 'src', 'package', 'data.txt'), Array.from({ length: 20000 }, (_, i) => `line ${i} ${i * 7919}`).join('\n'));
    tarFile = path.join(sb.base, 'src', 'pkg.tar');
    packTar(path.join(sb.base, 'src'), 'package', tarFile);
  });

  const makers = {
    tgz: (s: string, d: string) => gzipFile(s, d),
    tbz2: (s: string, d: string) => compressWith('bzip2', s, d),
    txz: (s: string, d: string) => compressWith('xz', s, d),
  };

  it.each(Object.keys(makers) as Array<keyof typeof makers>)('%s truncated', async (ext) => {
    const whole = path.join(sb.base, `whole.${ext}`);
    makers[ext](tarFile, whole);
    const bytes = fs.readFileSync(whole);
    await expectRefused(bytes.subarray(0, Math.floor(bytes.length / 2)), `cut.${ext}`, /corrupt or truncated|unexpected end|Truncated/);
  });

  it.each(Object.keys(makers) as Array<keyof typeof makers>)('%s corrupt', async (ext) => {
    const whole = path.join(sb.base, `whole.${ext}`);
    makers[ext](tarFile, whole);
    const bytes = fs.readFileSync(whole);
    for (let i = Math.floor(bytes.length / 3); i < Math.floor(bytes.length / 3) + 64; i++) bytes[i] = bytes[i]! ^ 0x5a;
    await expectRefused(bytes, `bad.${ext}`, /corrupt|invalid tar|not a valid tar/);
  });

  it('an HTML page named .tgz', async () => {
    await expectRefused(Buffer.from('<!doctype html>\n<html><head><title>404</title></head></html>'), 'pkg.tgz', 'got an HTML page (text/html)');
  });

  it('a zip named .tgz', async () => {
    await expectRefused(await zipOf([PKG]), 'pkg.tgz', 'expected a tar.gz archive ("pkg.tgz") but got a zip archive');
  });

  it('garbage without an extension', async () => {
    await expectRefused(rawTar([]).subarray(0, 10).fill(7), 'blob', 'unrecognised binary data');
  });
});
