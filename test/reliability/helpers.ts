/**
 * Shared pieces of the reliability suites: an external object cache in its own
 * process (so it can really be killed), resource counts for leak checks, and
 * the faulty-code fixtures.
 */
import fs from 'node:fs';
import path from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { liveSessionChildren } from '../../src/runner/supervisor';
import { idleSpareProcesses } from '../../src/runner/spare-process';

export const ROOT = path.resolve(__dirname, '..', '..');
export const CLI = path.join(ROOT, 'dist', 'cli.js');
export const RELIABILITY_FIXTURES = path.join(__dirname, 'fixtures');

export function fixtureUrl(name: string): string {
  return `file://${path.join(RELIABILITY_FIXTURES, name)}`;
}

/** `flmrun-js cache` in a child process on a fixed loopback port: start, SIGKILL, start again. */
export class CacheProcess {
  private child: ChildProcess | undefined;

  constructor(readonly port: number) {}

  get endpoint(): string {
    return `grpc://127.0.0.1:${this.port}`;
  }

  /** Resolves once the cache logs that it serves; rejects (and kills it) after timeoutMs. */
  async start(timeoutMs = 15_000): Promise<void> {
    if (this.child) throw new Error('cache process already running');
    const child = spawn(process.execPath, [CLI, 'cache', '--listen', `127.0.0.1:${this.port}`], {
      env: { ...process.env, FLAME_LOG: 'info' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    let output = '';
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error(`cache did not start within ${timeoutMs} ms: ${output}`));
      }, timeoutMs);
      const onData = (b: Buffer): void => {
        output += b.toString();
        if (output.includes('object cache serving')) {
          clearTimeout(timer);
          resolve();
        }
      };
      child.stdout!.on('data', onData);
      child.stderr!.on('data', onData);
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`cache exited with ${code} before serving: ${output}`));
      });
    });
    child.removeAllListeners('exit');
  }

  /** SIGKILL: no goodbye to connected clients, as a crashed or OOM-killed cache. */
  async kill(): Promise<void> {
    const child = this.child;
    this.child = undefined;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await exited;
  }
}

/** Open file descriptors of this process, and how many of them are sockets (Linux /proc). */
export function openHandles(): { fds: number; sockets: number } {
  let fds = 0;
  let sockets = 0;
  for (const fd of fs.readdirSync('/proc/self/fd')) {
    let target: string;
    try {
      target = fs.readlinkSync(`/proc/self/fd/${fd}`);
    } catch {
      continue; // the fd of the readdir itself, closed meanwhile
    }
    fds++;
    if (target.startsWith('socket:')) sockets++;
  }
  return { fds, sockets };
}

export interface ResourceCounts {
  threads: number;
  fds: number;
  sockets: number;
}

export function resourceCounts(): ResourceCounts {
  // An instance's idle spare session process (src/runner/spare-process.ts) is meant to be there.
  return { threads: liveSessionChildren() - idleSpareProcesses(), ...openHandles() };
}

/**
 * Waits (bounded) until the counts are back at or below the baseline: worker
 * threads exit and sockets close asynchronously, so one immediate sample
 * would fail a correct program. Answers the last sample either way.
 */
export async function settledCounts(baseline: ResourceCounts, timeoutMs = 10_000): Promise<ResourceCounts> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const now = resourceCounts();
    const settled = now.threads <= baseline.threads && now.fds <= baseline.fds && now.sockets <= baseline.sockets;
    if (settled || Date.now() > until) return now;
    await new Promise((r) => setTimeout(r, 100));
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
