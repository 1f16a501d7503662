/** SIGTERM during a task: the task completes, the socket is removed, the process exits 0. */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { connectInstance } from '../../src/service/protos';
import { encodeRunnerRequest } from '../../src/codecs';
import { checkHealth } from '../../src/cli/health';
import { fixtureUrl } from '../helpers/instance';
import { makeTempDir, removeDir, tempSocketPath } from '../helpers/tmp';

const CLI = path.join(__dirname, '..', '..', 'dist', 'cli.js');

async function waitFor(cond: () => boolean | Promise<boolean>, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await cond()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('condition not met in time');
}

it('completes the running task on SIGTERM, then removes the socket and exits 0', async () => {
  const { dir, socket } = tempSocketPath();
  const work = makeTempDir();
  const child = spawn(process.execPath, [CLI, 'serve', '--socket', socket, '--work-dir', work], {
    env: { ...process.env, FLAME_LOG: 'warn', FLAME_CACHE_ENDPOINT: '' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  try {
    await waitFor(async () => fs.existsSync(socket) && (await checkHealth(`unix://${socket}`, '', 500)) === 'SERVING', 15000);
    const client = connectInstance(`unix://${socket}`);
    const entered = await client.enter({ session_id: 'sig', application: { name: 'app', url: fixtureUrl('calc') } });
    expect(entered.return_code).toBe(0);
    const task = client.invoke({
      task_id: '1',
      session_id: 'sig',
      input: encodeRunnerRequest({ method: 'slow', args: [1500, 'finished'], kwargs: null }),
    });
    await new Promise((r) => setTimeout(r, 300));
    child.kill('SIGTERM');
    const res = await task;
    expect(res.return_code).toBe(0);
    expect(res.output).toBeDefined();
    expect(await exited).toBe(0);
    expect(fs.existsSync(socket)).toBe(false);
    client.close();
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
    removeDir(dir);
    removeDir(work);
    if (child.exitCode !== 0) console.error(stderr);
  }
});
