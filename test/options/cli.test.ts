/** The built CLI refuses bad option values before starting anything, with the table's messages (exit 2). */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const CLI = path.join(__dirname, '..', '..', 'dist', 'cli.js');
let dir: string;

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'flmrun-options-'));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function cli(...args: string[]) {
  const env = { ...process.env, FLAME_INSTANCE_ENDPOINT: '', FLAME_CACHE_ENDPOINT: '', FLAME_LOG: '' };
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', env, timeout: 60_000 });
  return { status: r.status, stderr: r.stderr, stdout: r.stdout };
}

it.each([
  [['serve', '--log-level', 'verbose'], /--log-level must be one of trace, debug, info, warn, error, fatal, silent/],
  [['serve', '--ref-concurrency', '1.5'], /--ref-concurrency must be a whole number >= 1, got "1.5"/],
  [['serve', '--cache-max-memory', '1e9'], /--cache-max-memory must be a whole number >= 1 \(bytes\), got "1e9"/],
  [['cache', '--max-memory', '2.5'], /--max-memory must be a whole number >= 1 \(bytes\), got "2.5"/],
  [['cache', '--listen', 'nowhere'], /--listen must be HOST:PORT/],
])('flmrun-js %j is refused', (args, message) => {
  const r = cli(...args, ...(args[0] === 'serve' ? ['--socket', path.join(dir, 's.sock')] : []));
  expect(r.stderr).toMatch(message);
  expect(r.status).toBe(2);
  expect(fs.existsSync(path.join(dir, 's.sock'))).toBe(false);
});

it('--help shows every option with its default from the table', () => {
  const r = cli('--help');
  expect(r.status).toBe(0);
  expect(r.stdout).toMatch(/--ref-concurrency N\s+ObjectRef arguments of a task fetched at once \[default 8\]/);
  expect(r.stdout).toMatch(/--cache-deadline-ms N\s+.*\[default 30000 ms\]/);
  expect(r.stdout).toContain('docs/protocol.md');
});

it.each(['serve', 'cache', 'invoke', 'upload'])('flmrun-js %s --help shows the help and starts nothing', (command) => {
  const r = cli(command, '--help');
  expect(r.status).toBe(0);
  expect(r.stdout).toMatch(/--ref-concurrency N/);
});

it('serve --log-level warning reaches the logger as warn: it serves, and logs nothing at info', async () => {
  const { spawn } = await import('node:child_process');
  const socket = path.join(dir, 'warning.sock');
  const env = { ...process.env, FLAME_INSTANCE_ENDPOINT: '', FLAME_CACHE_ENDPOINT: '', FLAME_LOG: '' };
  const child = spawn(process.execPath, [CLI, 'serve', '--socket', socket, '--work-dir', dir, '--log-level', 'warning'], { env });
  let stderr = '';
  child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  let gone = false;
  void exited.then(() => (gone = true));
  while (!fs.existsSync(socket) && !gone) await new Promise((r) => setTimeout(r, 50));
  child.kill('SIGTERM');
  expect([await exited, gone ? stderr : '']).toEqual([0, stderr]);
  expect(stderr).not.toMatch(/"level":30/);
}, 60_000);
