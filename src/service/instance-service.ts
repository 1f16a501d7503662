/**
 * Flame's Instance shim protocol (docs/protocol.md §2): one session at a time, its tasks,
 * its leave. The service only supervises: packages are installed by the
 * package manager, user code runs in the session's own process (src/runner).
 *
 * Operations are serialized through one queue (src/service/operation-queue.ts),
 * as the executor manager sends them one at a time; a client that sends them
 * concurrently gets the same ordering instead of a race. A call whose caller
 * gave up before it started is not started; a running task gets its
 * AbortSignal. Session leave does not wait behind a running task: it stops
 * it (the supervisor's bounded grace) and the queue moves on.
 */
import type * as grpc from '@grpc/grpc-js';
import { ErrorCode, FlmError, ReturnCode, type LoggedError } from '../errors';
import type { Logger } from '../log';
import { safeUrl } from '../redact';
import type { InstalledPackage, PackageManager } from '../packages';
import type { CancelSignal, RunnerOptions, SessionSupervisor, SessionSpec, TaskOutcome } from '../runner/supervisor';
import type { EmptyRequest, InstanceHandlers, Result, SessionContext, TaskContext, TaskResult } from './protos';
import { OperationQueue, queueFullReason } from './operation-queue';
import { CallCancel } from './call-cancel';
import { resultPrefix } from '../wire/keys';
import { settlesWithin } from '../util/deadline';
import { MAX_QUEUED_BYTES } from '../options/serve';

/** The package manager as the service uses it; `signal` aborts the download of an enter whose caller gave up. */
export type PackageInstaller = Pick<PackageManager, 'install' | 'requireWorkDirPackage'>;

export interface InstanceServiceDeps {
  packages: PackageInstaller;
  /**
   * `spec` may be a promise (the package still being installed): the session
   * process boots meanwhile. `signal`: the caller of session enter gave up;
   * the module load is abandoned.
   */
  startWorker: (spec: SessionSpec | Promise<SessionSpec>, opts: RunnerOptions, signal?: AbortSignal) => Promise<SessionSupervisor>;
  runnerOptions: RunnerOptions;
  workDir: string;
  logger: Logger;
  /** Bound on task input bytes held (queued and running); beyond it a task is refused with code 3. */
  maxQueuedBytes?: number;
}

interface ActiveSession {
  id: string;
  appName: string;
  worker: SessionSupervisor;
  pkg?: InstalledPackage;
  log: Logger;
  /** Set when leave (or a shutdown) has begun stopping it: its tasks not yet started answer "has left". */
  leaving?: Promise<void>;
}

type State = 'idle' | 'active' | 'closing' | 'closed';

const NAME_RE = /^[^/\\]+$/;

export class InstanceService {
  private state: State = 'idle';
  private session: ActiveSession | undefined;
  private readonly queue: OperationQueue;
  private readonly log: Logger;

  constructor(private readonly deps: InstanceServiceDeps) {
    this.log = deps.logger.child({ component: 'instance' });
    this.queue = new OperationQueue(deps.maxQueuedBytes ?? MAX_QUEUED_BYTES);
  }

  /** gRPC handlers for flame.v1.Instance (and its legacy alias). */
  handlers(): InstanceHandlers {
    return {
      OnSessionEnter: (call, cb) => {
        // The package download takes a real AbortSignal.
        const ac = new AbortController();
        answer(call, cb, () => ac.abort(), () => this.enter(call.request, ac.signal));
      },
      OnTaskInvoke: (call, cb) => {
        const cancel = new CallCancel();
        answer(call, cb, () => cancel.abort(), () => this.invoke(call.request, cancel));
      },
      OnSessionLeave: (call, cb) => reply(this.leave(call.request), cb),
    };
  }

  /** Task input bytes held now, queued and running. */
  get heldInputBytes(): number {
    return this.queue.heldBytes;
  }

  get sessionId(): string | undefined {
    return this.session?.id;
  }

  /** `signal`: the caller gave up (cancelled, or its deadline passed). */
  enter(ctx: SessionContext, signal?: AbortSignal): Promise<Result> {
    return this.queue.run({ signal, cancelled: gaveUp, refused: gaveUp, run: () => this.enterSession(ctx, signal) });
  }

