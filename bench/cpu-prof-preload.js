// Loaded into `flmrun-js serve` and its session process by the profiling bench (NODE_OPTIONS=--require=…; node's own
// --cpu-prof is not allowed in NODE_OPTIONS, and the session process is started with an execArgv of its own). Profiles
// the main thread with the inspector's sampling profiler and writes CPU.<pid>.<thread 0>.cpuprofile-style files
// (the names bench/profile.ts parses) into $FLMRUN_BENCH_CPU_PROF_DIR on SIGUSR2 or when the process exits. Nothing in src/ knows about it.
const dir = process.env.FLMRUN_BENCH_CPU_PROF_DIR;
const { isMainThread } = require('node:worker_threads');
if (dir && isMainThread) {
  const fs = require('node:fs');
  const path = require('node:path');
  const inspector = require('node:inspector');
  const session = new inspector.Session();
  session.connect();
  // An in-process session answers synchronously, so the profile can be taken in an 'exit' handler.
  session.post('Profiler.enable');
  session.post('Profiler.setSamplingInterval', { interval: 1000 });
  session.post('Profiler.start');
  let written = false;
  const write = () => {
    if (written) return;
    written = true;
    session.post('Profiler.stop', (err, res) => {
      if (!err) fs.writeFileSync(path.join(dir, `CPU.0.0.${process.pid}.0.0.cpuprofile`), JSON.stringify(res.profile));
    });
  };
  process.on('exit', write);
  // The session process ends by SIGKILL when its session leaves: the bench asks for the profile first (SIGUSR2).
  process.on('SIGUSR2', write);
}
