/**
 * The hostile tar corpus (issue 4): each archive is refused with a message
 * naming the entry, and nothing is created anywhere around the target (the
 * whole sandbox is listed before and after; absolute targets are checked too).
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { ErrorCode } from '../../src/errors';
import { pax, rawTar, type RawEntry } from './archives';
import { fileUrl, refusal, sandbox, type Sandbox } from './env';

let sb: Sandbox;
const tag = randomBytes(4).toString('hex');
const absTarget = path.join(os.tmpdir(), `flmrun-evil-${tag}`);
const etcTarget = `/etc/flmrun-evil-${tag}`;

beforeEach(() => {
  sb = sandbox();
});
afterEach(async () => {
  await sb.close();
  for (const p of [absTarget, etcTarget]) expect(fs.existsSync(p)).toBe(false);
});

const pkgJson: RawEntry = { name: 'package/package.json', data: '{"name":"x","main":"index.js"}' };
const file = (name: string, data = 'pwned'): RawEntry => ({ name, data });
const dir = (name: string): RawEntry => ({ name, type: '5' });
const symlink = (name: string, linkname: string): RawEntry => ({ name, type: '2', linkname });
const hardlink = (name: string, linkname: string): RawEntry => ({ name, type: '1', linkname });

/** Installs the archive and expects a refusal whose message contains `expected`; nothing may change around it. */
async function expectRefused(entries: RawEntry[], expected: string | RegExp, code: ErrorCode = ErrorCode.InvalidInput, gzip = true): Promise<string> {
  const before = sb.listing();
  const name = gzip ? 'evil.tgz' : 'evil.tar';
  const archive = path.join(sb.input, name);
  const tarBytes = rawTar(entries);
  fs.writeFileSync(archive, gzip ? zlib.gzipSync(tarBytes) : tarBytes);
  const e = await refusal(sb.pm.install(fileUrl(archive), 's1'));
  expect(e.message).toContain(archive);
  if (typeof expected === 'string') expect(e.message).toContain(expected);
  else expect(e.message).toMatch(expected);
  expect(e.code).toBe(code);
  expect(e.returnCode).toBe(2);
  expect(sb.listing()).toEqual(before);
  expect(fs.readdirSync(sb.work)).toEqual([]);
  return e.message;
}

describe('paths', () => {
  it.each([
    ['../', '../evil'],
    ['a/../../x', 'package/../../evil'],
    ['backslashes', '..\\..\\evil'],
    ['absolute', absTarget],
    ['////', `////${absTarget}`],
    ['drive letter', 'C:\\evil'],
    ['drive-relative', 'C:evil'],
  ])('%s', async (_what, name) => {
    const msg = await expectRefused([pkgJson, file(name)], `"${name}"`);
    expect(msg).toMatch(/\.\.|backslash|absolute|drive-letter/);
  });

  it('NUL bytes hidden in a header name field', async () => {
    const nameField = Buffer.concat([Buffer.from('package/ok.txt\0../../evil'), Buffer.alloc(10)]);
    await expectRefused([pkgJson, { name: '', nameField, data: 'x' }], 'NUL');
  });

  it('NUL bytes in a PAX path', async () => {
    await expectRefused([pkgJson, pax({ path: 'package/a\u0000../../evil' }), file('package/placeholder')], /control characters|NUL/);
  });

  it('nesting deeper than maxDepth (64)', async () => {
    const deep = `package/${Array.from({ length: 70 }, () => 'd').join('/')}/f.txt`;
    await expectRefused([pkgJson, pax({ path: deep }), file('package/placeholder')], 'maxDepth', ErrorCode.LimitExceeded);
  });
});

