/**
 * Locks shared by every flmrun-js process on one working directory, by name
 * (a content hash): proper-lockfile's `mkdir` locks, kept fresh while held, so
 * the lock of a process killed while holding it is taken over once stale.
 * Within one process the same name is also queued in memory, so that waiters
 * do not poll each other's lock directory.
 */
import path from 'node:path';
import lockfile from 'proper-lockfile';
import type { Logger } from '../log';

export const LOCK_PREFIX = '.flmrun-lock-';

/**
 * A holder refreshes its lock every STALE_MS / 4; one not refreshed for STALE_MS
 * belongs to a process that died (or stalled that long) and is taken over.
 */
const STALE_MS = 30_000;

export class WorkDirLocks {
  private readonly local = new Map<string, Promise<unknown>>();

  constructor(private readonly workDir: string, private readonly log: Logger) {}

  /** Runs `fn` holding the lock `name` in this process and across processes. */
  async with<T>(name: string, fn: () => Promise<T>): Promise<T> {
    const prior = this.local.get(name) ?? Promise.resolve();
    const run = prior.catch(() => undefined).then(() => this.crossProcess(name, fn));
    this.local.set(name, run);
    try {
      return await run;
    } finally {
      if (this.local.get(name) === run) this.local.delete(name);
    }
  }

  private async crossProcess<T>(name: string, fn: () => Promise<T>): Promise<T> {
    const lockPath = path.join(this.workDir, `${LOCK_PREFIX}${name}`);
    // proper-lockfile indexes held locks by the locked path: the lock's own path keeps names apart.
    const release = await lockfile.lock(lockPath, {
      lockfilePath: lockPath,
      realpath: false,
      stale: STALE_MS,
      update: STALE_MS / 4,
      // A build can hold a lock for minutes; its own deadlines (extract, npm) bound it.
      retries: { forever: true, minTimeout: 20, maxTimeout: 500, factor: 1.5, randomize: true },
      onCompromised: (err) => this.log.warn({ err, lock: lockPath }, 'a package lock was taken over by another process (this one stalled longer than the stale time)'),
    });
    try {
      return await fn();
    } finally {
      await release().catch((err: unknown) => this.log.warn({ err, lock: lockPath }, 'releasing a package lock failed'));
    }
  }

  /** Removes a lock directory left by a process that died holding it (once stale); a live lock is left alone. */
  async sweep(name: string): Promise<void> {
    const lockPath = path.join(this.workDir, `${LOCK_PREFIX}${name}`);
    try {
      const release = await lockfile.lock(lockPath, { lockfilePath: lockPath, realpath: false, stale: STALE_MS, retries: 0 });
      await release();
    } catch {
      // held, or already gone
    }
  }
}
