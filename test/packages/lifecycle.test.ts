/**
 * Reuse by content hash, release, stale cleanup, npm installs (offline: `file:`
 * dependencies built by the test), and grpc:// downloads from a real cache server.
 */
import fs from 'node:fs';
import path from 'node:path';
import { CacheClient } from '../../src/cache/client';
import { CacheServer } from '../../src/cache/server/cache-server';
import { ErrorCode } from '../../src/errors';
import { gzipFile, packTar, writePackage } from './archives';
import { fileUrl, refusal, sandbox, type Sandbox } from './env';

let sb: Sandbox;
afterEach(async () => {
  await sb.close();
});

/** Packs a package into `<input>/<name>` (gzip tar with a `package/` top directory). */
function makeArchive(s: Sandbox, name: string, opts: Parameters<typeof writePackage>[1] = {}): string {
  const src = fs.mkdtempSync(path.join(s.base, 'src-'));
  writePackage(path.join(src, 'package'), opts);
  packTar(src, 'package', path.join(src, 'p.tar'));
  const archive = path.join(s.input, name);
  gzipFile(path.join(src, 'p.tar'), archive);
  return archive;
}

describe('reuse by content hash', () => {
  it('content entered again while its tree is held is not extracted again, whatever its URL or name', async () => {
    sb = sandbox();
    const a = makeArchive(sb, 'pkg.tgz');
    const copy = path.join(sb.input, 'renamed-copy.tgz');
    fs.copyFileSync(a, copy);
    const first = await sb.pm.install(fileUrl(a), 's1');
    fs.writeFileSync(path.join(first.root, 'touched.txt'), 'proof the tree was not rebuilt');
    const second = await sb.pm.install(fileUrl(copy), 's2');
    expect(first.reused).toBe(false);
    expect(second.reused).toBe(true);
    expect(second.root).toBe(first.root);
    expect(fs.existsSync(path.join(second.root, 'touched.txt'))).toBe(true);

    // The tree stays while one user holds it, and goes with the last.
    await first.release();
    await first.release();
    expect(fs.existsSync(second.root)).toBe(true);
    await second.release();
    expect(fs.readdirSync(sb.work)).toEqual([]);
  });

  it('concurrent installs of the same content extract once', async () => {
    sb = sandbox();
    const a = makeArchive(sb, 'pkg.tgz');
    const all = await Promise.all([1, 2, 3].map((i) => sb.pm.install(fileUrl(a), `s${i}`)));
    expect(all.filter((p) => !p.reused)).toHaveLength(1);
    expect(new Set(all.map((p) => p.root)).size).toBe(1);
    for (const p of all) await p.release();
    expect(fs.readdirSync(sb.work)).toEqual([]);
  });

  it('with keepExtracted a released tree is reused later, and after a restart', async () => {
    sb = sandbox({ keepExtracted: true });
    const a = makeArchive(sb, 'pkg.tgz');
    const first = await sb.pm.install(fileUrl(a), 's1');
    await first.release();
    expect(fs.existsSync(first.root)).toBe(true);
    const again = await sb.pm.install(fileUrl(a), 's2');
    expect(again.reused).toBe(true);
    await again.release();
    await sb.pm.close();

    const { PackageManager } = await import('../../src/packages');
    const restarted = new PackageManager({ workDir: sb.work, keepExtracted: true });
    await restarted.cleanupStale();
    const third = await restarted.install(fileUrl(a), 's3');
    expect(third.reused).toBe(true);
    expect(third.root).toBe(first.root);
    await restarted.close();
  });

  it('different content under the same archive name gets its own tree', async () => {
    sb = sandbox();
    fs.mkdirSync(path.join(sb.input, 'v2'));
    const v1 = makeArchive(sb, 'pkg.tgz', { marker: 'v1' });
    const v2 = makeArchive(sb, 'v2/pkg.tgz', { marker: 'v2' });
    const p1 = await sb.pm.install(fileUrl(v1), 's1');
    const p2 = await sb.pm.install(fileUrl(v2), 's2');
    expect(p2.reused).toBe(false);
    expect(p1.root).toBe(path.join(sb.work, 'extracted_pkg', 'package'));
    expect(p2.root).toBe(path.join(sb.work, `extracted_pkg-${p2.sha256!.slice(0, 12)}`, 'package'));
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    expect((require(p2.root) as { marker: string }).marker).toBe('v2');
    await p1.release();
    await p2.release();
  });
});

describe('stale trees at start', () => {
  it('removes our temporary dirs and trees, keeps what is not ours', async () => {
    sb = sandbox();
    fs.mkdirSync(path.join(sb.work, '.flmrun-tmp-stage-abc', 'package'), { recursive: true });
    fs.mkdirSync(path.join(sb.work, 'extracted_old', 'package'), { recursive: true });
    fs.writeFileSync(path.join(sb.work, 'extracted_old', '.flmrun-sha256'), JSON.stringify({ sha256: 'ab'.repeat(32), url: 'x', root: 'package' }));
    fs.mkdirSync(path.join(sb.work, 'extracted_users_own'));
    fs.mkdirSync(path.join(sb.work, 'data'));
    await sb.pm.cleanupStale();
    expect(fs.readdirSync(sb.work).sort()).toEqual(['data', 'extracted_users_own']);
  });
});

