/**
 * Each archive format and each URL scheme, end to end: PackageManager.install,
 * then require() of the extracted package and a call into it.
 */
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { ErrorCode } from '../../src/errors';
import { compressWith, gzipFile, packTar, TAR_FORMATS, writePackage, zipDir } from './archives';
import { fileUrl, httpServer, refusal, sandbox, type Sandbox } from './env';

let sb: Sandbox;
let tarFile: string;

beforeEach(() => {
  sb = sandbox();
  const src = path.join(sb.base, 'src');
  writePackage(path.join(src, 'package'), { marker: 'packed' });
  tarFile = path.join(sb.base, 'src', 'pkg.tar');
  packTar(src, 'package', tarFile);
});
afterEach(async () => {
  await sb.close();
});

function callInto(root: string): { sum: number; marker: string } {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const mod = require(root) as { add(a: number, b: number): number; marker: string };
  return { sum: mod.add(2, 3), marker: mod.marker };
}

const FORMATS = TAR_FORMATS;

describe.each(FORMATS)('%s over file://', (name, make) => {
  it('installs, keeps the executable bit, and the package can be called', async () => {
    const archive = path.join(sb.input, name);
    await make(tarFile, archive);
    const pkg = await sb.pm.install(fileUrl(archive), 's1');
    expect(pkg.root).toBe(path.join(sb.work, 'extracted_pkg', 'package'));
    expect(pkg.reused).toBe(false);
    expect(callInto(pkg.root)).toEqual({ sum: 5, marker: 'packed' });
    expect(fs.statSync(path.join(pkg.root, 'bin', 'run.sh')).mode & 0o111).not.toBe(0);
    expect(fs.statSync(path.join(pkg.root, 'index.js')).mode & 0o111).toBe(0);
    expect(pkg.sha256).toBe(createHash('sha256').update(fs.readFileSync(archive)).digest('hex'));
    await pkg.release();
    expect(fs.readdirSync(sb.work)).toEqual([]);
  });
});

describe.each([['pkg.tgz', gzipFile], ['pkg.tar', (s: string, d: string) => fs.copyFileSync(s, d)], ['pkg.tar.xz', (s: string, d: string) => compressWith('xz', s, d)]] as const)(
  '%s of several MiB',
  (name, make) => {
    it('extracts every file byte for byte across the 64 KiB parse slices and the 1 MiB inflate pieces', async () => {
      // Incompressible files of many sizes, so entries start and end at every offset of a slice and of a piece.
      const src = path.join(sb.base, 'big');
      const pkgDir = path.join(src, 'package');
      writePackage(pkgDir);
      const seed = createHash('sha256').update('sizes').digest();
      const files = new Map<string, Buffer>();
      for (let i = 0; i < 160; i++) files.set(`lib/f${i}.bin`, randomBytes((seed[i % 32]! * 211 + i * 977) % 70_000));
      files.set('lib/big.bin', randomBytes(3 * 1024 * 1024 + 17));
      fs.mkdirSync(path.join(pkgDir, 'lib'));
      for (const [rel, data] of files) fs.writeFileSync(path.join(pkgDir, rel), data);
      const plain = path.join(src, 'big.tar');
      packTar(src, 'package', plain);
      const archive = path.join(sb.input, name);
      await make(plain, archive);
      const pkg = await sb.pm.install(fileUrl(archive), 's1');
      for (const [rel, data] of files) expect(fs.readFileSync(path.join(pkg.root, rel)).equals(data)).toBe(true);
      expect(fs.readdirSync(path.join(pkg.root, 'lib')).length).toBe(files.size);
      await pkg.release();
    });
  },
);

