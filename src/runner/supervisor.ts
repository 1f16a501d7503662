/**
 * The instance's side of a session: one child process runs the user's code
 * (src/runner/child-entry.ts); the supervisor only drives it through one
 * explicit state machine:
 *
 *   starting ─▶ idle ⇄ running ─▶ aborting ─┐
 *                 ▲        │                │ (the child ended: oom, uncaught,
 *                 │        ▼                ▼  exit, timeout, signal)
 *                 └──── restarting ◀────────┘ ─▶ failed (could not enter again;
 *                                                the next task tries once more)
 *   any ─▶ closing ─▶ closed
 *
 * A task that ends its child fails alone (code 1): the session is entered
 * again in a new child with the latest persisted state, and the next task
 * runs there. Tasks are not queued here: the caller (the Instance service)
 * owns the one queue and hands over one task at a time.
 */
import pino from 'pino';
import { ErrorCode, FlmError, ReturnCode } from '../errors';
import { silentLogger, type Logger } from '../log';
import { settlesWithin } from '../util/deadline';
import { MAX_TIMER_MS, parseWholeNumber, type Unit } from '../options/values';
import { REF_CONCURRENCY } from '../options/serve';
import { ChildChannel } from './child-channel';
import type { SpareProcess } from './spare-process';
import { MAX_FRAME_BYTES } from './frames';
import { describeEnd, restartsAfter, type ChildEnd } from './child-end';
import type { ChildInit, Notice, SessionSpec, TaskOutcome } from './protocol';

export type { SessionSpec, TaskOutcome } from './protocol';
export { liveSessionChildren } from './child-channel';

export interface RunnerOptions {
  /** grpc://host:port of the object cache (default target for puts). */
  cacheEndpoint: string;
  caFile?: string;
  /** Deadline of each cache call the child makes; undefined = the CacheClient's default (30000). */
  cacheDeadlineMs?: number;
  /** Keepalive of the child's cache connections (0 = off); undefined = the CacheClient's default. */
  cacheKeepaliveMs?: number;
  /** Per-task timeout; 0/undefined = off. */
  taskTimeoutMs?: number;
  /** Heap limit of the session process (--max-old-space-size); undefined = Node's default. */
  workerHeapMb?: number;
  /** ObjectRef arguments fetched at once; default 8. */
  refConcurrency?: number;
  /** Loading the module and instantiating it; default 120000. */
  startTimeoutMs?: number;
  /** How long a timed-out task may take to stop after its signal fires before its process is replaced; default 1000. */
  abortGraceMs?: number;
  /** How long session leave waits for the running task to stop and for disposal before ending the process; default 5000. */
  closeTimeoutMs?: number;
  logger?: Logger;
  /** The instance's spare session process: a session's first process is taken from it, and it is refilled once the session is over. */
  spare?: SpareProcess;
}

/**
 * A caller giving up, as the supervisor listens for it: an AbortSignal, or
 * anything as light that fires 'abort' listeners once.
 */
export interface CancelSignal {
  readonly aborted: boolean;
  addEventListener(type: 'abort', listener: () => void, options?: { once?: boolean }): void;
  removeEventListener(type: 'abort', listener: () => void): void;
}

interface Options extends Required<Omit<RunnerOptions, 'caFile' | 'workerHeapMb' | 'cacheDeadlineMs' | 'cacheKeepaliveMs' | 'spare'>> {
  caFile?: string;
  cacheDeadlineMs?: number;
  cacheKeepaliveMs?: number;
  workerHeapMb?: number;
  spare?: SpareProcess;
}

function compileOptions(o: RunnerOptions): Options {
  // A timer longer than Node's longest would fire after 1 ms: milliseconds stop at MAX_TIMER_MS.
  const whole = (v: number | undefined, name: string, unit: Unit, min: number, dflt: number): number =>
    v === undefined ? dflt : parseWholeNumber(v, name, unit, min, unit === 'ms' ? MAX_TIMER_MS : undefined);
  const heap = o.workerHeapMb === undefined || o.workerHeapMb === 0 ? undefined : whole(o.workerHeapMb, 'workerHeapMb', 'MB', 0, 0);
  return {
    cacheEndpoint: o.cacheEndpoint,
    caFile: o.caFile,
    // Checked here, not first in the session process's cache client: a bad value fails at construction.
    cacheDeadlineMs: o.cacheDeadlineMs === undefined ? undefined : parseWholeNumber(o.cacheDeadlineMs, 'cacheDeadlineMs', 'ms', 1, MAX_TIMER_MS),
    cacheKeepaliveMs: o.cacheKeepaliveMs === undefined ? undefined : parseWholeNumber(o.cacheKeepaliveMs, 'cacheKeepaliveMs', 'ms', 0, MAX_TIMER_MS),
    taskTimeoutMs: whole(o.taskTimeoutMs, 'taskTimeoutMs', 'ms', 0, 0),
    workerHeapMb: heap,
    refConcurrency: whole(o.refConcurrency, 'refConcurrency', 'count', 1, REF_CONCURRENCY),
    startTimeoutMs: whole(o.startTimeoutMs, 'startTimeoutMs', 'ms', 0, 120_000),
    abortGraceMs: whole(o.abortGraceMs, 'abortGraceMs', 'ms', 0, 1000),
    closeTimeoutMs: whole(o.closeTimeoutMs, 'closeTimeoutMs', 'ms', 0, 5000),
    logger: o.logger ?? silentLogger,
    spare: o.spare,
  };
}

