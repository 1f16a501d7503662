/**
 * Why a session child ended, as data: the supervisor decides what to tell
 * the task and whether to enter the session again from this, never from
 * message text.
 */

/** process.abort() in the child exits with this code (SIGABRT is left to V8's out-of-memory abort). */
export const ABORT_EXIT_CODE = 134;

/** Why the supervisor itself ended a child. */
export type KillReason =
  | { kind: 'leave'; reason: string }
  | { kind: 'start-timeout'; ms: number }
  | { kind: 'enter-failed' }
  /** The caller of session enter gave up while the module was loading. */
  | { kind: 'abandoned' }
  /** A message did not fit the channel's frame (src/runner/frames.ts). */
  | { kind: 'too-large'; bytes: number };

export type ChildEnd =
  /** V8 aborted the process: its heap limit was reached. */
  | { kind: 'oom' }
  /** User code threw (or rejected) where nobody caught it; the message is already in docs/protocol.md §2 form. */
  | { kind: 'uncaught'; message: string }
  /** User code called process.exit (or the child left on its own). */
  | { kind: 'exit'; code: number }
  /** A task ran past its timeout and did not stop within the grace after its signal fired. */
  | { kind: 'timeout'; ms: number }
  /** Ended by the supervisor for another reason. */
  | { kind: 'killed'; for: KillReason }
  /** A signal from outside flmrun-js (the kernel's OOM killer sends SIGKILL). */
  | { kind: 'signal'; signal: string };

/** What a task that was running when the child ended is told (code 1). */
export function describeEnd(end: ChildEnd, heapMb: number | undefined): string {
  switch (end.kind) {
    case 'oom':
      return `the session process ran out of memory (heap limit ${heapMb === undefined ? "Node's default" : `${heapMb} MB`}, --worker-heap-mb)`;
    case 'uncaught':
      return `uncaught exception in user code: ${end.message}`;
    case 'exit':
      return end.code === ABORT_EXIT_CODE ? 'user code called process.abort()' : `user code called process.exit(${end.code})`;
    case 'timeout':
      return `task timed out after ${end.ms} ms`;
    case 'killed':
      switch (end.for.kind) {
        case 'leave':
          return `task aborted: session left (${end.for.reason}) while the task was running`;
        case 'start-timeout':
          return `the module did not finish loading within ${end.for.ms} ms`;
        case 'enter-failed':
          return 'the session could not be entered';
        case 'abandoned':
          return 'the caller gave up while the session was being entered';
        case 'too-large':
          return `a message of ${end.for.bytes} bytes does not fit the channel to the session process`;
      }
      break;
    case 'signal':
      return `the session process was killed by ${end.signal} from outside flmrun-js (the kernel's out-of-memory killer sends SIGKILL)`;
  }
  return 'the session process ended';
}

/** Whether the supervisor enters the session again in a new child after this end. */
export function restartsAfter(end: ChildEnd): boolean {
  return end.kind !== 'killed';
}
