/**
 * Drives an Instance service the way Flame's executor manager does, then reads
 * results back from the cache: the shared core of `invoke`, `get` and the demo.
 */
import { FlmError, ErrorCode } from '../errors';
import { connectInstance, type InstanceClient } from '../service/protos';
import { CacheClient } from '../cache/client';
import type { ObjectRef } from '../wire/cache-types';
import { decodeObjectRef } from '../wire/object-ref';
import { decodeValue, encodeRunnerContext, encodeRunnerRequest, type RunnerContext } from '../codecs';

export interface TaskSpec {
  method: string | null;
  args?: unknown[];
  kwargs?: Record<string, unknown> | null;
}

export interface TaskReply {
  ref: ObjectRef;
  value: unknown;
}

export class Driver {
  private readonly instance: InstanceClient;
  private readonly cache = new CacheClient({});
  private taskSeq = 0;

  constructor(target: string, private readonly sessionId: string) {
    this.instance = connectInstance(target);
  }

  async enter(appName: string, opts: { url?: string; context?: Partial<RunnerContext> } = {}): Promise<void> {
    const res = await this.instance.enter({
      session_id: this.sessionId,
      application: { name: appName, shim: 'Host', url: opts.url },
      common_data: opts.context ? encodeRunnerContext(toContext(opts.context)) : undefined,
    });
    if (res.return_code !== 0) {
      throw new FlmError(ErrorCode.InvalidInput, `session enter failed (code ${res.return_code}): ${res.message ?? ''}`);
    }
  }

  async run(task: TaskSpec): Promise<TaskReply> {
    const taskId = String(++this.taskSeq);
    const input = encodeRunnerRequest({ method: task.method, args: task.args ?? [], kwargs: task.kwargs ?? null });
    const res = await this.instance.invoke({ task_id: taskId, session_id: this.sessionId, input });
    if (res.return_code !== 0 || !res.output) {
      throw new FlmError(ErrorCode.UserError, `task ${taskId} failed (code ${res.return_code}): ${res.message ?? ''}`);
    }
    const ref = decodeObjectRef(res.output);
    return { ref, value: await this.fetch(ref) };
  }

  fetch(ref: ObjectRef): Promise<unknown> {
    return this.cache.get(ref).then((obj) => decodeValue(obj));
  }

  async leave(): Promise<void> {
    await this.instance.leave();
  }

  close(): void {
    this.instance.close();
    this.cache.close();
  }
}

function toContext(c: Partial<RunnerContext>): RunnerContext {
  return { stateful: false, autoscale: false, warmup: 0, ...c };
}

/** Reads an ObjectRef given as hex or base64 BSON, or as JSON {endpoint, key, version}. */
export function parseRefArgument(text: string): ObjectRef {
  const t = text.trim();
  if (t.startsWith('{')) {
    const o = JSON.parse(t) as ObjectRef;
    return { endpoint: String(o.endpoint), key: String(o.key), version: Number(o.version ?? 0) };
  }
  const bytes = /^[0-9a-fA-F]+$/.test(t) && t.length % 2 === 0 ? Buffer.from(t, 'hex') : Buffer.from(t, 'base64');
  return decodeObjectRef(bytes);
}