/** Room in a channel frame for what travels with a task's input (its id, the header). */
const MAX_TASK_INPUT_BYTES = MAX_FRAME_BYTES - 1024 * 1024;

interface RunningTask {
  /** The invoke request's id on the channel. */
  id: number;
}

type State =
  | { name: 'starting'; child: ChildChannel }
  | { name: 'idle'; child: ChildChannel }
  | { name: 'running'; child: ChildChannel; task: RunningTask }
  /** The task's timeout passed: its signal fired; the child is ended if the task does not stop within abortGraceMs. */
  | { name: 'aborting'; child: ChildChannel; task: RunningTask; timeoutMs: number }
  | { name: 'restarting'; child: ChildChannel; after: ChildEnd }
  | { name: 'failed'; error: FlmError }
  | { name: 'closing' }
  | { name: 'closed' };

export class SessionSupervisor {
  private state: State = { name: 'closed' };
  /** Called at the next state change (waiters re-read the state); made only when someone waits, as a task's changes have no waiter. */
  private changeWaiters: (() => void)[] | undefined;
  private latestState: Uint8Array | undefined;
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

  /**
   * Starts the session's child and loads the module; rejects with a classified
   * FlmError. `signal`: the caller gave up; the child is ended at once.
   *
   * `spec` may still be in the making (the package being fetched and
   * extracted): the child is forked at once and boots Node and the runner
   * meanwhile (~0.2–0.35 s of CPU on Node 20, about what the extraction of a 23 MB package
   * costs, docs/extraction.md), and is told the session only when the spec is
   * there. When the spec fails, the child is ended and that failure is thrown.
   * With `opts.spare`, the child is the instance's spare when it is alive
   * (already booted, or further along), and a new spare is started once this
   * session is over or could not be entered.
   */
  static async start(spec: SessionSpec | Promise<SessionSpec>, opts: RunnerOptions, signal?: AbortSignal): Promise<SessionSupervisor> {
    const o = compileOptions(opts);
    // The child sends nothing before the enter request, which carries the log level: no notice comes before `to.sup` is set.
    const to: { sup?: SessionSupervisor } = {};
    const onNotice = (n: Notice): void => to.sup?.onNotice(n);
    const onStderr = (line: string): void => o.logger.warn({ stderr: line }, 'the session process wrote to stderr');
    const { child: booting, spare } = o.spare ? o.spare.take(onNotice, onStderr) : { child: new ChildChannel(o.workerHeapMb, onNotice, onStderr), spare: false };
    try {
      let ready: SessionSpec;
      try {
        ready = await spec;
      } catch (err) {
        await booting.kill({ kind: 'abandoned' });
        throw err;
      }
      const sup = new SessionSupervisor(ready, o);
      to.sup = sup;
      let child: ChildChannel;
      try {
        child = await sup.enterChild('starting', undefined, signal, booting);
      } catch (err) {
        // A spare killed from outside just before it was taken (its end not yet seen) is no failure of the
        // session: a fresh process enters it. User code ends a process by exit, an uncaught error or its heap.
        if (!spare || booting.end?.kind !== 'signal' || signal?.aborted) throw err;
        child = await sup.enterChild('starting', undefined, signal);
      }
      sup.set({ name: 'idle', child });
      return sup;
    } catch (err) {
      o.spare?.refill();
      throw err;
    }
  }

  /** The state's name (for tests and logs). */
  get stateName(): State['name'] {
    return this.state.name;
  }

  /** The current child's pid, if one is alive. */
  get childPid(): number | undefined {
    return 'child' in this.state ? this.state.child.pid : undefined;
  }