describe('links', () => {
  it('a symlink to /etc, then a file written through it', async () => {
    await expectRefused([pkgJson, symlink('package/l', '/etc'), file(`package/l/flmrun-evil-${tag}`)], '"package/l"');
  });

  it('a symlink to ../.., then a file written through it', async () => {
    await expectRefused([pkgJson, symlink('package/l', '../..'), file('package/l/evil')], 'outside the package');
  });

  it('a file under an inside symlink is still refused (no writing through links)', async () => {
    await expectRefused([pkgJson, dir('package/real'), symlink('package/l', 'real'), file('package/l/evil')], 'written through the symbolic link "package/l"');
  });

  it('a directory, then a symlink of the same name, then a file under it', async () => {
    await expectRefused([pkgJson, dir('package/d'), symlink('package/d', '../..'), file('package/d/evil')], '"package/d"');
  });

  it('a chain of relative symlinks that climbs out, with a hard link through it', async () => {
    await expectRefused([
      pkgJson, dir('package/x'), symlink('package/x/up', '..'), symlink('package/x/up2', 'up/..'),
      symlink('package/y', 'x/up2/..'), hardlink('package/h', 'package/y/victim/keep.txt'),
    ], /symbolic link|hard link/);
  });

  it('a chain whose escape appears only once a later link exists', async () => {
    await expectRefused([pkgJson, dir('package/x'), symlink('package/y', 'x/up/../..'), symlink('package/x/up', '..')],
      'leads outside the package through other links');
  });

  it.each([
    ['absolute', '/etc/passwd'],
    ['../', '../victim/keep.txt'],
    ['drive-relative', 'C:..\\victim\\keep.txt'],
    ['inside', 'package/package.json'],
  ])('a hard link (%s target)', async (_what, target) => {
    await expectRefused([pkgJson, hardlink('package/h', target)], 'hard link');
  });
});

describe('entry types', () => {
  it.each([['character device', '3'], ['block device', '4'], ['FIFO', '6']])('%s', async (what, type) => {
    await expectRefused([pkgJson, { name: 'package/dev', type }], what === 'FIFO' ? 'FIFO' : 'device');
  });
});

describe('duplicates', () => {
  it.each([
    ['file/file', [file('package/a'), file('package/a')], 'appears twice'],
    ['file/dir', [file('package/a'), dir('package/a')], 'appears twice'],
    ['file, then a file under it', [file('package/a'), file('package/a/b')], 'which is a file'],
    ['dir/symlink', [dir('package/a'), symlink('package/a', '.')], 'appears twice'],
    ['case', [file('package/README'), file('package/readme')], 'collides with "package/README"'],
    ['Unicode normalisation', [file('package/caf\u00e9'), file('package/cafe\u0301')], 'collides with'],
    ['ß and ss', [file('package/stra\u00dfe'), file('package/strasse')], 'collides with'],
  ])('%s', async (_what, entries, expected) => {
    await expectRefused([pkgJson, ...entries], expected);
  });
});

describe('sizes and counts', () => {
  it('a huge declared size (base-256, 8 GiB) is refused before any data', async () => {
    const sizeField = Buffer.alloc(12);
    sizeField[0] = 0x80;
    sizeField.writeUIntBE(8 * 1024 ** 3, 6, 6);
    await expectRefused([pkgJson, { name: 'package/huge', sizeField }], 'maxEntryBytes', ErrorCode.LimitExceeded);
  });

  it('a negative base-256 size', async () => {
    const sizeField = Buffer.alloc(12, 0xff);
    await expectRefused([pkgJson, { name: 'package/neg', sizeField }], 'negative size');
  });

  it('entries past maxEntries are refused, and the ones already written are deleted', async () => {
    // The one pass writes entries up to the limit before it sees the one past it; a small limit keeps this quick.
    const few = sandbox({ maxEntries: 2000 });
    try {
      const before = few.listing();
      const entries: RawEntry[] = [pkgJson];
      for (let i = 0; i < 4000; i++) entries.push({ name: `package/f${i}` });
      const archive = path.join(few.input, 'many.tar');
      fs.writeFileSync(archive, rawTar(entries));
      const e = await refusal(few.pm.install(fileUrl(archive), 's1'));
      expect(e.code).toBe(ErrorCode.LimitExceeded);
      expect(e.message).toContain('more than 2000 entries');
      expect(few.listing()).toEqual(before);
      expect(fs.readdirSync(few.work)).toEqual([]);
    } finally {
      await few.close();
    }
  });

  it('an empty name', async () => {
    await expectRefused([pkgJson, { name: '', nameField: Buffer.alloc(100), data: 'x' }], /empty name|invalid tar/);
  });
});