  private async enterSession(ctx: SessionContext, signal: AbortSignal | undefined): Promise<Result> {
    if (this.state === 'closing' || this.state === 'closed') return failure(ReturnCode.Unavailable, 'flmrun-js is shutting down');
    const sessionId = ctx.session_id ?? '';
    const app = ctx.application ?? {};
    const appName = app.name ?? '';
    const problem = !sessionId
      ? 'SessionContext.session_id is empty'
      : !NAME_RE.test(sessionId) || sessionId.includes('..')
        ? `SessionContext.session_id "${sessionId}" must not contain "/", "\\" or ".."`
        : !appName
          ? 'SessionContext.application.name is empty'
          : !NAME_RE.test(appName) || appName.includes('..')
            ? `application name "${appName}" must not contain "/", "\\" or ".."`
            : prefixProblem(appName, sessionId);
    if (problem) return failure(ReturnCode.InvalidInput, problem);

    if (this.session) {
      this.log.info({ sessionId: this.session.id, next: sessionId }, 'session enter while a session is active: leaving it first');
      await this.closeSession();
    }
    const log = this.log.child({ sessionId, app: appName });
    log.info({ url: app.url ? safeUrl(app.url) : undefined }, 'session enter');
    let pkg: InstalledPackage | undefined;
    let worker: SessionSupervisor | undefined;
    // The package is installed while the session process boots (docs/extraction.md, "Measured").
    const spec = (async (): Promise<SessionSpec> => {
      if (app.url) pkg = await this.deps.packages.install(app.url, sessionId, { signal });
      else await this.deps.packages.requireWorkDirPackage(appName);
      if (signal?.aborted) throw new FlmError(ErrorCode.Unavailable, 'the caller gave up before the session was set up');
      return {
        sessionId,
        appName,
        packageRoot: pkg?.root,
        workDir: this.deps.workDir,
        commonData: ctx.common_data && ctx.common_data.length > 0 ? ctx.common_data : undefined,
      };
    })();
    try {
      worker = await this.deps.startWorker(spec, { ...this.deps.runnerOptions, logger: log }, signal);
      // Nobody waits for this session any more: do not keep it.
      if (signal?.aborted) throw new FlmError(ErrorCode.Unavailable, 'the caller gave up before the session was set up');
      this.session = { id: sessionId, appName, worker, pkg, log };
      this.state = 'active';
      log.info('session ready');
      return { return_code: ReturnCode.Success };
    } catch (err) {
      await worker?.close('session enter abandoned');
      // A worker start that failed before the install ended: the install's reference is released all the same.
      await spec.catch(() => undefined);
      await pkg?.release().catch((e: unknown) => log.warn({ err: e }, 'package release failed'));
      const e = FlmError.from(err, ErrorCode.Internal);
      // The detail may quote the user's data (an init_args value in an error): debug only.
      log.warn({ returnCode: e.returnCode, error: e.toLog() }, 'session enter failed');
      log.debug({ err: e }, 'session enter failed');
      return failure(e.returnCode, e.message);
    }
  }

  /** `signal`: the caller gave up; a task not started is not started, a running one sees its AbortSignal fire. */
  invoke(task: TaskContext, signal?: CancelSignal): Promise<TaskResult> {
    const taskId = task.task_id ?? '';
    return this.queue.run({
      bytes: task.input?.length ?? 0,
      signal,
      cancelled: gaveUp,
      refused: (held, max) =>
        failure(
          ReturnCode.Unavailable,
          `task ${taskId || '(no id)'} refused: ${queueFullReason(held, max)}`,
        ),
      run: () => this.runTask(task, taskId, signal),
    });
  }

  private async runTask(task: TaskContext, taskId: string, signal: CancelSignal | undefined): Promise<TaskResult> {
    const s = this.session;
    if (!s) return failure(ReturnCode.InvalidInput, `task ${taskId || '(no id)'}: no session; OnSessionEnter must come first`);
    if (task.session_id && task.session_id !== s.id) {
      return failure(ReturnCode.InvalidInput, `task ${taskId} is for session "${task.session_id}", but the active session is "${s.id}"`);
    }
    // A logger bound to the task only when a line is written: most tasks write none.
    const debug = s.log.isLevelEnabled('debug');
    let bound: Logger | undefined;
    const log = (): Logger => (bound ??= s.log.child({ taskId }));
    if (debug) log().debug({ inputBytes: task.input?.length ?? 0 }, 'task invoke');
    let outcome: TaskOutcome;
    try {
      outcome = s.leaving
        ? { returnCode: ReturnCode.InvalidInput, message: `session ${s.id} has left` }
        : await s.worker.invoke(taskId, task.input, signal);
    } catch (err) {
      const e = FlmError.from(err, ErrorCode.Internal);
      outcome = { returnCode: e.returnCode, message: e.message, error: e.toData() };
    }
    if (outcome.returnCode === ReturnCode.Success) {
      if (debug) log().debug('task done');
    } else {
      // The message goes back to the client; it may quote task data (a user error
      // echoing its argument), so info gets only the error's log rendering.
      log().info({ returnCode: outcome.returnCode, error: loggedError(outcome) }, 'task failed');
      log().debug({ message: outcome.message }, 'task failed');
    }
    const res: TaskResult = { return_code: outcome.returnCode };
    if (outcome.output) res.output = outcome.output;
    if (outcome.message) res.message = outcome.message;
    return res;
  }

