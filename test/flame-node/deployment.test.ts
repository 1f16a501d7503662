/**
 * Issue 10 items 3-6: a live socket is never replaced; no url and no package
 * is code 2; FLAME_LOG in Rust filter syntax; the bin runs directly; the Flame
 * yaml names a command that exists after the documented install; upload.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import pino from 'pino';
import net from 'node:net';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { CacheServer } from '../../src/cache/server/cache-server';
import { levelFromRustFilter } from '../../src/options/values';
import { ReturnCode } from '../../src/errors';
import { startTestInstance } from '../helpers/instance';
import { makeTempDir, removeDir, tempSocketPath } from '../helpers/tmp';
import { CLI, HANG_GUARD_MS } from './harness';

const ROOT = path.join(__dirname, '..', '..');
const YAML_FILE = path.join(ROOT, 'deploy', 'flame', 'flmrun-js.yaml');
// flmctl's application spec fields (flmctl/src/apis.rs SpecYaml).
const FLMCTL_SPEC_FIELDS = ['shim', 'image', 'description', 'labels', 'command', 'arguments', 'environments',
  'working_directory', 'max_instances', 'delay_release', 'schema', 'url', 'installer'];

jest.setTimeout(HANG_GUARD_MS);

beforeAll(() => {
  if (!fs.existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` first`);
});

/** Runs `serve` and resolves once its socket exists (or it exited first). */
function serve(socket: string, workDir: string): { exited: Promise<number | null>; ready: Promise<boolean>; stderr: () => string; kill(sig?: NodeJS.Signals): void } {
  let err = '';
  const child = spawn(process.execPath, [CLI, 'serve', '--socket', socket, '--work-dir', workDir], { stdio: ['ignore', 'ignore', 'pipe'] });
  child.stderr.on('data', (b: Buffer) => { err += b.toString(); });
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  let done = false;
  void exited.then(() => { done = true; });
  const ready = (async () => {
    while (!done && !fs.existsSync(socket)) await new Promise((r) => setTimeout(r, 10));
    return !done;
  })();
  return { exited, ready, stderr: () => err, kill: (sig = 'SIGTERM') => child.kill(sig) };
}

function accepts(socket: string): Promise<boolean> {
  return new Promise((resolve) => {
    const c = net.createConnection(socket);
    c.once('connect', () => { c.destroy(); resolve(true); });
    c.once('error', () => resolve(false));
  });
}

/** A CLI run that leaves this process's event loop free (an in-process server may have to answer it). */
function cli(args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const c = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    c.stdout.on('data', (b: Buffer) => { stdout += b.toString(); });
    c.stderr.on('data', (b: Buffer) => { stderr += b.toString(); });
    c.once('close', (status) => resolve({ status, stdout, stderr }));
  });
}

describe('a second serve on the same socket', () => {
  it('exits non-zero naming the path in use, and the first keeps serving; a dead socket file is replaced', async () => {
    const { dir, socket } = tempSocketPath();
    const work = makeTempDir('flmrun-work-');
    try {
      const first = serve(socket, work);
      expect(await first.ready).toBe(true);
      const inode = fs.statSync(socket).ino;
      const second = serve(socket, work);
      expect(await second.exited).not.toBe(0);
      expect(second.stderr()).toContain(`the socket ${socket} is in use`);
      expect(fs.statSync(socket).ino).toBe(inode);
      expect(spawnSync(process.execPath, [CLI, 'health', '--socket', socket]).status).toBe(0);

      // Killed without cleanup: its socket file stays, dead; the next serve replaces it.
      first.kill('SIGKILL');
      await first.exited;
      expect(fs.existsSync(socket)).toBe(true);
      const third = serve(socket, work);
      // The dead file exists all along, so "the path exists" says nothing here: wait until it accepts.
      const started = Date.now();
      while (!(await accepts(socket)) && Date.now() - started < HANG_GUARD_MS) await new Promise((r) => setTimeout(r, 50));
      expect(spawnSync(process.execPath, [CLI, 'health', '--socket', socket]).status).toBe(0);
      expect(fs.statSync(socket).mode & 0o777).toBe(0o600);
      third.kill();
      expect(await third.exited).toBe(0);
      // It removes only its own socket; nothing else is left in the socket directory.
      expect(fs.readdirSync(dir)).toEqual([]);
    } finally {
      removeDir(dir);
      removeDir(work);
    }
  });

  it('a socket directory removed under a running instance does not crash it: it serves on and exits cleanly', async () => {
    const { dir, socket } = tempSocketPath();
    const work = makeTempDir('flmrun-work-');
    try {
      const s = serve(socket, work);
      expect(await s.ready).toBe(true);
      removeDir(dir);
      await new Promise((r) => setTimeout(r, 200));
      s.kill();
      expect(await s.exited).toBe(0);
      // Nothing uncaught, nothing logged as an error. (When the removal lands while the socket is
      // still being put in place, a warning saying so, with its ENOENT, is the right log.)
      expect(s.stderr()).not.toMatch(/uncaught/i);
      const lines = s.stderr().split('\n').filter((l) => l.startsWith('{'));
      expect(lines.filter((l) => (JSON.parse(l) as { level: number }).level >= 50)).toEqual([]);
    } finally {
      removeDir(work);
    }
  });

  it('refuses to replace a file that is not a socket', async () => {
    const { dir, socket } = tempSocketPath();
    try {
      fs.writeFileSync(socket, 'mine');
      const s = serve(socket, dir);
      expect(await s.exited).not.toBe(0);
      expect(s.stderr()).toContain('exists and is not a socket');
      expect(fs.readFileSync(socket, 'utf8')).toBe('mine');
    } finally {
      removeDir(dir);
    }
  });
});

