/**
 * One working directory shared by processes (issue 10.2) and npm dependencies
 * reused without npm (issue 14.5). Real processes racing are in
 * test/flame-node; here the rules, one at a time: offline `file:` dependencies.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { PackageManager } from '../../src/packages';
import { ownerOf, ownerTag } from '../../src/packages/owner';
import { gzipFile, packTar, writePackage } from './archives';
import { fileUrl, sandbox, type Sandbox } from './env';

let sb: Sandbox;
afterEach(async () => {
  await sb.close();
});

function depDir(s: Sandbox): string {
  const dep = path.join(s.base, 'dep');
  fs.mkdirSync(dep, { recursive: true });
  fs.writeFileSync(path.join(dep, 'package.json'), JSON.stringify({ name: 'localdep', version: '1.0.0', main: 'i.js' }));
  fs.writeFileSync(path.join(dep, 'i.js'), 'module.exports = () => 42;');
  return dep;
}

function makeArchive(s: Sandbox, name: string, opts: Parameters<typeof writePackage>[1]): string {
  const src = fs.mkdtempSync(path.join(s.base, 'src-'));
  writePackage(path.join(src, 'package'), opts);
  packTar(src, 'package', path.join(src, 'p.tar'));
  const archive = path.join(s.input, name);
  gzipFile(path.join(src, 'p.tar'), archive);
  return archive;
}

/** A pid that existed and is gone now. */
function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', '']);
  return r.pid!;
}

describe('npm dependencies are installed once per working directory', () => {
  it('a later session of the same process (tree removed in between) does not run npm again', async () => {
    sb = sandbox();
    const a = makeArchive(sb, 'withdeps.tgz', { deps: { localdep: `file:${depDir(sb)}` } });
    const first = await sb.pm.install(fileUrl(a), 's1');
    expect(first.npmRan).toBe(true);
    await first.release();
    expect(fs.existsSync(first.root)).toBe(false);
    // The dependency's source is gone: npm could not install it again even if it tried.
    fs.rmSync(path.join(sb.base, 'dep'), { recursive: true });
    const second = await sb.pm.install(fileUrl(a), 's2');
    expect(second.reused).toBe(false);
    expect(second.npmRan).toBe(false);
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    expect((require(path.join(second.root, 'node_modules', 'localdep')) as () => number)()).toBe(42);
    await second.release();
    await sb.pm.close();
    expect(fs.readdirSync(sb.work)).toEqual([]);
  });

  it('another package manager on the same directory reuses the tree and its dependencies; other content with the same dependencies reuses them too', async () => {
    sb = sandbox();
    const dep = depDir(sb);
    const a = makeArchive(sb, 'one.tgz', { deps: { localdep: `file:${dep}` }, marker: 'one' });
    const b = makeArchive(sb, 'two.tgz', { deps: { localdep: `file:${dep}` }, marker: 'two' });
    const other = new PackageManager({ workDir: sb.work });
    try {
      const p1 = await sb.pm.install(fileUrl(a), 's1');
      const p2 = await other.install(fileUrl(a), 's2');
      expect(p1.npmRan).toBe(true);
      expect(p2).toMatchObject({ reused: true, npmRan: false, root: p1.root });
      const p3 = await other.install(fileUrl(b), 's3');
      expect(p3).toMatchObject({ reused: false, npmRan: false });
      await p1.release();
      // Still used by the other manager: the tree stays.
      expect(fs.existsSync(path.join(p2.root, 'index.js'))).toBe(true);
      await p2.release();
      await p3.release();
    } finally {
      await other.close();
    }
    await sb.pm.close();
    expect(fs.readdirSync(sb.work)).toEqual([]);
  });
});

describe('stale cleanup removes only what belongs to processes that are gone', () => {
  it('keeps a live process temporary files and trees, removes a dead one', async () => {
    sb = sandbox();
    const live = ownerOf(process.ppid);
    if (!live) throw new Error('no /proc entry for the parent process');
    const dead = `${deadPid()}-1`;
    fs.mkdirSync(path.join(sb.work, `.flmrun-tmp-${ownerTag(live)}-dl-abc`));
    fs.mkdirSync(path.join(sb.work, `.flmrun-tmp-${dead}-stage-abc`));
    const a = makeArchive(sb, 'kept.tgz', { marker: 'kept' });
    const b = makeArchive(sb, 'gone.tgz', { marker: 'gone' });
    const kept = await sb.pm.install(fileUrl(a), 's1');
    const gone = await sb.pm.install(fileUrl(b), 's2');
    // Hand the trees to other owners, as if other processes had entered them.
    for (const [p, owner] of [[kept, ownerTag(live)], [gone, dead]] as const) {
      const users = path.join(sb.work, `.flmrun-users-${p.sha256!}`);
      for (const f of fs.readdirSync(users)) fs.rmSync(path.join(users, f));
      fs.writeFileSync(path.join(users, `${owner}.0`), '');
    }
    const restarted = new PackageManager({ workDir: sb.work });
    await restarted.cleanupStale();
    await restarted.close();
    const left = fs.readdirSync(sb.work).sort();
    expect(left).toContain(`.flmrun-tmp-${ownerTag(live)}-dl-abc`);
    expect(left).not.toContain(`.flmrun-tmp-${dead}-stage-abc`);
    expect(fs.existsSync(path.join(kept.root, 'index.js'))).toBe(true);
    expect(fs.existsSync(gone.root)).toBe(false);
    expect(left.filter((n) => n.startsWith('.flmrun-users-'))).toEqual([`.flmrun-users-${kept.sha256!}`]);
  });
});
