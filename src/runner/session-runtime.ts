/**
 * One session inside its child process: the execution object and everything
 * a task needs (docs/protocol.md §2 OnTaskInvoke): decode the request, fetch ObjectRef
 * arguments, call, persist state, store the result, answer an ObjectRef.
 */
import { formatKey, resultPrefix } from '../wire/keys';
import type { Logger } from 'pino';
import { ErrorCode, FlmError, ReturnCode, describeThrown, isFlmError } from '../errors';
import type { CacheObject, CachePayload, ObjectRef } from '../wire/cache-types';
import { encodeObjectRef } from '../wire/object-ref';
import { mapBounded } from './bounded';
import { bindMethod, callArguments } from './invoke';
import { instantiate, loadTarget, type LoadedTarget } from './loader';
import { captureState, restoreState, sameState } from './state';
import { runInTask, type TaskInfo } from './task-context';
import { describeUserError } from './user-stack';
import type { SessionSpec } from './protocol';
import type { TaskOutcome } from './protocol';
import type { RunnerContext, RunnerRequest } from '../codecs';

/** The cache as the runtime uses it (the real CacheClient in the session process). */
export interface RuntimeCache {
  put(prefix: string, payload: CachePayload): Promise<ObjectRef>;
  update(key: string, payload: CachePayload): Promise<ObjectRef>;
  get(ref: ObjectRef): Promise<CacheObject>;
}

/** The codecs as the runtime uses them (src/codecs in the session process). */
export interface RuntimeCodecs {
  decodeCommonData(bytes: Uint8Array): { kind: 'ref'; ref: ObjectRef } | { kind: 'context'; context: RunnerContext };
  decodeContextObject(obj: CacheObject): RunnerContext;
  encodeContextPayload(ctx: RunnerContext): CachePayload;
  decodeRunnerRequest(bytes: Uint8Array): RunnerRequest;
  /** The ObjectRef an argument stands for, or undefined for a plain value. */
  argumentRef(value: unknown): ObjectRef | undefined;
  encodeValue(value: unknown, options?: { name?: string }): CachePayload;
  decodeValue(obj: CacheObject): unknown;
}

export interface RuntimeOptions {
  spec: SessionSpec;
  cache: RuntimeCache;
  cacheEndpoint: string;
  codecs: RuntimeCodecs;
  logger: Logger;
  refConcurrency: number;
  /** Latest persisted state known to the session (wins over the context's). */
  state?: Uint8Array;
}

export interface TaskResultWithState extends TaskOutcome {
  state?: Buffer;
}

export class SessionRuntime {
  private current: RunningTask | undefined;
  private disposed = false;
  /** The state last persisted (or restored), so that a task that changed nothing writes nothing. */
  private persisted: Uint8Array | undefined;
  /** Where results go: `<app>/<session>`, checked once. */
  private readonly resultPrefix: string;

  private constructor(
    private readonly opts: RuntimeOptions,
    private readonly root: string,
    private readonly context: RunnerContext,
    private readonly contextRef: ObjectRef | undefined,
    private readonly target: LoadedTarget,
    private readonly instance: unknown,
  ) {
    this.resultPrefix = formatKey(resultPrefix(opts.spec.appName, opts.spec.sessionId));
  }

  /** Loads the context and the module; rejects with a classified FlmError. */
  static async enter(opts: RuntimeOptions): Promise<SessionRuntime> {
    const { spec, codecs } = opts;
    let context: RunnerContext = { stateful: false, autoscale: false, warmup: 0 };
    let contextRef: ObjectRef | undefined;
    if (spec.commonData && spec.commonData.length > 0) {
      const common = codecs.decodeCommonData(spec.commonData);
      if (common.kind === 'ref') {
        contextRef = common.ref;
        const obj = await fetch(opts, common.ref, 'the session context');
        context = codecs.decodeContextObject(obj);
      } else {
        context = common.context;
      }
    }
    const root = spec.packageRoot ?? spec.workDir;
    const target = await loadTarget({ root, workDir: spec.workDir, module: context.module, exportPath: context.export });
    const instance = instantiate(target, context.initArgs, root);
    if (context.stateful) restoreState(instance, opts.state ?? context.state);
    opts.logger.info({ target: target.label, kind: target.kind, stateful: context.stateful }, 'session entered');
    const runtime = new SessionRuntime(opts, root, context, contextRef, target, instance);
    runtime.persisted = opts.state ?? context.state;
    return runtime;
  }

  async runTask(taskId: string, input: Uint8Array | undefined): Promise<TaskResultWithState> {
    const task = new RunningTask(taskId, this.opts.spec.sessionId, this.opts.spec.appName, this.opts.logger);
    this.current = task;
    try {
      return await this.run(task, input);
    } catch (err) {
      const e = FlmError.from(err, ErrorCode.Internal);
      if (e.code === ErrorCode.Internal) task.logger.error({ err }, 'task failed inside the runner');
      return { returnCode: e.returnCode, message: e.message, error: e.toData() };
    } finally {
      this.current = undefined;
    }
  }