  /**
   * Leave does not queue behind a running task: it starts stopping the session
   * at once (the task's signal fires; a task still running after the grace
   * is ended with its process), then takes its turn to finish the leave.
   */
  leave(_req?: EmptyRequest): Promise<Result> {
    this.stopSession('session leave');
    return this.queue.run({
      cancelled: () => ({ return_code: ReturnCode.Success }),
      refused: () => ({ return_code: ReturnCode.Success }),
      run: async () => {
        if (!this.session) return { return_code: ReturnCode.Success, message: 'no active session' };
        await this.closeSession();
        return { return_code: ReturnCode.Success };
      },
    });
  }

  /** Graceful stop: lets the queued/running operation finish (up to graceMs), then leaves the session. */
  async close(graceMs: number): Promise<void> {
    if (this.state === 'closed' || this.state === 'closing') return;
    this.state = 'closing';
    const timedOut = !(await settlesWithin(this.queue.idle(), graceMs));
    if (timedOut) this.log.warn({ graceMs }, 'grace period over: disposing the session with a task still running');
    this.stopSession('shutdown');
    await this.closeSession('shutdown');
    this.state = 'closed';
  }

  /** Begins stopping the active session without waiting for the queue. */
  private stopSession(reason: string): void {
    const s = this.session;
    if (!s || s.leaving) return;
    s.leaving = s.worker.close(reason);
  }

  private async closeSession(reason = 'session leave'): Promise<void> {
    const s = this.session;
    if (!s) return;
    this.session = undefined;
    if (this.state === 'active') this.state = 'idle';
    try {
      await (s.leaving ?? s.worker.close(reason));
    } catch (err) {
      s.log.warn({ err }, 'disposing the execution object failed');
    }
    try {
      await s.pkg?.release();
    } catch (err) {
      s.log.warn({ err }, 'removing the extracted package failed');
    }
    s.log.info({ reason }, 'session left');
  }
}

/** What info may say about a failed task: the error's own log rendering, else only what its code means. */
function loggedError(outcome: TaskOutcome): LoggedError | { summary: string } {
  if (outcome.error) return FlmError.fromData(outcome.error).toLog();
  return { summary: RETURN_CODE_SUMMARIES[outcome.returnCode] ?? 'failed' };
}

const RETURN_CODE_SUMMARIES: Partial<Record<number, string>> = {
  [ReturnCode.GeneralError]: "the application's code failed",
  [ReturnCode.InvalidInput]: 'invalid input',
  [ReturnCode.Unavailable]: 'unavailable',
};

/**
 * Results go under `<app>/<session>`: whatever the cache's own key rules refuse
 * there ('*', '.', ...) is refused at enter, not at every task's put.
 */
function prefixProblem(appName: string, sessionId: string): string | undefined {
  try {
    resultPrefix(appName, sessionId);
    return undefined;
  } catch (err) {
    return `application name and session id cannot name results: ${FlmError.from(err).message}`;
  }
}

function failure(code: number, message: string): Result & TaskResult {
  return { return_code: code, message };
}

/** The answer to a call whose caller is gone (nobody reads it). */
function gaveUp(): Result & TaskResult {
  return failure(ReturnCode.Unavailable, 'the caller gave up before the call started; it was not run');
}

/**
 * Runs `op` with `abort` called when the call is cancelled or its deadline
 * passes (grpc-js answers an expired deadline itself, without telling the
 * handler), then replies.
 */
function answer<Req, Res>(call: grpc.ServerUnaryCall<Req, Res>, cb: grpc.sendUnaryData<Res>, abort: () => void, op: () => Promise<Res>): void {
  const deadline = call.getDeadline();
  const ms = (deadline instanceof Date ? deadline.getTime() : Number(deadline)) - Date.now();
  const timer = Number.isFinite(ms) ? setTimeout(abort, Math.max(0, ms)) : undefined;
  if (call.cancelled) abort();
  else call.once('cancelled', abort);
  const cleanup = (): void => {
    if (timer !== undefined) clearTimeout(timer);
    call.removeListener('cancelled', abort);
  };
  op().then(
    (res) => {
      cleanup();
      cb(null, res);
    },
    (err: unknown) => {
      cleanup();
      internalError(err, cb);
    },
  );
}

function reply<T>(p: Promise<T>, cb: grpc.sendUnaryData<T>): void {
  p.then(
    (res) => cb(null, res),
    (err: unknown) => internalError(err, cb),
  );
}

/** Not reached for user-caused errors (each handler answers them as return codes); a bug still answers. */
function internalError<T>(err: unknown, cb: grpc.sendUnaryData<T>): void {
  cb({ code: 13, details: FlmError.from(err).message } as grpc.ServiceError, null);
}
