/**
 * Flame's Instance shim protocol (SPEC 2): one session at a time, its tasks,
 * its leave. The service only supervises: packages are installed by the
 * package manager, user code runs in the session's worker (src/runner).
 *
 * Operations are serialized through one queue, as the executor manager sends
 * them one at a time; a client that sends them concurrently gets the same
 * ordering instead of a race.
 */
import type * as grpc from '@grpc/grpc-js';
import { ErrorCode, FlmError, ReturnCode, type FlmErrorData, type LoggedError } from '../errors';
import type { Logger } from '../log';
import { safeUrl } from '../redact';
import type { InstalledPackage, PackageManager } from '../packages';
import type { RunnerOptions, SessionWorker, SessionSpec, TaskOutcome } from '../runner/session-worker';
import type { EmptyRequest, InstanceHandlers, Result, SessionContext, TaskContext, TaskResult } from './protos';
import { SerialQueue } from './serial-queue';
import { resultPrefix } from '../wire/keys';

export interface InstanceServiceDeps {
  packages: PackageManager;
  startWorker: (spec: SessionSpec, opts: RunnerOptions) => Promise<SessionWorker>;
  runnerOptions: RunnerOptions;
  workDir: string;
  logger: Logger;
}

interface ActiveSession {
  id: string;
  appName: string;
  worker: SessionWorker;
  pkg?: InstalledPackage;
  log: Logger;
}

type State = 'idle' | 'active' | 'closing' | 'closed';

const NAME_RE = /^[^/\\]+$/;

export class InstanceService {
  private state: State = 'idle';
  private session: ActiveSession | undefined;
  private readonly queue = new SerialQueue();
  private readonly log: Logger;

  constructor(private readonly deps: InstanceServiceDeps) {
    this.log = deps.logger.child({ component: 'instance' });
  }

  /** gRPC handlers for flame.v1.Instance (and its legacy alias). */
  handlers(): InstanceHandlers {
    return {
      OnSessionEnter: (call, cb) => reply(this.enter(call.request), cb),
      OnTaskInvoke: (call, cb) => reply(this.invoke(call.request), cb),
      OnSessionLeave: (call, cb) => reply(this.leave(call.request), cb),
    };
  }

  get sessionId(): string | undefined {
    return this.session?.id;
  }

  enter(ctx: SessionContext): Promise<Result> {
    return this.queue.run(async () => {
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
      try {
        if (app.url) pkg = await this.deps.packages.install(app.url, sessionId);
        else await this.deps.packages.requireWorkDirPackage(appName);
        const spec: SessionSpec = {
          sessionId,
          appName,
          packageRoot: pkg?.root,
          workDir: this.deps.workDir,
          commonData: ctx.common_data && ctx.common_data.length > 0 ? ctx.common_data : undefined,
        };
        const worker = await this.deps.startWorker(spec, { ...this.deps.runnerOptions, logger: log });
        this.session = { id: sessionId, appName, worker, pkg, log };
        this.state = 'active';
        log.info('session ready');
        return { return_code: ReturnCode.Success };
      } catch (err) {
        await pkg?.release().catch((e: unknown) => log.warn({ err: e }, 'package release failed'));
        const e = FlmError.from(err, ErrorCode.Internal);
        // The detail may quote the user's data (an init_args value in an error): debug only.
        log.warn({ returnCode: e.returnCode, error: e.toLog() }, 'session enter failed');
        log.debug({ err: e }, 'session enter failed');
        return failure(e.returnCode, e.message);
      }
    });
  }

  invoke(task: TaskContext): Promise<TaskResult> {
    return this.queue.run(async (): Promise<TaskResult> => {
      const s = this.session;
      const taskId = task.task_id ?? '';
      if (!s) return failure(ReturnCode.InvalidInput, `task ${taskId || '(no id)'}: no session; OnSessionEnter must come first`);
      if (task.session_id && task.session_id !== s.id) {
        return failure(ReturnCode.InvalidInput, `task ${taskId} is for session "${task.session_id}", but the active session is "${s.id}"`);
      }
      const log = s.log.child({ taskId });
      log.debug({ inputBytes: task.input?.length ?? 0 }, 'task invoke');
      let outcome: Outcome;
      try {
        outcome = await s.worker.invoke(taskId, task.input);
      } catch (err) {
        const e = FlmError.from(err, ErrorCode.Internal);
        outcome = { returnCode: e.returnCode, message: e.message, error: e.toData() };
      }
      if (outcome.returnCode === ReturnCode.Success) log.debug('task done');
      else {
        // The message goes back to the client; it may quote task data (a user error
        // echoing its argument), so info gets only the error's log rendering.
        log.info({ returnCode: outcome.returnCode, error: loggedError(outcome) }, 'task failed');
        log.debug({ message: outcome.message }, 'task failed');
      }
      const res: TaskResult = { return_code: outcome.returnCode };
      if (outcome.output) res.output = outcome.output;
      if (outcome.message) res.message = outcome.message;
      return res;
    });
  }

  leave(_req?: EmptyRequest): Promise<Result> {
    return this.queue.run(async () => {
      if (!this.session) return { return_code: ReturnCode.Success, message: 'no active session' };
      await this.closeSession();
      return { return_code: ReturnCode.Success };
    });
  }

  /** Graceful stop: lets the queued/running operation finish (up to graceMs), then leaves the session. */
  async close(graceMs: number): Promise<void> {
    if (this.state === 'closed' || this.state === 'closing') return;
    this.state = 'closing';
    const idle = this.queue.idle();
    let timer: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([
      idle.then(() => false),
      new Promise<boolean>((r) => {
        timer = setTimeout(() => r(true), graceMs);
        timer.unref();
      }),
    ]);
    clearTimeout(timer);
    if (timedOut) this.log.warn({ graceMs }, 'grace period over: disposing the session with a task still running');
    await this.closeSession('shutdown');
    this.state = 'closed';
  }

  private async closeSession(reason = 'session leave'): Promise<void> {
    const s = this.session;
    if (!s) return;
    this.session = undefined;
    if (this.state === 'active') this.state = 'idle';
    try {
      await s.worker.close(reason);
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

/**
 * A task's outcome; `error` is the failure as data (FlmError.toData) when the
 * worker sends it, so that its log rendering needs no message text.
 */
type Outcome = TaskOutcome & { error?: FlmErrorData };

/** What info may say about a failed task: the error's own log rendering, else only what its code means. */
function loggedError(outcome: Outcome): LoggedError | { summary: string } {
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

function reply<T>(p: Promise<T>, cb: grpc.sendUnaryData<T>): void {
  p.then(
    (res) => cb(null, res),
    // Not reached for user-caused errors (each handler answers them as return codes); a bug still answers.
    (err: unknown) => cb({ code: 13, details: FlmError.from(err).message } as grpc.ServiceError, null),
  );
}
