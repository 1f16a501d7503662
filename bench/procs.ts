/**
 * The processes a benchmark run starts: the object cache, the contenders
 * (flmrun-js, Flame's Python runner, the floor server) and their /proc
 * readings. Every process logs to bench/out/logs/<name>.log and is stopped
 * by its own pid.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

export const ROOT = path.resolve(__dirname, '..');
export const OUT = path.join(ROOT, 'bench', 'out');
export const CLI = path.join(ROOT, 'dist', 'cli.js');
const REGISTER = path.join(__dirname, 'register.js');

export interface Proc {
  name: string;
  pid: number;
  child: ChildProcess;
  stop(): Promise<void>;
}

const live = new Set<ChildProcess>();

/** A failed run must not leave runners behind: whatever is still running when we exit is killed. */
process.once('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});

function start(name: string, cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string } = {}): Proc {
  fs.mkdirSync(path.join(OUT, 'logs'), { recursive: true });
  const log = fs.openSync(path.join(OUT, 'logs', `${name}.log`), 'a');
  const child = spawn(cmd, args, { env: { ...process.env, ...opts.env }, cwd: opts.cwd, stdio: ['ignore', log, log] });
  fs.closeSync(log);
  if (child.pid === undefined) throw new Error(`could not start ${name}: ${cmd}`);
  live.add(child);
  const exited = new Promise<void>((resolve) =>
    child.once('exit', () => {
      live.delete(child);
      resolve();
    }),
  );
  return {
    name,
    pid: child.pid,
    child,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(killer);
    },
  };
}