describe('an application without a url', () => {
  it('is code 2 saying it has no url and how to give one, when the working directory holds no package', async () => {
    // Flame keeps the reply's message to itself: the executor's log at info must say it too.
    const lines: string[] = [];
    const t = await startTestInstance({}, pino({ level: 'info' }, { write: (line: string) => lines.push(line) }));
    try {
      fs.writeFileSync(path.join(t.workDir, 'exec-1.err'), ''); // what Flame itself puts there
      const res = await t.client.enter({ session_id: 's1', application: { name: 'nourl' } });
      expect(res.return_code).toBe(ReturnCode.InvalidInput);
      expect(res.message).toMatch(/application "nourl" has no url/);
      expect(res.message).toMatch(/flmrun-js upload/);
      const failed = lines.map((l) => JSON.parse(l) as { msg: string; error?: { summary: string; fields?: Record<string, unknown> } }).find((l) => l.msg === 'session enter failed');
      expect(failed?.error?.summary).toMatch(/has no url and its working directory holds no package/);
      expect(failed?.error?.fields).toEqual({ app: 'nourl', workDir: t.workDir });
    } finally {
      await t.close();
    }
  });

  it('runs the package in the working directory when there is one', async () => {
    const t = await startTestInstance();
    try {
      fs.writeFileSync(path.join(t.workDir, 'package.json'), JSON.stringify({ name: 'here', main: 'index.js' }));
      fs.writeFileSync(path.join(t.workDir, 'index.js'), 'exports.add = (a, b) => a + b;');
      expect((await t.client.enter({ session_id: 's2', application: { name: 'inplace' } })).return_code).toBe(0);
      const res = await t.client.invoke({ task_id: '1', session_id: 's2', input: t.request('add', [5, 3]) });
      expect(await t.valueOf(res)).toBe(8);
      await t.client.leave();
    } finally {
      await t.close();
    }
  });
});

describe('FLAME_LOG in Rust filter syntax', () => {
  it.each([
    ['info', 'info'], ['debug,h2=info', 'debug'], ['flame=debug,warn', 'warn'], ['h2=trace', 'info'],
    ['WARN', 'warn'], ['off', 'silent'], ['error,tower=debug/foo', 'error'], ['', 'info'], [',,=,', 'info'], ['bogus', 'info'],
  ])('%p takes the global level %p', (filter, level) => {
    expect(levelFromRustFilter(filter)).toBe(level);
  });

  it('the process logs at that level and never fails on it', () => {
    const work = makeTempDir('flmrun-log-');
    try {
      const { dir, socket } = tempSocketPath();
      const s = spawnSync(process.execPath, ['-e', `
        const { spawn } = require('child_process');
        const c = spawn(process.execPath, [${JSON.stringify(CLI)}, 'serve', '--socket', ${JSON.stringify(socket)}, '--work-dir', ${JSON.stringify(work)}], { stdio: ['ignore', 'ignore', 'inherit'] });
        const t = setInterval(() => { if (require('fs').existsSync(${JSON.stringify(socket)})) { clearInterval(t); c.kill(); } }, 20);
        c.on('exit', (code) => process.exit(code ?? 1));`], { env: { ...process.env, FLAME_LOG: 'flame=debug,warn' }, encoding: 'utf8' });
      removeDir(dir);
      expect(s.status).toBe(0);
      const levels = s.stderr.split('\n').filter((l) => l.startsWith('{')).map((l) => (JSON.parse(l) as { level: number }).level);
      expect(levels.every((l) => l >= 40)).toBe(true); // warn and above only
    } finally {
      removeDir(work);
    }
  });
});

