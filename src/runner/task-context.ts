/**
 * What user code can learn about the task it is running: `currentTask()`.
 *
 * Backed by one AsyncLocalStorage per process, kept on `globalThis` under a
 * registered symbol so that every copy of this module in the session process (the
 * runner's own, a user package's own `flmrun-js` dependency, a CJS and an ESM
 * load of it) sees the same store.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { Logger } from 'pino';

export interface TaskInfo {
  /** Flame's task id. */
  readonly taskId: string;
  /** Flame's session id. */
  readonly sessionId: string;
  /** The application name (results are stored under `<appName>/<sessionId>`). */
  readonly appName: string;
  /** Fires when the task times out, its caller gives up (cancels, or its deadline passes), the session leaves, or the runner shuts down. */
  readonly signal: AbortSignal;
  /** A pino logger bound to the session and task ids. */
  readonly logger: Logger;
}

const STORE_KEY = Symbol.for('flmrun-js.taskContext');

function storage(): AsyncLocalStorage<TaskInfo> {
  const g = globalThis as { [STORE_KEY]?: AsyncLocalStorage<TaskInfo> };
  return (g[STORE_KEY] ??= new AsyncLocalStorage<TaskInfo>());
}

/**
 * The task this call runs for, or undefined outside a task (at module load,
 * in a constructor, in callbacks scheduled outside the task's async chain).
 */
export function currentTask(): TaskInfo | undefined {
  return storage().getStore();
}

/** Runs `fn` with `info` as the current task (the runner's side). */
export function runInTask<T>(info: TaskInfo, fn: () => T): T {
  return storage().run(info, fn);
}
