/** Messages between a SessionWorker (main thread) and its worker thread. */
import type { SessionSpec } from './session-worker';

/** workerData of a session worker. */
export interface WorkerInit {
  spec: SessionSpec;
  cacheEndpoint: string;
  caFile?: string;
  /** Deadline of each cache call (CacheClient deadlineMs); undefined = its default. */
  cacheDeadlineMs?: number;
  refConcurrency: number;
  /** pino level and bindings of the main thread's logger; log lines travel back as messages. */
  logLevel: string;
  logBindings: Record<string, unknown>;
  /** Latest persisted state known to the session; wins over the context's own `state`. */
  state?: Uint8Array;
}

export interface TaskOutcome {
  returnCode: number;
  output?: Buffer;
  message?: string;
}

export type ToWorker =
  | { type: 'invoke'; taskId: string; input?: Uint8Array }
  | { type: 'abort'; taskId: string; reason: string }
  | { type: 'leave'; reason: string };

export type FromWorker =
  | { type: 'ready' }
  | { type: 'failed'; code: string; message: string }
  | { type: 'done'; taskId: string; returnCode: number; output?: Uint8Array; message?: string; state?: Uint8Array }
  | { type: 'left' }
  | { type: 'log'; line: string };

/**
 * A buffer ready to be transferred to the other thread: itself when it spans
 * its whole ArrayBuffer, else a copy of just its bytes. postMessage clones a
 * view by cloning its whole ArrayBuffer (a pooled Buffer's 8 KiB slab, the
 * gRPC message a task input was sliced from), so copying the view and
 * transferring the copy moves fewer bytes.
 */
export function transferable(b: Uint8Array): Uint8Array {
  // new Uint8Array(view) copies into a fresh ArrayBuffer. (Buffer#slice would
  // not: it is a view, so the copy "transferred" would be Node's shared
  // Buffer pool slab, which hangs the receiving side on Node 22.)
  return b.byteOffset === 0 && b.byteLength === b.buffer.byteLength && b.buffer instanceof ArrayBuffer ? b : new Uint8Array(b);
}