describe('zip', () => {
  it('installs a zip with a top-level directory, keeping modes', async () => {
    const archive = path.join(sb.input, 'app.zip');
    await zipDir(path.join(sb.base, 'src', 'package'), archive, 'package');
    const pkg = await sb.pm.install(fileUrl(archive), 's1');
    expect(pkg.root).toBe(path.join(sb.work, 'extracted_app', 'package'));
    expect(callInto(pkg.root)).toEqual({ sum: 5, marker: 'packed' });
    expect(fs.statSync(path.join(pkg.root, 'bin', 'run.sh')).mode & 0o111).not.toBe(0);
    await pkg.release();
  });

  it('uses the tree itself as root when there is more than one top-level entry', async () => {
    const archive = path.join(sb.input, 'flat.zip');
    await zipDir(path.join(sb.base, 'src', 'package'), archive);
    const pkg = await sb.pm.install(fileUrl(archive), 's1');
    expect(pkg.root).toBe(path.join(sb.work, 'extracted_flat'));
    expect(callInto(pkg.root).sum).toBe(5);
    await pkg.release();
  });
});

describe('names without an extension are recognised by their first bytes', () => {
  it.each([
    ['gzip', gzipFile],
    ['xz', (s: string, d: string) => compressWith('xz', s, d)],
    ['bzip2', (s: string, d: string) => compressWith('bzip2', s, d)],
    ['tar', (s: string, d: string) => fs.copyFileSync(s, d)],
  ])('%s', async (_kind, make) => {
    const archive = path.join(sb.input, 'download');
    make(tarFile, archive);
    const pkg = await sb.pm.install(fileUrl(archive), 's1');
    expect(callInto(pkg.root).sum).toBe(5);
    await pkg.release();
  });

  it('zip', async () => {
    const archive = path.join(sb.input, 'blob');
    await zipDir(path.join(sb.base, 'src', 'package'), archive, 'package');
    const pkg = await sb.pm.install(fileUrl(archive), 's1');
    expect(callInto(pkg.root).sum).toBe(5);
    await pkg.release();
  });
});

describe('file:// directories', () => {
  it('uses a directory in place and release leaves it alone', async () => {
    const dir = path.join(sb.base, 'src', 'package');
    const pkg = await sb.pm.install(fileUrl(dir), 's1');
    expect(pkg.root).toBe(dir);
    expect(pkg.sha256).toBeUndefined();
    expect(callInto(pkg.root).sum).toBe(5);
    await pkg.release();
    expect(fs.existsSync(path.join(dir, 'package.json'))).toBe(true);
  });

  it('accepts a plain absolute path', async () => {
    const archive = path.join(sb.input, 'pkg.tgz');
    gzipFile(tarFile, archive);
    const pkg = await sb.pm.install(archive, 's1');
    expect(callInto(pkg.root).sum).toBe(5);
    await pkg.release();
  });

  it('a missing file is "could not fetch" (Unavailable)', async () => {
    const e = await refusal(sb.pm.install(fileUrl(path.join(sb.input, 'nope.tgz')), 's1'));
    expect(e.code).toBe(ErrorCode.Unavailable);
    expect(e.returnCode).toBe(3);
    expect(e.message).toContain('nope.tgz');
  });
});

