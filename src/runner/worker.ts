/**
 * Entry of a session's worker thread (loaded from dist/ by SessionWorker).
 * Enters the session from workerData, then serves the main thread's
 * messages one task at a time. Everything user code can do wrong stays in
 * this thread: the main thread only supervises.
 */
import { parentPort, workerData } from 'node:worker_threads';
import pino from 'pino';
import { FlmError, ErrorCode } from '../errors';
import { createRuntimeDeps } from './deps';
import { installModuleAlias } from './module-alias';
import { transferable, type FromWorker, type ToWorker, type WorkerInit } from './protocol';
import { SessionRuntime } from './session-runtime';

const port = ((): NonNullable<typeof parentPort> => {
  if (!parentPort) throw new Error('the flmrun-js session worker must run in a worker thread');
  return parentPort;
})();
const post = (msg: FromWorker, transfer?: ArrayBuffer[]): void => port.postMessage(msg, transfer);

const init = workerData as WorkerInit;
// Lines go to the main thread, which writes them to its own logger's destination.
const logger = pino(
  { level: init.logLevel, base: { pid: process.pid } },
  { write: (line: string) => post({ type: 'log', line }) },
).child({ sessionId: init.spec.sessionId, ...init.logBindings });

let runtime: SessionRuntime | undefined;
let deps: ReturnType<typeof createRuntimeDeps> | undefined;
// Tasks run one at a time; `abort` and `leave` must get through while one runs.
let queue: Promise<void> = Promise.resolve();

// Listening from the start also keeps this thread alive while the module loads
// (a top-level await that never settles then meets the start timeout).
port.on('message', (msg: ToWorker) => {
  switch (msg.type) {
    case 'invoke':
      queue = queue.then(async () => {
        if (!runtime) return;
        const r = await runtime.runTask(msg.taskId, msg.input);
        const output = r.output && transferable(r.output);
        const state = r.state && transferable(r.state);
        const transfer: ArrayBuffer[] = [];
        if (output) transfer.push(output.buffer as ArrayBuffer);
        // The runtime keeps its own state buffer (to skip unchanged writes): only a copy may go.
        if (state && state !== r.state) transfer.push(state.buffer as ArrayBuffer);
        post({ type: 'done', taskId: msg.taskId, returnCode: r.returnCode, message: r.message, output, state }, transfer);
      });
      break;
    case 'abort':
      runtime?.abort(msg.reason, msg.taskId);
      break;
    case 'leave':
      void (async () => {
        await runtime?.leave(msg.reason);
        await deps?.close();
      })().finally(() => post({ type: 'left' }));
      break;
  }
});

async function main(): Promise<void> {
  installModuleAlias();
  deps = createRuntimeDeps(init, logger);
  try {
    runtime = await SessionRuntime.enter({
      spec: init.spec,
      cache: deps.cache,
      cacheEndpoint: init.cacheEndpoint,
      codecs: deps.codecs,
      logger,
      refConcurrency: init.refConcurrency,
      state: init.state,
    });
  } catch (err) {
    const e = FlmError.from(err, ErrorCode.Internal);
    post({ type: 'failed', code: e.code, message: e.message });
    return;
  }
  post({ type: 'ready' });
}

void main();
