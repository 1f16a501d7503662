// Loaded into `flmrun-js serve` by the steady-state benchmark (`node -r bench/diag-preload.js`),
// and, because workers inherit execArgv, into its session worker too: every second each thread
// appends its event-loop delay (perf_hooks.monitorEventLoopDelay, ms) and the process RSS to
// $FLMRUN_BENCH_DIAG_FILE as one JSON line. Nothing in src/ knows about it.
const file = process.env.FLMRUN_BENCH_DIAG_FILE;
if (file) {
  const fs = require('node:fs');
  const { monitorEventLoopDelay } = require('node:perf_hooks');
  const { isMainThread, threadId, workerData } = require('node:worker_threads');
  // flmrun-js gives its session worker a workerData object; the other worker thread Node starts itself
  // for module customization hooks (module.register, see src/runner/module-alias.ts).
  const role = isMainThread ? 'main' : workerData && typeof workerData === 'object' && Object.keys(workerData).length > 0 ? 'session worker' : 'module-hooks thread';
  const thread = isMainThread ? 'main' : `${role} (thread ${threadId})`;
  fs.appendFileSync(file, `${JSON.stringify({ thread, tid: threadId })}\n`);
  const RESOLUTION_MS = 10;
  const h = monitorEventLoopDelay({ resolution: RESOLUTION_MS });
  h.enable();
  // The histogram records the whole interval between two samples; the delay is what exceeds the resolution.
  const ms = (ns) => Math.max(0, Math.round(ns / 1e3) / 1e3 - RESOLUTION_MS);
  setInterval(() => {
    const line = { thread, tid: threadId, t: Date.now(), p50: ms(h.percentile(50)), p99: ms(h.percentile(99)), max: ms(h.max), rss: process.memoryUsage.rss() };
    fs.appendFileSync(file, `${JSON.stringify(line)}\n`);
    h.reset();
  }, 1000).unref();
}
