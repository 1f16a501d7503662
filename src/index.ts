/**
 * flmrun-js's public entry for user code running inside the runner.
 *
 * ```ts
 * import { currentTask } from 'flmrun-js';
 * export async function work(n: number) {
 *   const task = currentTask();
 *   task?.logger.info({ n }, 'working');
 *   await doSomething({ signal: task?.signal });
 * }
 * ```
 *
 * Inside the runner's worker, `flmrun-js` resolves to the runner's own copy
 * of this module even when the user's package does not depend on it (both
 * `require` and `import`), so the task context always matches the runner.
 * Keyword arguments sent by a Python client arrive as one trailing plain
 * object after the positional arguments.
 *
 * Stateful contexts persist the execution object's own enumerable,
 * non-function properties (structured clone: class instances inside come
 * back as plain objects) after every task that changed them. A context given
 * by ObjectRef is written back to the cache, so its state outlives the
 * session; a context given inline in the session's common data has nowhere
 * to be written, so its state survives only worker restarts within the
 * session (a crash, a timeout), never the session itself.
 */
export { currentTask } from './runner/task-context';
export type { TaskInfo } from './runner/task-context';