describe('npm install', () => {
  function depDir(s: Sandbox, withScript = false): string {
    const dep = path.join(s.base, 'dep');
    fs.mkdirSync(dep, { recursive: true });
    const scripts = withScript ? { postinstall: 'node -e "require(\'fs\').writeFileSync(\'postinstall-ran.txt\', \'1\')"' } : undefined;
    fs.writeFileSync(path.join(dep, 'package.json'), JSON.stringify({ name: 'localdep', version: '1.0.0', main: 'i.js', scripts }));
    fs.writeFileSync(path.join(dep, 'i.js'), 'module.exports = () => 42;');
    return dep;
  }

  it('installs declared production dependencies (file: dependency, offline) and skips install scripts by default', async () => {
    sb = sandbox();
    const dep = depDir(sb, true);
    const a = makeArchive(sb, 'withdeps.tgz', { deps: { localdep: `file:${dep}` } });
    const pkg = await sb.pm.install(fileUrl(a), 's1');
    const installed = path.join(pkg.root, 'node_modules', 'localdep');
    expect(fs.lstatSync(installed).isDirectory()).toBe(true); // copied in (--install-links), not linked outside
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    expect((require(installed) as () => number)()).toBe(42);
    expect(fs.existsSync(path.join(installed, 'postinstall-ran.txt'))).toBe(false);
    await pkg.release();
  });

  it('runs dependency install scripts when allowInstallScripts', async () => {
    sb = sandbox({ allowInstallScripts: true });
    const dep = depDir(sb, true);
    const a = makeArchive(sb, 'withdeps.tgz', { deps: { localdep: `file:${dep}` } });
    const pkg = await sb.pm.install(fileUrl(a), 's1');
    expect(fs.existsSync(path.join(pkg.root, 'node_modules', 'localdep', 'postinstall-ran.txt'))).toBe(true);
    await pkg.release();
  });

  it('uses bundled node_modules as they are', async () => {
    sb = sandbox({ npmCommand: '/nonexistent/npm' });
    const src = path.join(sb.base, 'src');
    writePackage(path.join(src, 'package'), { deps: { bundled: '1.0.0' } });
    fs.mkdirSync(path.join(src, 'package', 'node_modules', 'bundled'), { recursive: true });
    fs.writeFileSync(path.join(src, 'package', 'node_modules', 'bundled', 'index.js'), 'module.exports = 7;');
    packTar(src, 'package', path.join(sb.input, 'bundled.tar'));
    const pkg = await sb.pm.install(fileUrl(path.join(sb.input, 'bundled.tar')), 's1');
    expect(fs.existsSync(path.join(pkg.root, 'node_modules', 'bundled', 'index.js'))).toBe(true);
    await pkg.release();
  });

  it('an install failure is code 2 with npm\'s own words, and leaves nothing behind', async () => {
    sb = sandbox();
    const a = makeArchive(sb, 'broken.tgz', { deps: { missingdep: `file:${path.join(sb.base, 'no-such-dir')}` } });
    const e = await refusal(sb.pm.install(fileUrl(a), 's1'));
    expect(e.code).toBe(ErrorCode.InvalidInput);
    expect(e.returnCode).toBe(2);
    expect(e.message).toContain(a);
    expect(e.message).toMatch(/npm install --omit=dev .* failed \(exit code \d+\):\n/);
    expect(e.message).toMatch(/ENOENT|no-such-dir|Could not/i);
    expect(fs.readdirSync(sb.work)).toEqual([]);
  });
});

describe('grpc:// from the object cache', () => {
  it('downloads an uploaded package through the cache client and installs it', async () => {
    sb = sandbox();
    const server = new CacheServer({ host: '127.0.0.1', port: 0 });
    const endpoint = await server.start();
    const client = new CacheClient({ endpoint });
    const pm = new (await import('../../src/packages')).PackageManager({
      workDir: path.join(sb.base, 'work2'),
      fetchFromCache: (ep, key, dest) => client.download({ endpoint: ep, key, version: 0 }, dest),
    });
    try {
      const archive = makeArchive(sb, 'pkg.tgz', { marker: 'from-cache' });
      const ref = await client.upload('myapp/pkg/pkg.tgz', archive);
      const url = `${endpoint.replace(/\/$/, '')}/${ref.key}`;
      const pkg = await pm.install(url, 's1');
      expect(path.basename(path.dirname(pkg.root))).toBe('extracted_pkg');
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      expect((require(pkg.root) as { marker: string }).marker).toBe('from-cache');
      await pkg.release();

      const missing = await refusal(pm.install(`${endpoint}/myapp/pkg/nothing.tgz`, 's1'));
      expect(missing.code).toBe(ErrorCode.Unavailable);
      expect(missing.message).toContain('myapp/pkg/nothing.tgz');
    } finally {
      await pm.close();
      client.close();
      await server.close();
    }
  });

  it('without a cache client a grpc:// URL is Unavailable', async () => {
    sb = sandbox();
    const e = await refusal(sb.pm.install('grpc://127.0.0.1:9/app/pkg/x.tgz', 's1'));
    expect(e.code).toBe(ErrorCode.Unavailable);
    expect(e.message).toContain('no object cache client');
  });
});