  /**
   * Runs one task. The caller hands over one task at a time (it may call
   * again as soon as the previous promise settled). `signal`: the caller gave
   * up; a task not started yet is not started, a running one sees its
   * AbortSignal fire. Never rejects for user-caused failures.
   */
  async invoke(taskId: string, input: Uint8Array | undefined, signal?: CancelSignal): Promise<TaskOutcome> {
    // An idle session (every task's case but the first after a restart) needs no wait.
    const child = this.state.name === 'idle' ? this.state.child : await this.ready();
    if (!child) return { returnCode: ReturnCode.InvalidInput, message: `session ${this.spec.sessionId} has left` };
    if (child instanceof FlmError) {
      return { returnCode: child.returnCode, message: `the session could not be entered again after its process ended: ${child.message}` };
    }
    if (signal?.aborted) return notStarted();
    if (this.state.name !== 'idle' || this.state.child !== child) {
      throw new FlmError(ErrorCode.Internal, 'a task was handed to the session supervisor while another was running');
    }

    if (input && input.byteLength > MAX_TASK_INPUT_BYTES) {
      return { returnCode: ReturnCode.InvalidInput, message: `task input of ${input.byteLength} bytes is larger than a session process can be sent (${MAX_TASK_INPUT_BYTES})` };
    }
    const { id, reply } = child.invoke(taskId, input);
    const task: RunningTask = { id };
    this.set({ name: 'running', child, task });
    const ms = this.opts.taskTimeoutMs;
    let grace: NodeJS.Timeout | undefined;
    const timer =
      ms > 0
        ? setTimeout(() => {
            if (this.state.name !== 'running' || this.state.task !== task) return;
            this.set({ name: 'aborting', child, task, timeoutMs: ms });
            child.abort(id, `task timed out after ${ms} ms`);
            // A task that honours its signal keeps its process; one that does not (or blocks its loop) loses it.
            grace = setTimeout(() => void child.kill({ kind: 'timeout', ms }), this.opts.abortGraceMs);
          }, ms)
        : undefined;
    const onCancel = (): void => child.abort(id, 'the caller cancelled the call');
    signal?.addEventListener('abort', onCancel, { once: true });

    const r = await reply;
    clearTimeout(timer);
    clearTimeout(grace);
    signal?.removeEventListener('abort', onCancel);
    // Read again: the state moved on while the task ran.
    const after = this.current();
    const timedOut = after.name === 'aborting' && after.task === task ? after.timeoutMs : undefined;

    if (r.type === 'gone') {
      this.childEnded(child, r.end);
      return { returnCode: ReturnCode.GeneralError, message: describeEnd(r.end, this.opts.workerHeapMb) };
    }
    // A copy: the reply's bytes are a view into the channel's read buffer.
    if (r.state) this.latestState = Buffer.from(r.state);
    if (after.name === 'running' || after.name === 'aborting') this.set({ name: 'idle', child });
    if (timedOut !== undefined) return { returnCode: ReturnCode.GeneralError, message: `task timed out after ${timedOut} ms` };
    const output = r.output ? Buffer.from(r.output.buffer, r.output.byteOffset, r.output.byteLength) : undefined;
    return { returnCode: r.returnCode, output, message: r.message, error: r.error };
  }

  /**
   * Session leave: fires the running task's signal and disposes the execution
   * object; whatever has not finished within closeTimeoutMs is ended with
   * the process group. Idempotent.
   */
  close(reason = 'session leave'): Promise<void> {
    this.closing ??= this.shutdown(reason).finally(() => this.opts.spare?.refill());
    return this.closing;
  }

  /** The child to run the next task on: undefined once closing, an FlmError if it could not be entered again. */
  private async ready(): Promise<ChildChannel | FlmError | undefined> {
    let retried = false;
    for (;;) {
      const s = this.state;
      switch (s.name) {
        case 'idle':
          return s.child;
        case 'closing':
        case 'closed':
          return undefined;
        case 'running':
        case 'aborting':
          throw new FlmError(ErrorCode.Internal, 'a task was handed to the session supervisor while another was running');
        case 'failed':
          // The last attempt to enter again failed: one more, for this task.
          if (retried) return s.error;
          retried = true;
          this.restart(undefined);
          break;
        case 'starting':
        case 'restarting':
          await this.nextChange();
          break;
      }
    }
  }

  /** A child ended while it was the current one: enter again unless leaving. */
  private childEnded(child: ChildChannel, end: ChildEnd): void {
    const s = this.state;
    if (!('child' in s) || s.child !== child) return;
    if (!restartsAfter(end)) return;
    const why = describeEnd(end, this.opts.workerHeapMb);
    // An uncaught error's message may quote task data: its kind only above debug.
    this.log.warn({ reason: end.kind }, 'session process ended; entering the session again in a new process');
    this.log.debug({ reason: why }, 'session process ended');
    this.restart(end);
  }