describe('the bin and the Flame yaml', () => {
  it('dist/cli.js is executable and runs directly', () => {
    expect(fs.statSync(CLI).mode & 0o111).toBe(0o111);
    expect(execFileSync(CLI, ['--help'], { encoding: 'utf8' })).toMatch(/Usage:\n {2}flmrun-js serve/);
  });

  it('the yaml uses only flmctl fields, and its command and url exist after the documented install', () => {
    const doc = parseYaml(fs.readFileSync(YAML_FILE, 'utf8')) as { metadata: { name: string }; spec: Record<string, unknown> };
    expect(doc.metadata.name).toMatch(/^[a-z0-9-]+$/);
    for (const k of Object.keys(doc.spec)) expect(FLMCTL_SPEC_FIELDS).toContain(k);
    expect(doc.spec.shim).toBe('host');
    expect(doc.spec.installer).toBeUndefined();
    const command = doc.spec.command as string;
    const url = doc.spec.url as string;
    expect(command).toBe('/usr/local/bin/flmrun-js');
    expect(url).toMatch(/^file:\/\/\/usr\/local\//);

    // The README's install, into a scratch prefix standing for /usr/local.
    const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
    expect(readme).toContain('npm install -g --prefix /usr/local ./flmrun-js-0.1.0.tgz');
    const scratch = makeTempDir('flmrun-prefix-');
    try {
      const packed = execFileSync('npm', ['pack', '--silent', '--pack-destination', scratch], { cwd: ROOT, encoding: 'utf8' }).trim().split('\n').pop()!;
      const prefix = path.join(scratch, 'usr-local');
      execFileSync('npm', ['install', '-g', '--prefix', prefix, '--prefer-offline', '--no-audit', '--no-fund', path.join(scratch, packed)], { cwd: scratch, stdio: 'ignore' });
      const installedCommand = command.replace('/usr/local', prefix);
      expect(execFileSync(installedCommand, ['--help'], { encoding: 'utf8' })).toContain('flmrun-js serve');
      const pkgDir = url.replace('file:///usr/local', prefix);
      expect(fs.existsSync(path.join(pkgDir, 'package.json'))).toBe(true);
      expect(doc.spec.arguments).toEqual(['serve']);
    } finally {
      removeDir(scratch);
    }
  });
});

describe('flmrun-js upload', () => {
  it('packs a directory into the cache under <app>/pkg/<file> and prints a url an instance runs', async () => {
    const cache = new CacheServer({ host: '127.0.0.1', port: 0 });
    const endpoint = await cache.start();
    const src = makeTempDir('flmrun-upsrc-');
    const t = await startTestInstance({ cacheEndpoint: endpoint });
    try {
      fs.writeFileSync(path.join(src, 'package.json'), JSON.stringify({ name: '@scope/my-pkg', version: '1.0.0', main: 'index.js' }));
      fs.writeFileSync(path.join(src, 'index.js'), 'exports.add = (a, b) => a + b + 100;');
      fs.mkdirSync(path.join(src, 'node_modules', 'junk'), { recursive: true });
      const out = await cli(['upload', src, '--cache', endpoint]);
      expect(out.status).toBe(0);
      const url = out.stdout.trim();
      expect(url).toBe(`${endpoint}/scope-my-pkg/pkg/scope-my-pkg.tar.gz`);
      expect((await t.client.enter({ session_id: 'u1', application: { name: 'scope-my-pkg', url } })).return_code).toBe(0);
      const res = await t.client.invoke({ task_id: '1', session_id: 'u1', input: t.request('add', [5, 3]) });
      expect(await t.valueOf(res)).toBe(108);
      await t.client.leave();

      const bad = await cli(['upload', path.join(src, 'index.js'), '--cache', endpoint]);
      expect(bad.status).toBe(2);
      expect(bad.stderr).toMatch(/flmrun-js: /);
    } finally {
      await t.close();
      await cache.close();
      removeDir(src);
    }
  });
});