  private async run(task: RunningTask, input: Uint8Array | undefined): Promise<TaskResultWithState> {
    const { codecs } = this.opts;
    if (!input || input.length === 0) {
      return fail(ReturnCode.InvalidInput, 'task input is empty: expected a runner request {method, args, kwargs}');
    }
    const request = codecs.decodeRunnerRequest(input);
    const bound = bindMethod(this.instance, this.target.kind, request.method, this.target.label);
    const args = await this.resolveArguments(request);

    let result: unknown;
    try {
      result = await runInTask(task, () => bound.call(args));
    } catch (err) {
      task.logger.debug({ err }, 'user code threw');
      return fail(ReturnCode.GeneralError, describeUserError(err, this.root));
    }

    let state: Buffer | undefined;
    if (this.context.stateful) {
      state = captureState(this.instance);
      if (state && this.contextRef && !sameState(state, this.persisted)) {
        await this.writeBackContext(state);
      }
      this.persisted = state;
    }

    let payload: CachePayload;
    try {
      payload = codecs.encodeValue(result ?? null, { name: `the result of ${bound.name}` });
    } catch (err) {
      const why = isFlmError(err) ? err.message : describeThrown(err);
      return { ...fail(ReturnCode.GeneralError, `the result of ${bound.name} cannot be stored: ${why}`), state };
    }
    const prefix = this.resultPrefix;
    let ref: ObjectRef;
    try {
      ref = await this.opts.cache.put(prefix, payload);
    } catch (err) {
      throw FlmError.from(err, ErrorCode.Unavailable, `cannot store the result under ${prefix} in the cache at ${this.opts.cacheEndpoint}`);
    }
    if (this.opts.logger.isLevelEnabled('debug')) task.logger.debug({ key: ref.key, version: ref.version }, 'result stored');
    return { returnCode: ReturnCode.Success, output: encodeObjectRef(ref), state };
  }

  /** Fetches every ObjectRef argument (positional and keyword), at most refConcurrency at once. */
  private async resolveArguments(request: RunnerRequest): Promise<unknown[]> {
    const { codecs } = this.opts;
    const args = [...request.args];
    const kwargs = request.kwargs ? { ...request.kwargs } : null;
    const slots: { ref: ObjectRef; what: string; set: (v: unknown) => void }[] = [];
    args.forEach((v, i) => {
      const ref = codecs.argumentRef(v);
      if (ref) slots.push({ ref, what: `argument ${i}`, set: (x) => (args[i] = x) });
    });
    for (const [k, v] of Object.entries(kwargs ?? {})) {
      const ref = codecs.argumentRef(v);
      if (ref) slots.push({ ref, what: `keyword argument '${k}'`, set: (x) => (kwargs![k] = x) });
    }
    if (slots.length > 0) {
      await mapBounded(slots, this.opts.refConcurrency, async (slot) => {
        slot.set(codecs.decodeValue(await fetch(this.opts, slot.ref, slot.what)));
      });
    }
    return callArguments(args, kwargs);
  }

  private async writeBackContext(state: Buffer): Promise<void> {
    const ref = this.contextRef!;
    const payload = this.opts.codecs.encodeContextPayload({ ...this.context, state });
    try {
      await this.opts.cache.update(ref.key, payload);
    } catch (err) {
      throw FlmError.from(err, ErrorCode.Unavailable, `cannot persist the session state to ${ref.key} in the cache at ${ref.endpoint}`);
    }
  }

  /** Fires the running task's AbortSignal (timeout, session leave, shutdown). */
  abort(reason: string, taskId?: string): void {
    if (!this.current || (taskId !== undefined && this.current.taskId !== taskId)) return;
    this.current.abort(reason);
  }

  /** Session leave: abort the running task, dispose the execution object once. */
  async leave(reason: string): Promise<void> {
    this.abort(reason);
    if (this.disposed) return;
    this.disposed = true;
    const dispose = disposer(this.instance);
    if (!dispose) return;
    try {
      await dispose();
    } catch (err) {
      this.opts.logger.warn({ err: describeUserError(err, this.root) }, 'disposing the execution object failed');
    }
  }
}

/**
 * The task as user code sees it (`currentTask()`). Its AbortSignal and its
 * logger are made when first asked for: most tasks ask for neither, and an
 * AbortController is among the dearer objects a task would make.
 */
class RunningTask implements TaskInfo {
  // Private by the language (#), not by TypeScript alone: user code holds this object.
  #controller: AbortController | undefined;
  #bound: Logger | undefined;
  readonly #sessionLogger: Logger;

  constructor(
    readonly taskId: string,
    readonly sessionId: string,
    readonly appName: string,
    sessionLogger: Logger,
  ) {
    this.#sessionLogger = sessionLogger;
  }

  get signal(): AbortSignal {
    return (this.#controller ??= new AbortController()).signal;
  }

  get logger(): Logger {
    return (this.#bound ??= this.#sessionLogger.child({ taskId: this.taskId }));
  }

  /** Fires the signal, also for user code that asks for it only afterwards. */
  abort(reason: string): void {
    (this.#controller ??= new AbortController()).abort(new DOMException(reason, 'AbortError'));
  }
}

function fail(returnCode: number, message: string): TaskResultWithState {
  return { returnCode, message };
}

async function fetch(opts: RuntimeOptions, ref: ObjectRef, what: string): Promise<CacheObject> {
  try {
    return await opts.cache.get(ref);
  } catch (err) {
    throw FlmError.from(err, ErrorCode.Unavailable, `cannot fetch ${what} (${ref.key}) from the cache at ${ref.endpoint}`);
  }
}

const ASYNC_DISPOSE: symbol = (Symbol as { asyncDispose?: symbol }).asyncDispose ?? Symbol.for('nodejs.asyncDispose');
const DISPOSE: symbol = (Symbol as { dispose?: symbol }).dispose ?? Symbol.for('nodejs.dispose');

/** The execution object's disposer: Symbol.asyncDispose, Symbol.dispose, close() or dispose(). */
function disposer(instance: unknown): (() => unknown) | undefined {
  if ((typeof instance !== 'object' && typeof instance !== 'function') || instance === null) return undefined;
  const o = instance as Record<string | symbol, unknown>;
  for (const key of [ASYNC_DISPOSE, DISPOSE, 'close', 'dispose']) {
    const fn = o[key];
    if (typeof fn === 'function') return () => (fn as () => unknown).call(instance);
  }
  return undefined;
}