describe('http://', () => {
  it('downloads, follows a bounded redirect, and checks #sha256', async () => {
    const archive = path.join(sb.input, 'pkg.tgz');
    gzipFile(tarFile, archive);
    const bytes = fs.readFileSync(archive);
    const sha = createHash('sha256').update(bytes).digest('hex');
    const srv = await httpServer({
      '/pkg.tgz': (_q, r) => r.end(bytes),
      '/old/pkg.tgz': (_q, r) => { r.writeHead(302, { location: '/pkg.tgz' }); r.end(); },
      '/loop': (_q, r) => { r.writeHead(302, { location: '/loop' }); r.end(); },
      '/page.tgz': (_q, r) => { r.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }); r.end('<!DOCTYPE html><html><body>Error</body></html>'); },
      '/boom.tgz': (_q, r) => { r.statusCode = 503; r.end(); },
    });
    try {
      const pkg = await sb.pm.install(`${srv.url}/old/pkg.tgz#sha256=${sha}`, 's1');
      expect(callInto(pkg.root).sum).toBe(5);
      expect(pkg.sha256).toBe(sha);
      await pkg.release();

      const bad = await refusal(sb.pm.install(`${srv.url}/pkg.tgz#sha256=${'0'.repeat(64)}`, 's1'));
      expect(bad.code).toBe(ErrorCode.InvalidInput);
      expect(bad.message).toContain('sha256 mismatch');

      const loop = await refusal(sb.pm.install(`${srv.url}/loop`, 's1'));
      expect(loop.code).toBe(ErrorCode.Unavailable);
      expect(loop.message).toContain('redirects');

      const html = await refusal(sb.pm.install(`${srv.url}/page.tgz`, 's1'));
      expect(html.code).toBe(ErrorCode.InvalidInput);
      expect(html.message).toContain(`${srv.url}/page.tgz`);
      expect(html.message).toContain('got an HTML page (text/html)');

      const missing = await refusal(sb.pm.install(`${srv.url}/missing.tgz`, 's1'));
      expect(missing.code).toBe(ErrorCode.Unavailable);
      expect(missing.message).toContain('HTTP 404');

      const down = await refusal(sb.pm.install(`${srv.url}/boom.tgz`, 's1'));
      expect(down.returnCode).toBe(3);
      expect(down.message).toContain('HTTP 503');
      expect(fs.readdirSync(sb.work)).toEqual([]);
    } finally {
      await srv.close();
    }
  });

  it('refuses a download over maxDownloadBytes without leaving a partial file', async () => {
    const small = sandbox({ maxDownloadBytes: 1000 });
    const big = Buffer.alloc(5000, 1);
    const srv = await httpServer({
      '/declared.tgz': (_q, r) => r.end(big),
      '/chunked.tgz': (_q, r) => { r.write(big.subarray(0, 2500)); r.end(big.subarray(2500)); },
    });
    try {
      for (const p of ['/declared.tgz', '/chunked.tgz']) {
        const e = await refusal(small.pm.install(`${srv.url}${p}`, 's1'));
        expect(e.code).toBe(ErrorCode.LimitExceeded);
        expect(e.message).toContain('maxDownloadBytes');
        expect(fs.readdirSync(small.work)).toEqual([]);
      }
    } finally {
      await srv.close();
      await small.close();
    }
  });

  it('a refused connection and a stalled server are Unavailable', async () => {
    const quick = sandbox({ httpTotalTimeoutMs: 300 });
    const srv = await httpServer({ '/stall.tgz': () => undefined });
    try {
      const stalled = await refusal(quick.pm.install(`${srv.url}/stall.tgz`, 's1'));
      expect(stalled.code).toBe(ErrorCode.Unavailable);
      expect(stalled.message).toContain('httpTotalTimeoutMs');
      const port = Number(new URL(srv.url).port);
      await srv.close();
      const refused = await refusal(quick.pm.install(`http://127.0.0.1:${port}/pkg.tgz`, 's1'));
      expect(refused.code).toBe(ErrorCode.Unavailable);
      expect(refused.message).toContain('ECONNREFUSED');
      expect(fs.readdirSync(quick.work)).toEqual([]);
    } finally {
      await srv.close().catch(() => undefined);
      await quick.close();
    }
  });
});

describe('https://', () => {
  it('downloads from a server whose self-signed certificate is in caFile', async () => {
    const dir = path.join(sb.base, 'tls');
    fs.mkdirSync(dir);
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', path.join(dir, 'key.pem'), '-out', path.join(dir, 'cert.pem'),
      '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
    const archive = path.join(sb.input, 'pkg.tgz');
    gzipFile(tarFile, archive);
    const server = https.createServer({ key: fs.readFileSync(path.join(dir, 'key.pem')), cert: fs.readFileSync(path.join(dir, 'cert.pem')) },
      (_q, r) => r.end(fs.readFileSync(archive)));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `https://127.0.0.1:${(server.address() as AddressInfo).port}/pkg.tgz`;
    const trusting = sandbox({ caFile: path.join(dir, 'cert.pem') });
    try {
      const untrusted = await refusal(sb.pm.install(url, 's1'));
      expect(untrusted.code).toBe(ErrorCode.Unavailable);
      expect(untrusted.message).toContain('FLAME_CA_FILE');
      const pkg = await trusting.pm.install(url, 's1');
      expect(callInto(pkg.root).sum).toBe(5);
      await pkg.release();
    } finally {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await trusting.close();
    }
  });
});
