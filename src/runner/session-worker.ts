/**
 * The main thread's side of a session: one worker thread runs the user's
 * code (src/runner/worker.ts); this class only supervises it. A task that
 * kills its worker (uncaught error, process.exit, heap exhaustion, a timeout
 * it does not stop at) fails alone: the session is entered again in a fresh
 * worker, with the latest persisted state, and the next task runs there.
 */
import fs from 'node:fs';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import pino from 'pino';
import { ErrorCode, FlmError, ReturnCode } from '../errors';
import { silentLogger, type Logger } from '../log';
import { transferable, type FromWorker, type TaskOutcome, type WorkerInit } from './protocol';
import { describeUserError } from './user-stack';

export type { TaskOutcome } from './protocol';

export interface SessionSpec {
  sessionId: string;
  /** ApplicationContext.name; results go under `<appName>/<sessionId>`. */
  appName: string;
  /** Installed package directory, if any. */
  packageRoot?: string;
  /** Working directory; a context `module` is resolved against packageRoot ?? workDir. */
  workDir: string;
  /** SessionContext.common_data (SPEC 5). */
  commonData?: Uint8Array;
}

export interface RunnerOptions {
  /** grpc://host:port of the object cache (default target for puts). */
  cacheEndpoint: string;
  caFile?: string;
  /** Deadline of each cache call the worker makes; undefined = the CacheClient's default (30000). */
  cacheDeadlineMs?: number;
  /** Per-task timeout; 0/undefined = off. */
  taskTimeoutMs?: number;
  /** Worker heap limit (resourceLimits.maxOldGenerationSizeMb); undefined = Node's default. */
  workerHeapMb?: number;
  /** ObjectRef arguments fetched at once; default 8. */
  refConcurrency?: number;
  /** Loading the module and instantiating it; default 120000. */
  startTimeoutMs?: number;
  /** How long a timed-out task may take to stop after its signal fires before its worker is replaced; default 1000. */
  abortGraceMs?: number;
  /** How long session leave waits for disposal before terminating the worker; default 5000. */
  closeTimeoutMs?: number;
  logger?: Logger;
}

interface Options extends Required<Omit<RunnerOptions, 'caFile' | 'workerHeapMb' | 'cacheDeadlineMs'>> {
  caFile?: string;
  cacheDeadlineMs?: number;
  workerHeapMb?: number;
}

function compileOptions(o: RunnerOptions): Options {
  const nonNegative = (v: number | undefined, name: string, dflt: number): number => {
    if (v === undefined) return dflt;
    if (!Number.isFinite(v) || v < 0) throw new FlmError(ErrorCode.InvalidInput, `${name} must be a non-negative number, got ${v}`);
    return v;
  };
  const heap = o.workerHeapMb === undefined || o.workerHeapMb === 0 ? undefined : nonNegative(o.workerHeapMb, 'workerHeapMb', 0);
  return {
    cacheEndpoint: o.cacheEndpoint,
    caFile: o.caFile,
    cacheDeadlineMs: o.cacheDeadlineMs,
    taskTimeoutMs: nonNegative(o.taskTimeoutMs, 'taskTimeoutMs', 0),
    workerHeapMb: heap,
    refConcurrency: Math.max(1, Math.floor(nonNegative(o.refConcurrency, 'refConcurrency', 8))),
    startTimeoutMs: nonNegative(o.startTimeoutMs, 'startTimeoutMs', 120_000),
    abortGraceMs: nonNegative(o.abortGraceMs, 'abortGraceMs', 1000),
    closeTimeoutMs: nonNegative(o.closeTimeoutMs, 'closeTimeoutMs', 5000),
    logger: o.logger ?? silentLogger,
  };
}

let liveThreads = 0;
/** Worker threads started by SessionWorkers that have not exited yet (for leak checks). */
export function liveWorkerThreads(): number {
  return liveThreads;
}

/** The compiled worker script; under ts-jest (this file is .ts) the one built in dist/. */
export function workerScriptPath(): string {
  const script = __filename.endsWith('.ts')
    ? path.resolve(__dirname, '..', '..', 'dist', 'runner', 'worker.js')
    : path.join(__dirname, 'worker.js');
  if (!fs.existsSync(script)) {
    throw new FlmError(ErrorCode.Internal, `the session worker script ${script} is missing; build flmrun-js first (npm run build)`);
  }
  return script;
}

interface PendingTask {
  taskId: string;
  done(msg: Extract<FromWorker, { type: 'done' }>): void;
  died(why: string): void;
}

