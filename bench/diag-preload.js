// Loaded into `flmrun-js serve` and its session process by the steady-state benchmark (NODE_OPTIONS=--require=…),
// and, because workers inherit execArgv, into their worker threads too: every second each thread
// appends its event-loop delay (perf_hooks.monitorEventLoopDelay, ms) and the process RSS to
// $FLMRUN_BENCH_DIAG_FILE as one JSON line; main threads add their V8 heap (`heap`: process.memoryUsage(), and
// `spaces`: each heap space's used / physical MiB, where section 6 saw the young generation grow). Nothing in src/
// knows about it.
const file = process.env.FLMRUN_BENCH_DIAG_FILE;
if (file) {
  const fs = require('node:fs');
  const { monitorEventLoopDelay } = require('node:perf_hooks');
  const { isMainThread, threadId, workerData } = require('node:worker_threads');
  // Both flmrun-js processes load this (bench/procs.ts passes it in NODE_OPTIONS): serve, and the session
  // process that runs user code (its entry is runner/child-entry). Other threads are Node's own, e.g. the
  // module customization hooks thread (module.register, see src/runner/module-alias.ts).
  const proc = /child-entry\.[jt]s$/.test(process.argv[1] || '') ? 'session process' : 'serve';
  // A worker thread's argv is not its process's: name it by pid.
  const thread = isMainThread ? proc : `${workerData && typeof workerData === 'object' && Object.keys(workerData).length > 0 ? 'worker' : 'module-hooks'} thread ${threadId} (pid ${process.pid})`;
  fs.appendFileSync(file, `${JSON.stringify({ thread, pid: process.pid, tid: threadId })}\n`);
  const RESOLUTION_MS = 10;
  const h = monitorEventLoopDelay({ resolution: RESOLUTION_MS });
  h.enable();
  // The histogram records the whole interval between two samples; the delay is what exceeds the resolution.
  const ms = (ns) => Math.max(0, Math.round(ns / 1e3) / 1e3 - RESOLUTION_MS);
  setInterval(() => {
    const line = { thread, pid: process.pid, tid: threadId, t: Date.now(), p50: ms(h.percentile(50)), p99: ms(h.percentile(99)), max: ms(h.max), rss: process.memoryUsage.rss() };
    if (isMainThread) {
      line.heap = process.memoryUsage();
      const mib = (n) => Math.round(n / 2 ** 17) / 8;
      line.spaces = Object.fromEntries(require('node:v8').getHeapSpaceStatistics().map((x) => [x.space_name, `${mib(x.space_used_size)}/${mib(x.physical_space_size)}`]));
    }
    fs.appendFileSync(file, `${JSON.stringify(line)}\n`);
    h.reset();
  }, 1000).unref();
}
