#!/usr/bin/env node
// Soak with memory figures (docs/node24-memory.md): runs `flmrun-js serve` on a
// chosen Node binary with chosen V8 flags against a cache process, drives TASKS
// sequential tasks, prints the RSS of the serve process and of its session
// process (where user code runs) 20 times along the way, and
// keeps its --trace-gc output (one line per GC, per isolate: main thread and the
// session worker) in .test-results/soak-rss/<label>.gc.txt. Needs `npm run build`.
//   node scripts/soak-rss.js NODE_BIN TASKS LABEL [node flags for serve...]
//   e.g. node scripts/soak-rss.js "$(bash scripts/node-version.sh 24)/node" 20000 n24 --trace-gc
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const root = path.join(__dirname, '..');
const dist = path.join(root, 'dist');
const { CacheClient } = require(`${dist}/cache/client`);
const { encodeRunnerRequest } = require(`${dist}/codecs`);
const { checkHealth } = require(`${dist}/cli/health`);
const { connectInstance } = require(`${dist}/service/protos`);

const [nodeBin, tasksText, label, ...flags] = process.argv.slice(2);
const TASKS = Number(tasksText);
if (!nodeBin || !(TASKS >= 20) || !label) {
  console.error('usage: node scripts/soak-rss.js NODE_BIN TASKS LABEL [node flags for serve...]');
  process.exit(2);
}
const rssMiB = (pid) => Number(/^VmRSS:\s+(\d+) kB$/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))[1]) / 1024;
/** The serve process's children (the session's process; user code runs there). */
const childPids = (pid) => {
  try {
    return fs.readdirSync(`/proc/${pid}/task`).flatMap((t) => fs.readFileSync(`/proc/${pid}/task/${t}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number));
  } catch {
    return [];
  }
};
const childRss = (pid) => childPids(pid).map((c) => { try { return rssMiB(c); } catch { return 0; } }).reduce((a, b) => a + b, 0);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const freePort = () => new Promise((resolve) => {
  const srv = require('node:net').createServer().listen(0, '127.0.0.1', () => {
    const { port } = srv.address();
    srv.close(() => resolve(port));
  });
});

(async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'flmrun-soak-rss-'));
  const results = path.join(root, '.test-results', 'soak-rss');
  fs.mkdirSync(results, { recursive: true });
  const port = await freePort();
  const env = { ...process.env, FLAME_LOG: 'warn' };
  const cache = spawn(process.execPath, [`${dist}/cli.js`, 'cache', '--listen', `127.0.0.1:${port}`], { stdio: 'ignore', env });
  const socket = path.join(dir, 'instance.sock');
  const gcLog = fs.openSync(path.join(results, `${label}.gc.txt`), 'w');
  const serve = spawn(nodeBin, [...flags, `${dist}/cli.js`, 'serve', '--socket', socket, '--cache', `grpc://127.0.0.1:${port}`, '--work-dir', dir],
    { stdio: ['ignore', gcLog, 'inherit'], env });
  try {
    while ((await checkHealth(`unix://${socket}`, '', 500)) !== 'SERVING') {
      if (serve.exitCode !== null) throw new Error('serve exited');
      await sleep(200);
    }
    const client = connectInstance(`unix://${socket}`);
    const cacheClient = new CacheClient({ endpoint: `grpc://127.0.0.1:${port}` });
    const url = `file://${path.join(root, 'test', 'reliability', 'fixtures', 'load')}`;
    const entered = await client.enter({ session_id: 'soak', application: { name: 'soak-app', url } });
    if (entered.return_code !== 0) throw new Error(entered.message);
    const started = Date.now();
    for (let i = 0; i < TASKS; i++) {
      const res = await client.invoke({ task_id: String(i), session_id: 'soak', input: encodeRunnerRequest({ method: 'sum', args: [i, 1], kwargs: null }) });
      if (res.return_code !== 0) throw new Error(`task ${i}: ${res.message}`);
      if ((i + 1) % Math.floor(TASKS / 20) === 0) {
        console.log(`${label}: ${i + 1} tasks, RSS serve ${rssMiB(serve.pid).toFixed(1)} MiB, session process ${childRss(serve.pid).toFixed(1)} MiB, ${((Date.now() - started) / 1000).toFixed(0)} s`);
      }
      // The results are not what is measured: keep the cache process small.
      if ((i + 1) % 2000 === 0) await cacheClient.delete('soak-app/soak');
    }
    await client.leave();
    client.close();
    cacheClient.close();
  } finally {
    serve.kill('SIGTERM');
    cache.kill('SIGTERM');
    await sleep(1000);
    fs.rmSync(dir, { recursive: true, force: true });
  }
})().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