interface Thread {
  worker: Worker;
  task?: PendingTask;
  /** Why we terminated it ourselves, if we did. */
  killedFor?: string;
  error?: unknown;
  /** Set when the thread has exited; why it did. */
  death?: string;
  exited: Promise<void>;
  onLeft?: () => void;
}

export class SessionWorker {
  private thread: Thread | undefined;
  private starting: Promise<Thread> | undefined;
  private latestState: Uint8Array | undefined;
  private queue: Promise<unknown> = Promise.resolve();
  private closing: Promise<void> | undefined;
  private readonly log: Logger;
  private readonly logStream: { write(line: string): unknown } | undefined;

  private constructor(
    private readonly spec: SessionSpec,
    private readonly opts: Options,
  ) {
    this.log = opts.logger;
    this.logStream = (opts.logger as unknown as Record<symbol, { write(line: string): unknown } | undefined>)[pino.symbols.streamSym];
  }

  /** Starts the session's worker and loads the module; rejects with a classified FlmError. */
  static async start(spec: SessionSpec, opts: RunnerOptions): Promise<SessionWorker> {
    const sw = new SessionWorker(spec, compileOptions(opts));
    sw.thread = await sw.spawn();
    return sw;
  }

  /** Runs one task (one at a time, in call order). Never rejects for user-caused failures. */
  invoke(taskId: string, input: Uint8Array | undefined): Promise<TaskOutcome> {
    const run = this.queue.then(() => this.runOne(taskId, input));
    this.queue = run.then((r) => r.settled).catch(() => undefined);
    return run.then((r) => r.outcome);
  }

  /** Session leave: aborts the task signal, disposes the execution object, ends the worker. Idempotent. */
  close(reason = 'session leave'): Promise<void> {
    this.closing ??= this.shutdown(reason);
    return this.closing;
  }

  private async runOne(taskId: string, input: Uint8Array | undefined): Promise<{ outcome: Promise<TaskOutcome>; settled: Promise<void> }> {
    const now = (o: TaskOutcome) => ({ outcome: Promise.resolve(o), settled: Promise.resolve() });
    if (this.closing) return now({ returnCode: ReturnCode.InvalidInput, message: `session ${this.spec.sessionId} has left` });
    let thread: Thread;
    try {
      thread = await this.liveThread();
    } catch (err) {
      const e = FlmError.from(err, ErrorCode.Internal);
      return now({ returnCode: e.returnCode, message: `the session could not be entered again after its worker ended: ${e.message}` });
    }
    let answer!: (o: TaskOutcome) => void;
    const outcome = new Promise<TaskOutcome>((resolve) => (answer = resolve));
    const settled = new Promise<void>((settle) => {
      const ms = this.opts.taskTimeoutMs;
      let timedOut = false;
      let timer: NodeJS.Timeout | undefined;
      let grace: NodeJS.Timeout | undefined;
      const finish = (): void => {
        clearTimeout(timer);
        clearTimeout(grace);
        thread.task = undefined;
        settle();
      };
      thread.task = {
        taskId,
        done: (msg) => {
          if (msg.state) this.latestState = msg.state;
          if (!timedOut) {
            const out = msg.output ? Buffer.from(msg.output.buffer, msg.output.byteOffset, msg.output.byteLength) : undefined;
            answer({ returnCode: msg.returnCode, output: out, message: msg.message });
          }
          finish();
        },
        died: (why) => {
          if (!timedOut) answer({ returnCode: ReturnCode.GeneralError, message: why });
          finish();
        },
      };
      if (thread.death !== undefined) {
        thread.task.died(thread.death);
        return;
      }
      // The input is a view into the gRPC message (owned by this thread): send only its bytes.
      const sent = input && transferable(input);
      const transfer = sent && sent !== input ? [sent.buffer as ArrayBuffer] : [];
      thread.worker.postMessage({ type: 'invoke', taskId, input: sent }, transfer);
      if (ms > 0) {
        timer = setTimeout(() => {
          timedOut = true;
          const why = `task timed out after ${ms} ms`;
          answer({ returnCode: ReturnCode.GeneralError, message: why });
          thread.worker.postMessage({ type: 'abort', taskId, reason: why });
          // A task that honours its signal keeps the worker; one that does not (or blocks the loop) loses it.
          grace = setTimeout(() => this.kill(thread, why), this.opts.abortGraceMs);
        }, ms);
      }
    });
    return { outcome, settled };
  }