describe('late in the stream: entries already written are deleted', () => {
  // ~2 MB of incompressible entries: the stream spans many decompressed chunks, so these are on disk when the violation arrives.
  const many = (n = 1000): RawEntry[] => Array.from({ length: n }, (_, i) => file(`package/lib/m${i}.js`, randomBytes(1024).toString('hex')));

  it.each([
    ['a "../" path', file('../evil')],
    ['a duplicate of the first entry', file('package/lib/m0.js')],
    ['a case variant of an earlier entry', file('package/LIB/m1.js')],
    ['a device', { name: 'package/dev', type: '3' }],
  ])('%s after 1,000 good entries', async (_what, bad) => {
    await expectRefused([pkgJson, ...many(), bad], `"${bad.name}"`);
  });

  it('a file written through a link that came 1,000 entries earlier', async () => {
    await expectRefused([pkgJson, dir('package/real'), symlink('package/l', 'real'), ...many(), file('package/l/evil')], 'written through the symbolic link "package/l"');
  });

  it('a link escape that only the last entry completes', async () => {
    await expectRefused([pkgJson, dir('package/x'), symlink('package/y', 'x/up/../..'), ...many(), symlink('package/x/up', '..')],
      'leads outside the package through other links');
  });

  it('a gzip stream cut just before its end', async () => {
    const before = sb.listing();
    const archive = path.join(sb.input, 'cut.tgz');
    const whole = zlib.gzipSync(rawTar([pkgJson, ...many()]));
    fs.writeFileSync(archive, whole.subarray(0, whole.length - 4));
    const e = await refusal(sb.pm.install(fileUrl(archive), 's1'));
    expect(e.code).toBe(ErrorCode.InvalidInput);
    expect(e.message).toContain('corrupt or truncated gzip data');
    expect(sb.listing()).toEqual(before);
    expect(fs.readdirSync(sb.work)).toEqual([]);
  });

  it('a plain tar cut inside its last entry', async () => {
    const before = sb.listing();
    const archive = path.join(sb.input, 'cut.tar');
    const whole = rawTar([pkgJson, ...many(), file('package/last.js', 'x'.repeat(4000))]);
    // Past the last header, inside its data (the two end blocks and the padding come after it).
    fs.writeFileSync(archive, whole.subarray(0, whole.length - 1024 - 512 - 2048));
    const e = await refusal(sb.pm.install(fileUrl(archive), 's1'));
    expect(e.code).toBe(ErrorCode.InvalidInput);
    expect(e.message).toMatch(/invalid tar|not a valid tar/);
    expect(sb.listing()).toEqual(before);
    expect(fs.readdirSync(sb.work)).toEqual([]);
  });

  it('a gzip stream whose content is gzip again is refused, not inflated by node-tar', async () => {
    const before = sb.listing();
    const archive = path.join(sb.input, 'twice.tgz');
    fs.writeFileSync(archive, zlib.gzipSync(zlib.gzipSync(rawTar([pkgJson]))));
    const e = await refusal(sb.pm.install(fileUrl(archive), 's1'));
    expect(e.code).toBe(ErrorCode.InvalidInput);
    expect(e.message).toContain('nested compression');
    expect(sb.listing()).toEqual(before);
    expect(fs.readdirSync(sb.work)).toEqual([]);
  });
});

describe('archive-level problems', () => {
  it('no package.json', async () => {
    const archive = path.join(sb.input, 'nopkg.tar');
    fs.writeFileSync(archive, rawTar([file('package/index.js', 'exports.x = 1;')]));
    const e = await refusal(sb.pm.install(fileUrl(archive), 's1'));
    expect(e.code).toBe(ErrorCode.InvalidInput);
    expect(e.message).toContain('no package.json');
    expect(e.message).toContain('package/package.json in the archive');
    expect(fs.readdirSync(sb.work)).toEqual([]);
  });

  it('a reserved marker name', async () => {
    await expectRefused([{ name: '.flmrun-sha256', data: 'x' }, file('package.json', '{}')], 'reserved');
  });
});
