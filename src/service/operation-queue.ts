/**
 * The instance's one queue: session enters, tasks and leaves run one at a
 * time, in arrival order. An operation whose caller gave up before it
 * started is dropped (its bytes freed at once); the bytes of task inputs held
 * here are bounded, so that clients cannot queue the process out of memory.
 */

/** Why a task is refused when the queue holds its limit (said the same way before and after its body is read). */
export function queueFullReason(heldBytes: number, maxBytes: number): string {
  const mib = (n: number): string => `${(n / 2 ** 20).toFixed(0)} MiB`;
  return `the instance already holds ${mib(heldBytes)} of task input (limit ${mib(maxBytes)}, maxQueuedBytes); send it again later`;
}

import type { CancelSignal } from '../runner/supervisor';

export interface Operation<T> {
  /** Bytes this operation holds while queued and running (a task's input). */
  bytes?: number;
  /** The caller gave up: if the operation has not started, it never does. */
  signal?: CancelSignal;
  run(): Promise<T>;
  /** The answer of an operation dropped before it started. */
  cancelled(): T;
  /** The answer of an operation refused because the queue holds too many bytes. */
  refused(heldBytes: number, maxBytes: number): T;
}

interface Entry {
  bytes: number;
  start(): Promise<void>;
}

export class OperationQueue {
  private readonly entries: Entry[] = [];
  private running: Entry | undefined;
  private queuedBytes = 0;
  private idleWaiters: (() => void)[] = [];

  /** maxBytes: bound on the input bytes held (queued and running); one operation alone is always admitted. */
  constructor(private readonly maxBytes: number) {}

  /** Input bytes held by queued and running operations. */
  get heldBytes(): number {
    return this.queuedBytes + (this.running?.bytes ?? 0);
  }

  run<T>(op: Operation<T>): Promise<T> {
    const bytes = op.bytes ?? 0;
    if (op.signal?.aborted) return Promise.resolve(op.cancelled());
    const held = this.heldBytes;
    if (bytes > 0 && held > 0 && held + bytes > this.maxBytes) return Promise.resolve(op.refused(held, this.maxBytes));
    if (!this.running && this.entries.length === 0) {
      // Starts at once, so no listener for its caller giving up while queued (a task's common case).
      let result!: Promise<T>;
      this.running = {
        bytes,
        start: () => {
          try {
            result = op.run();
          } catch (err) {
            result = Promise.reject(err);
          }
          return result.then(ignore, ignore);
        },
      };
      this.start(this.running);
      return result;
    }
    return new Promise<T>((resolve, reject) => {
      const onAbort = (): void => {
        const i = this.entries.indexOf(entry);
        if (i < 0) return;
        this.entries.splice(i, 1);
        this.queuedBytes -= bytes;
        resolve(op.cancelled());
        this.notifyIdle();
      };
      const entry: Entry = {
        bytes,
        start: () => {
          op.signal?.removeEventListener('abort', onAbort);
          return op.run().then(resolve, reject);
        },
      };
      op.signal?.addEventListener('abort', onAbort, { once: true });
      this.entries.push(entry);
      this.queuedBytes += bytes;
      this.pump();
    });
  }

  /** Resolves once nothing is queued or running. */
  idle(): Promise<void> {
    if (!this.running && this.entries.length === 0) return Promise.resolve();
    return new Promise<void>((resolve) => this.idleWaiters.push(resolve));
  }

  private pump(): void {
    if (this.running) return;
    const next = this.entries.shift();
    if (!next) return this.notifyIdle();
    this.queuedBytes -= next.bytes;
    this.running = next;
    this.start(next);
  }

  private start(entry: Entry): void {
    void entry.start().finally(() => {
      this.running = undefined;
      this.pump();
    });
  }

  private notifyIdle(): void {
    if (this.running || this.entries.length > 0) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }
}

const ignore = (): void => undefined;