async function waitFor(what: string, proc: Proc, ready: () => boolean | Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await ready())) {
    if (proc.child.exitCode !== null) throw new Error(`${proc.name} exited (code ${proc.child.exitCode}) before ${what}; see bench/out/logs/${proc.name}.log`);
    if (Date.now() > until) throw new Error(`${proc.name}: no ${what} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Whether something accepts connections on the Unix socket (the file alone appears before the server listens). */
function accepting(socket: string): Promise<boolean> {
  if (!fs.existsSync(socket)) return Promise.resolve(false);
  return new Promise((resolve) => {
    const s = net.connect(socket);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

const tempDirs = new Set<string>();

/** A fresh directory under the OS temp dir, removed by removeTempDirs() (or at exit at the latest). */
export function tempDir(prefix: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `flmrun-bench-${prefix}-`));
  if (tempDirs.size === 0) process.once('exit', removeTempDirs);
  tempDirs.add(dir);
  return dir;
}

export function removeTempDirs(): void {
  for (const dir of tempDirs) fs.rmSync(dir, { recursive: true, force: true });
  tempDirs.clear();
}

/** What `flmrun-js cache` runs with here and in docker-compose.yml (README, "Large buffers"), unless GLIBC_TUNABLES is set. */
const CACHE_GLIBC_TUNABLES = 'glibc.malloc.hugetlb=1';

/** `flmrun-js cache` on a free loopback port; resolves with its grpc:// endpoint (read from its log line). */
export async function startCache(): Promise<Proc & { endpoint: string }> {
  const logFile = path.join(OUT, 'logs', 'cache.log');
  fs.rmSync(logFile, { force: true });
  const proc = start('cache', process.execPath, [CLI, 'cache', '--listen', '127.0.0.1:0', '--max-memory', String(6 * 1024 ** 3)], {
    // glibc's huge pages for the cache server's large buffers, as docker-compose.yml gives its object-cache service.
    env: { FLAME_LOG: 'info', GLIBC_TUNABLES: process.env.GLIBC_TUNABLES ?? CACHE_GLIBC_TUNABLES },
  });
  let endpoint = '';
  await waitFor('its endpoint', proc, () => {
    const m = /"endpoint":"(grpc:\/\/[^"]+)"/.exec(fs.existsSync(logFile) ? fs.readFileSync(logFile, 'utf8') : '');
    endpoint = m?.[1] ?? '';
    return endpoint !== '';
  });
  return { ...proc, endpoint };
}

export interface FlmrunOptions {
  cacheEndpoint: string;
  workDir: string;
  keepExtracted?: boolean;
  /** Writes a V8 CPU profile of each process's main thread here on exit (bench/cpu-prof-preload.js). */
  cpuProfDir?: string;
  /** Loads bench/diag-preload.js, which appends event-loop delay samples to this file. */
  diagFile?: string;
  name?: string;
  /** 'grpc-js': the runner's cache client on grpc-js (FLMRUN_CACHE_TRANSPORT), the baseline of its own HTTP/2 transport. */
  cacheTransport?: 'grpc-js';
  /** Another build's dist/cli.js (a before/after comparison in one run); default this checkout's. */
  cli?: string;
  /** More `serve` flags (bench/packages.ts: --no-spare-process for its A/B rounds). */
  serveArgs?: string[];
  /** More environment (bench/deps.ts: a PATH whose `npm` counts its runs). */
  env?: NodeJS.ProcessEnv;
}

export async function startFlmrun(o: FlmrunOptions, logLevel: string): Promise<Proc & { socket: string }> {
  const socket = path.join(tempDir('sock'), 'flmrun.sock');
  // Through NODE_OPTIONS rather than node's arguments, so that the session process (user code runs there; it is
  // started with an execArgv of its own) is profiled and sampled too.
  const nodeOptions: string[] = [];
  if (o.cpuProfDir) nodeOptions.push(`--require=${path.join(__dirname, 'cpu-prof-preload.js')}`);
  if (o.diagFile) nodeOptions.push(`--require=${path.join(__dirname, 'diag-preload.js')}`);
  const args = [o.cli ?? CLI, 'serve', '--socket', socket, '--cache', o.cacheEndpoint, '--work-dir', o.workDir, '--log-level', logLevel];
  if (o.keepExtracted) args.push('--keep-extracted');
  if (o.serveArgs) args.push(...o.serveArgs);
  const proc = start(o.name ?? 'flmrun-js', process.execPath, args, {
    env: {
      ...o.env,
      ...(nodeOptions.length ? { NODE_OPTIONS: [process.env.NODE_OPTIONS, ...nodeOptions].filter(Boolean).join(' ') } : {}),
      ...(o.cpuProfDir ? { FLMRUN_BENCH_CPU_PROF_DIR: o.cpuProfDir } : {}),
      ...(o.diagFile ? { FLMRUN_BENCH_DIAG_FILE: o.diagFile } : {}), ...(o.cacheTransport ? { FLMRUN_CACHE_TRANSPORT: o.cacheTransport } : {}) },
  });
  await waitFor('its socket', proc, () => accepting(socket));
  return { ...proc, socket };
}

/** Flame's Python runner as Flame starts it: `python -m flamepy.runner.runpy` with the two endpoints in its environment. */
export async function startPythonRunner(python: string, cacheEndpoint: string, logLevel: string): Promise<Proc & { socket: string }> {
  const dir = tempDir('py');
  const socket = path.join(dir, 'runpy.sock');
  // HOME points at an empty dir so that no ~/.flame/flame.yaml overrides the environment.
  const proc = start('python-runner', python, ['-m', 'flamepy.runner.runpy'], {
    cwd: dir,
    env: { FLAME_INSTANCE_ENDPOINT: socket, FLAME_CACHE_ENDPOINT: cacheEndpoint, FLAME_LOG: logLevel, HOME: dir },
  });
  await waitFor('its socket', proc, () => accepting(socket));
  return { ...proc, socket };
}

/** The floor: bench/floor-server.ts (a bare Instance server that does one DoPut per task). */
export type FloorMode = 'put' | 'echo' | 'child' | 'child-raw';

export async function startFloor(cacheEndpoint: string, mode: FloorMode = 'put'): Promise<Proc & { socket: string }> {
  const socket = path.join(tempDir('floor'), 'floor.sock');
  const args = ['-r', REGISTER, path.join(__dirname, 'floor-server.ts'), socket, cacheEndpoint, ...(mode === 'put' ? [] : [mode])];
  const proc = start(mode === 'put' ? 'floor' : `floor-${mode}`, process.execPath, args);
  await waitFor('its socket', proc, () => accepting(socket));
  return { ...proc, socket };
}

/** A spawned helper script; resolves with its stdout. */
export function run(cmd: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => err.push(d));
    child.once('error', reject);
    child.once('exit', (code) =>
      code === 0 ? resolve(Buffer.concat(out).toString()) : reject(new Error(`${cmd} ${args.slice(0, 2).join(' ')} failed (${code}): ${Buffer.concat(err).toString().slice(-2000)}`)),
    );
  });
}

/**
 * VmRSS and VmHWM (peak) of a process and all its descendants, in bytes
 * (threads share their process's figures). flmrun-js runs user code in a
 * session process of its own, so the serve process alone would leave out
 * where results are made. The peaks are summed: an upper bound of the peak the
 * processes reached together.
 */
export function memory(pid: number): { rss: number; peak: number } {
  let rss = 0;
  let peak = 0;
  for (const p of withDescendants(pid)) {
    let status: string;
    try {
      status = fs.readFileSync(`/proc/${p}/status`, 'utf8');
    } catch {
      continue; // gone meanwhile
    }
    const kib = (field: string): number => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN) * 1024;
    rss += kib('VmRSS');
    peak += kib('VmHWM');
  }
  return { rss, peak };
}

/** `pid` and every process below it (from /proc/<pid>/task/<tid>/children). */
export function withDescendants(pid: number): number[] {
  const out = [pid];
  for (let i = 0; i < out.length; i++) {
    let tasks: string[];
    try {
      tasks = fs.readdirSync(`/proc/${out[i]}/task`);
    } catch {
      continue;
    }
    for (const t of tasks) {
      try {
        for (const c of fs.readFileSync(`/proc/${out[i]}/task/${t}/children`, 'utf8').trim().split(/\s+/)) if (c) out.push(Number(c));
      } catch {
        // the thread ended meanwhile
      }
    }
  }
  return out;
}

/** Resets VmHWM to the current RSS (Linux: `5` into /proc/<pid>/clear_refs) in the process and its descendants, so the next peak is this step's. */
export function resetPeak(pid: number): void {
  for (const p of withDescendants(pid)) {
    try {
      fs.writeFileSync(`/proc/${p}/clear_refs`, '5');
    } catch {
      // gone meanwhile
    }
  }
}