  /** Eager: the next task should not wait for the module to load again. */
  private restart(after: ChildEnd | undefined): void {
    this.enterChild('restarting', after).then(
      (child) => {
        if (this.state.name === 'restarting' && this.state.child === child) this.set({ name: 'idle', child });
      },
      (err: unknown) => {
        const error = FlmError.from(err, ErrorCode.Internal);
        if (this.state.name === 'restarting') this.set({ name: 'failed', error });
        this.log.error({ err: error }, 'the session could not be entered again');
      },
    );
  }

  /** Forks a child (unless `booting` is one already forked) and enters the session in it; the state names the child meanwhile. */
  private async enterChild(kind: 'starting' | 'restarting', after?: ChildEnd, signal?: AbortSignal, booting?: ChildChannel): Promise<ChildChannel> {
    const child =
      booting ??
      new ChildChannel(
        this.opts.workerHeapMb,
        (n) => this.onNotice(n),
        (line) => this.log.warn({ stderr: line }, 'the session process wrote to stderr'),
      );
    if (kind === 'starting') this.set({ name: 'starting', child });
    else this.set({ name: 'restarting', child, after: after ?? { kind: 'exit', code: 0 } });
    const init: ChildInit = {
      spec: this.spec,
      cacheEndpoint: this.opts.cacheEndpoint,
      caFile: this.opts.caFile,
      cacheDeadlineMs: this.opts.cacheDeadlineMs,
      cacheKeepaliveMs: this.opts.cacheKeepaliveMs,
      refConcurrency: this.opts.refConcurrency,
      logLevel: this.logStream ? this.log.level : 'silent',
      logBindings: this.log.bindings(),
      state: this.latestState,
    };
    const ms = this.opts.startTimeoutMs;
    const timer = setTimeout(() => void child.kill({ kind: 'start-timeout', ms }), ms);
    const abandon = (): void => void child.kill({ kind: 'abandoned' });
    if (signal?.aborted) abandon();
    else signal?.addEventListener('abort', abandon, { once: true });
    const r = await child.enter(init);
    clearTimeout(timer);
    signal?.removeEventListener('abort', abandon);
    if (r.type === 'entered') {
      if (this.state.name === 'closing' || this.state.name === 'closed') {
        await child.kill({ kind: 'leave', reason: 'session left while it was being entered' });
        throw new FlmError(ErrorCode.InvalidInput, `session ${this.spec.sessionId} has left`);
      }
      return child;
    }
    if (r.type === 'enter-failed') {
      await child.kill({ kind: 'enter-failed' });
      throw FlmError.fromData(r.error);
    }
    const end = r.end;
    if (end.kind === 'killed' && end.for.kind === 'start-timeout') {
      throw new FlmError(ErrorCode.InvalidInput, `the user's module did not finish loading within ${ms} ms (startTimeoutMs)`);
    }
    if (end.kind === 'killed' && end.for.kind === 'abandoned') throw new FlmError(ErrorCode.Unavailable, describeEnd(end, this.opts.workerHeapMb));
    throw new FlmError(ErrorCode.InvalidInput, `the session could not be entered: ${describeEnd(end, this.opts.workerHeapMb)} while loading the module`);
  }

  private onNotice(n: Notice): void {
    if (n.type === 'log') this.logStream?.write(n.line.endsWith('\n') ? n.line : n.line + '\n');
  }

  private async shutdown(reason: string): Promise<void> {
    const prev = this.state;
    this.set({ name: 'closing' });
    if ('child' in prev) {
      if (prev.name === 'idle' || prev.name === 'running' || prev.name === 'aborting') {
        // The child fires the running task's signal and disposes the execution object.
        await settlesWithin(prev.child.leave(reason), this.opts.closeTimeoutMs);
      }
      await prev.child.kill({ kind: 'leave', reason });
    }
    this.set({ name: 'closed' });
  }

  private current(): State {
    return this.state;
  }

  private set(next: State): void {
    this.state = next;
    const waiters = this.changeWaiters;
    this.changeWaiters = undefined;
    if (waiters) for (const w of waiters) w();
  }

  private nextChange(): Promise<void> {
    return new Promise<void>((resolve) => (this.changeWaiters ??= []).push(resolve));
  }
}

function notStarted(): TaskOutcome {
  return { returnCode: ReturnCode.Unavailable, message: 'the caller cancelled the call before the task started; it was not run' };
}
