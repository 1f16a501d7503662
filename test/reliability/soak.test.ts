/**
 * Issue 6.4, soak: many sequential tasks against one `flmrun-js serve`
 * process, its resident memory sampled from /proc/<pid>/status throughout.
 * The object cache runs in a process of its own (and the session's results
 * are deleted as the run goes), so the memory measured is flmrun-js's alone.
 *
 * Short version (npm test): 5,000 tasks. Long version: FLMRUN_SOAK=1 runs
 * 100,000 (FLMRUN_SOAK_TASKS=N for any other count).
 *
 * The bound on RSS growth, and why it is what it is, is in rssVerdict().
 */
import fs from 'node:fs';
import { spawn, type ChildProcess } from 'node:child_process';
import { CacheClient } from '../../src/cache/client';
import { decodeObjectRef } from '../../src/wire/object-ref';
import { decodeValue, encodeRunnerRequest } from '../../src/codecs';
import { checkHealth } from '../../src/cli/health';
import { connectInstance, type InstanceClient } from '../../src/service/protos';
import { makeTempDir, removeDir, tempSocketPath } from '../helpers/tmp';
import { CLI, CacheProcess, fixtureUrl, sleep } from './helpers';
import { freePort } from '../helpers/ports';

const TASKS = Number(process.env.FLMRUN_SOAK_TASKS) || (process.env.FLMRUN_SOAK === '1' ? 100_000 : 5_000);
const SAMPLES = 100;
const WARMUP_SAMPLES = 10;
/** Every task's value is fetched back and checked; fetching every one doubles the run, so the long run checks every 10th. */
const CHECK_EVERY = TASKS > 20_000 ? 10 : 1;
const MiB = 1024 * 1024;

/** RSS of serve and of its children (the session process runs the user code). */
function rssBytes(pid: number): number {
  let children: number[] = [];
  try {
    children = fs.readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    // no children file: count serve alone
  }
  return [pid, ...children].reduce((sum, p) => sum + ownRss(p), 0);
}

function ownRss(pid: number): number {
  let status: string;
  try {
    status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return 0; // a child that just ended
  }
  const m = /^VmRSS:\s+(\d+) kB$/m.exec(status);
  return m ? Number(m[1]) * 1024 : 0;
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
};

/**
 * After warm-up, the median RSS of the last 20% of samples may exceed that of
 * the first 20% by at most 25% + 32 MiB. Why so generous: V8 sizes its heaps
 * by GC heuristics (the young generation alone may grow by 16-32 MiB when it
 * decides to), and the allocator keeps freed pages; between two healthy
 * samples RSS moves by tens of MiB. A real leak is per task and grows without
 * end: 1 KiB per task is 100 MiB over the long run and fails it; the short run
 * catches leaks of about 8 KiB per task and more.
 */
function rssVerdict(samples: number[]): { first: number; last: number; limit: number } {
  const settled = samples.slice(WARMUP_SAMPLES);
  const fifth = Math.max(1, Math.floor(settled.length / 5));
  const first = median(settled.slice(0, fifth));
  const last = median(settled.slice(-fifth));
  return { first, last, limit: first * 1.25 + 32 * MiB };
}

describe(`soak: ${TASKS} sequential tasks, RSS stable`, () => {
  let cache: CacheProcess;
  let serve: ChildProcess;
  let socket: { dir: string; socket: string };
  let workDir: string;
  let client: InstanceClient;
  let cacheClient: CacheClient;

  beforeAll(async () => {
    cache = new CacheProcess(await freePort());
    await cache.start();
    socket = tempSocketPath();
    workDir = makeTempDir('flmrun-soak-');
    serve = spawn(process.execPath, [CLI, 'serve', '--socket', socket.socket, '--cache', cache.endpoint, '--work-dir', workDir], {
      env: { ...process.env, FLAME_LOG: 'warn' },
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    const until = Date.now() + 20_000;
    while ((await checkHealth(`unix://${socket.socket}`, '', 500)) !== 'SERVING') {
      if (Date.now() > until || serve.exitCode !== null) throw new Error('flmrun-js serve did not come up');
      await sleep(100);
    }
    client = connectInstance(`unix://${socket.socket}`);
    cacheClient = new CacheClient({ endpoint: cache.endpoint });
  });

  afterAll(async () => {
    client?.close();
    cacheClient?.close();
    if (serve && serve.exitCode === null) {
      const exited = new Promise((r) => serve.once('exit', r));
      serve.kill('SIGTERM');
      const force = setTimeout(() => serve.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(force);
    }
    await cache?.kill();
    if (socket) removeDir(socket.dir);
    if (workDir) removeDir(workDir);
  });

  it('every reply correct; RSS after warm-up stays within the bound', async () => {
    const enter = await client.enter({ session_id: 'soak', application: { name: 'soak-app', url: fixtureUrl('load') } });
    expect(enter.return_code).toBe(0);
    const samples: number[] = [];
    const sampleEvery = Math.max(1, Math.floor(TASKS / SAMPLES));
    const cleanEvery = Math.max(1000, Math.floor(TASKS / 10));
    let checked = 0;
    for (let i = 0; i < TASKS; i++) {
      const res = await client.invoke({ task_id: String(i), session_id: 'soak', input: encodeRunnerRequest({ method: 'sum', args: [i, 1], kwargs: null }) });
      if (res.return_code !== 0) throw new Error(`task ${i} failed: code ${res.return_code}: ${res.message}`);
      const ref = decodeObjectRef(res.output!);
      if (i % CHECK_EVERY === 0) {
        expect(decodeValue(await cacheClient.get(ref))).toBe(i + 1);
        checked++;
      }
      if ((i + 1) % sampleEvery === 0) samples.push(rssBytes(serve.pid!));
      if ((i + 1) % cleanEvery === 0) await cacheClient.delete('soak-app/soak');
    }
    expect((await client.leave()).return_code).toBe(0);
    expect(checked).toBe(Math.ceil(TASKS / CHECK_EVERY));

    const v = rssVerdict(samples);
    const report = `RSS first ${(v.first / MiB).toFixed(1)} MiB, last ${(v.last / MiB).toFixed(1)} MiB, limit ${(v.limit / MiB).toFixed(1)} MiB over ${TASKS} tasks`;
    process.stdout.write(`soak: ${report}\n`);
    expect(v.last).toBeLessThanOrEqual(v.limit);
  }, 3_600_000);
});
