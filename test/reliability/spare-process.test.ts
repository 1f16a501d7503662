/**
 * `flmrun-js serve` (the built CLI, run `npm run build` first) and its spare
 * session process: forked before serve loads its modules, it is the process
 * the first session runs in; a serve that fails to start exits and leaves no
 * process behind; with --no-spare-process nothing is forked before an enter.
 *
 * Processes are found by a marker in their environment, which the session
 * processes inherit, so that suites running beside this one do not count.
 */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import { connectInstance } from '../../src/service/protos';
import { makeTempDir, removeDir, tempSocketPath } from '../helpers/tmp';
import { CLI, fixtureUrl, sleep } from './helpers';

const MARK = 'FLMRUN_SPARE_TEST_MARK';

/** Pids of live processes whose environment carries this marker. */
function marked(mark: string): number[] {
  const pids: number[] = [];
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const status = fs.readFileSync(`/proc/${name}/status`, 'utf8');
      if (/^State:\s+Z/m.test(status)) continue;
      if (fs.readFileSync(`/proc/${name}/environ`, 'latin1').split('\0').includes(`${MARK}=${mark}`)) pids.push(Number(name));
    } catch {
      // ended meanwhile, or not ours to read
    }
  }
  return pids;
}

async function until(what: string, ok: () => boolean): Promise<void> {
  for (let i = 0; i < 3000 && !ok(); i++) await sleep(10);
  if (!ok()) throw new Error(`never: ${what}`);
}

function startServe(args: string[], mark: string): { pid: number; output: () => string; exited: Promise<number | null>; stop: () => Promise<void> } {
  const env: NodeJS.ProcessEnv = { ...process.env, [MARK]: mark, FLAME_LOG: 'info' };
  delete env.FLAME_CACHE_ENDPOINT;
  delete env.FLAME_INSTANCE_ENDPOINT;
  const child = spawn(process.execPath, [CLI, 'serve', ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr.on('data', (b: Buffer) => (out += b.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    pid: child.pid!,
    output: () => out,
    exited,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}

describe('serve and its spare session process', () => {
  let dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs) removeDir(d);
    dirs = [];
  });

  it('the spare forked at start runs the first session; no other process is started for it, none is left after SIGTERM', async () => {
    const mark = randomUUID();
    const { dir, socket } = tempSocketPath();
    const workDir = makeTempDir('flmrun-spare-');
    dirs.push(dir, workDir);
    const serve = startServe(['--socket', socket, '--work-dir', workDir], mark);
    try {
      await until('serving', () => serve.output().includes('flmrun-js serving'));
      const spares = marked(mark).filter((p) => p !== serve.pid);
      expect(spares).toHaveLength(1);
      const client = connectInstance(`unix://${socket}`);
      try {
        const res = await client.enter({ session_id: 'spare-1', application: { name: 'spare-app', url: fixtureUrl('load') } });
        expect(res.return_code ?? 0).toBe(0);
        expect(marked(mark).filter((p) => p !== serve.pid)).toEqual(spares);
        await client.leave();
        // After the leave: the session's process is gone and a new spare is there.
        await until('a new spare', () => {
          const now = marked(mark).filter((p) => p !== serve.pid);
          return now.length === 1 && now[0] !== spares[0];
        });
      } finally {
        client.close();
      }
    } finally {
      await serve.stop();
    }
    await until('no process left', () => marked(mark).length === 0);
  });

  it('a serve that fails to start (a bad flag) exits, and its spare with it', async () => {
    const mark = randomUUID();
    const serve = startServe(['--no-such-flag'], mark);
    expect(await serve.exited).toBe(2);
    expect(serve.output()).toContain('no-such-flag');
    await until('no process left', () => marked(mark).length === 0);
  });

  it('--no-spare-process: no session process before an enter', async () => {
    const mark = randomUUID();
    const { dir, socket } = tempSocketPath();
    const workDir = makeTempDir('flmrun-spare-');
    dirs.push(dir, workDir);
    const serve = startServe(['--socket', socket, '--work-dir', workDir, '--no-spare-process'], mark);
    try {
      await until('serving', () => serve.output().includes('flmrun-js serving'));
      await sleep(500);
      expect(marked(mark)).toEqual([serve.pid]);
    } finally {
      await serve.stop();
    }
  });
});
