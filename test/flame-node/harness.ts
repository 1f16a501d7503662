/**
 * What Flame's executor manager does to an instance (docs/protocol.md §1), as a test tool:
 * start `node dist/cli.js serve` with FLAME_INSTANCE_ENDPOINT in a socket
 * directory and the working directory as cwd (stdout/stderr to
 * `<workdir>/<executor-id>.out/.err`), poll until the socket path exists,
 * then connect exactly once: a failed first call is a failed bind.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { connectInstance, type InstanceClient } from '../../src/service/protos';

export const CLI = path.join(__dirname, '..', '..', 'dist', 'cli.js');

/** Only a hang guard: nothing waits this long unless something is broken. */
export const HANG_GUARD_MS = 180_000;

export interface Executor {
  id: string;
  socket: string;
  child: ChildProcess;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Set once the socket path exists and the first call was made on it. */
  client?: InstanceClient;
}

const everyExecutor: Executor[] = [];

/** For afterAll: no process of a failed test outlives it. */
export function killAll(): void {
  for (const e of everyExecutor) {
    e.client?.close();
    if (e.child.exitCode === null && e.child.signalCode === null) e.child.kill('SIGKILL');
  }
}

export function startExecutor(id: string, workDir: string, socketDir: string, env: NodeJS.ProcessEnv, socketName = id): Executor {
  const socket = path.join(socketDir, `${socketName}.sock`);
  // Flame truncates the log files when it opens them again.
  const out = fs.openSync(path.join(workDir, `${id}.out`), 'w');
  const err = fs.openSync(path.join(workDir, `${id}.err`), 'w');
  const child = spawn(process.execPath, [CLI, 'serve'], {
    cwd: workDir,
    env: { ...process.env, ...env, FLAME_INSTANCE_ENDPOINT: socket },
    stdio: ['ignore', out, err],
  });
  fs.closeSync(out);
  fs.closeSync(err);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
  });
  const e: Executor = { id, socket, child, exited };
  everyExecutor.push(e);
  return e;
}

/** Polls for the socket path as the executor manager does (it spins; we poll every few ms). */
export async function waitForSocket(e: Executor): Promise<void> {
  const until = Date.now() + HANG_GUARD_MS;
  let exitedEarly = false;
  void e.exited.then(() => { exitedEarly = true; });
  while (!fs.existsSync(e.socket)) {
    if (exitedEarly) throw new Error(`${e.id} exited before its socket appeared (see its .err)`);
    if (Date.now() > until) throw new Error(`${e.id}: no socket after ${HANG_GUARD_MS} ms`);
    await new Promise((r) => setTimeout(r, 2));
  }
  e.client = connectInstance(`unix://${e.socket}`);
}

export async function stop(e: Executor, signal: NodeJS.Signals = 'SIGTERM'): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  e.client?.close();
  if (e.child.exitCode === null && e.child.signalCode === null) e.child.kill(signal);
  return e.exited;
}

/** Waits until `file` exists (a task announcing it started). */
export async function waitForFile(file: string): Promise<void> {
  const until = Date.now() + HANG_GUARD_MS;
  while (!fs.existsSync(file)) {
    if (Date.now() > until) throw new Error(`${file} did not appear`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Counts log lines with this msg across every executor's .err in workDir. */
export function countLogLines(workDir: string, msg: string): number {
  let n = 0;
  for (const f of fs.readdirSync(workDir).filter((name) => name.endsWith('.err'))) {
    for (const line of fs.readFileSync(path.join(workDir, f), 'utf8').split('\n')) {
      if (!line.startsWith('{')) continue;
      try {
        if ((JSON.parse(line) as { msg?: string }).msg === msg) n++;
      } catch {
        // not a log line
      }
    }
  }
  return n;
}