  private async liveThread(): Promise<Thread> {
    if (this.thread && this.thread.death === undefined) return this.thread;
    this.starting ??= this.spawn().then(
      (t) => {
        this.starting = undefined;
        if (this.closing) {
          this.kill(t, 'session left');
          throw new FlmError(ErrorCode.InvalidInput, `session ${this.spec.sessionId} has left`);
        }
        this.thread = t;
        return t;
      },
      (err: unknown) => {
        this.starting = undefined;
        throw err;
      },
    );
    return this.starting;
  }

  private spawn(): Promise<Thread> {
    const init: WorkerInit = {
      spec: this.spec,
      cacheEndpoint: this.opts.cacheEndpoint,
      caFile: this.opts.caFile,
      cacheDeadlineMs: this.opts.cacheDeadlineMs,
      refConcurrency: this.opts.refConcurrency,
      logLevel: this.logStream ? this.log.level : 'silent',
      logBindings: this.log.bindings(),
      state: this.latestState,
    };
    const heap = this.opts.workerHeapMb;
    const worker = new Worker(workerScriptPath(), {
      workerData: init,
      resourceLimits: heap ? { maxOldGenerationSizeMb: heap } : undefined,
    });
    liveThreads++;
    let exited!: () => void;
    const thread: Thread = { worker, exited: new Promise<void>((r) => (exited = r)) };
    return new Promise<Thread>((resolve, reject) => {
      let ready = false;
      const startTimer = setTimeout(() => {
        this.kill(thread, 'start timeout');
        reject(new FlmError(ErrorCode.InvalidInput, `the user's module did not finish loading within ${this.opts.startTimeoutMs} ms (startTimeoutMs)`));
      }, this.opts.startTimeoutMs);
      worker.on('message', (msg: FromWorker) => {
        switch (msg.type) {
          case 'log':
            this.logStream?.write(msg.line.endsWith('\n') ? msg.line : msg.line + '\n');
            break;
          case 'ready':
            ready = true;
            clearTimeout(startTimer);
            resolve(thread);
            break;
          case 'failed':
            clearTimeout(startTimer);
            this.kill(thread, 'failed to enter');
            reject(new FlmError(msg.code as ErrorCode, msg.message));
            break;
          case 'done':
            if (thread.task?.taskId === msg.taskId) thread.task.done(msg);
            break;
          case 'left':
            thread.onLeft?.();
            break;
        }
      });
      worker.on('error', (err) => {
        thread.error = err;
      });
      worker.on('exit', (code) => {
        liveThreads--;
        clearTimeout(startTimer);
        const why = this.describeDeath(thread, code);
        thread.death = why;
        exited();
        if (!ready) {
          reject(new FlmError(ErrorCode.InvalidInput, `the session could not be entered: ${why} while loading the module`));
          return;
        }
        thread.task?.died(why);
        thread.onLeft?.();
        if (this.thread === thread) {
          this.thread = undefined;
          if (!this.closing && !thread.killedFor?.startsWith('session')) {
            // `why` may quote the user's error message (and so task data): its leading clause only above debug.
            this.log.warn({ reason: why.split(': ', 1)[0] }, 'session worker ended; entering the session again in a new worker');
            this.log.debug({ reason: why }, 'session worker ended');
            // Eager: the next task should not wait for the module to load again.
            this.liveThread().catch((err: unknown) => this.log.error({ err }, 'session worker could not be restarted'));
          }
        }
      });
    });
  }

  private describeDeath(thread: Thread, code: number): string {
    const err = thread.error as { code?: unknown } | undefined;
    if (err?.code === 'ERR_WORKER_OUT_OF_MEMORY') {
      return `worker ran out of memory (heap limit ${this.opts.workerHeapMb ?? 'default'} MB)`;
    }
    if (err !== undefined) return `uncaught exception in user code: ${describeUserError(err, this.spec.packageRoot ?? this.spec.workDir)}`;
    if (thread.killedFor) return thread.killedFor.startsWith('session') ? `task aborted: ${thread.killedFor}` : thread.killedFor;
    return `user code called process.exit(${code})`;
  }

  private kill(thread: Thread, why: string): void {
    thread.killedFor ??= why;
    void thread.worker.terminate();
  }

  private async shutdown(reason: string): Promise<void> {
    const pendingStart = this.starting;
    if (pendingStart) await pendingStart.catch(() => undefined);
    const thread = this.thread;
    this.thread = undefined;
    if (!thread) return;
    const left = new Promise<void>((resolve) => {
      thread.onLeft = resolve;
      setTimeout(resolve, this.opts.closeTimeoutMs).unref();
    });
    thread.worker.postMessage({ type: 'leave', reason });
    await left;
    this.kill(thread, `session left (${reason}) while the task was running`);
    await thread.exited;
  }
}
