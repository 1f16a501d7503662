/**
 * The Instance service's messages, handlers and client, typed by the code
 * generated from proto/flame (src/generated/flame; loaded by src/wire/protos).
 * What the service receives are the generated `__Output` forms (snake_case,
 * bytes as Buffer, unset fields absent: defaults are off); what it answers
 * are the permissive input forms.
 */
import * as grpc from '@grpc/grpc-js';
import type { InstanceClient as GeneratedInstanceClient, InstanceHandlers } from '../generated/flame/flame/v1/Instance';
import type { EmptyRequest__Output } from '../generated/flame/flame/v1/EmptyRequest';
import type { Result__Output } from '../generated/flame/flame/v1/Result';
import type { SessionContext, SessionContext__Output } from '../generated/flame/flame/v1/SessionContext';
import type { TaskContext, TaskContext__Output } from '../generated/flame/flame/v1/TaskContext';
import type { TaskResult__Output } from '../generated/flame/flame/v1/TaskResult';
import { flameProtos } from '../wire/protos';

export type { InstanceHandlers };
/** What a handler receives. */
export type { SessionContext__Output as SessionContext, TaskContext__Output as TaskContext, EmptyRequest__Output as EmptyRequest };

/**
 * Results with their return code always there: proto3 leaves a zero off the
 * wire, and a peer that does (Flame's own executor manager, in Rust) then
 * answers no return_code at all for success.
 */
export interface Result extends Result__Output { return_code: number }
export interface TaskResult extends TaskResult__Output { return_code: number }

interface Loaded {
  /** flame.v1.Instance, and the same service under the pre-0.6 package name `flame`. */
  services: grpc.ServiceDefinition[];
  /** Client constructor for flame.v1.Instance (used by the CLI, tests and benchmarks). */
  InstanceClient: ReturnType<typeof flameProtos>['flame']['v1']['Instance'];
}

export function instanceProtos(): Loaded {
  const pkg = flameProtos();
  return { services: [pkg.flame.v1.Instance.service, pkg.flame.Instance.service], InstanceClient: pkg.flame.v1.Instance };
}

/** A typed client for the Instance service (promisified unary calls). */
export interface InstanceClient {
  enter(ctx: SessionContext, deadlineMs?: number): Promise<Result>;
  invoke(task: TaskContext, deadlineMs?: number): Promise<TaskResult>;
  leave(deadlineMs?: number): Promise<Result>;
  /** Resolves once the channel is connected (an orchestrator connects once, before its first call). */
  ready(deadlineMs: number): Promise<void>;
  close(): void;
}

/** Connects to an Instance service at `unix:///path` or `host:port`. */
export function connectInstance(target: string, credentials = grpc.credentials.createInsecure()): InstanceClient {
  const { InstanceClient: Ctor } = instanceProtos();
  const client: GeneratedInstanceClient = new Ctor(target, credentials, {
    'grpc.max_receive_message_length': -1,
    'grpc.max_send_message_length': -1,
  });
  const options = (deadlineMs?: number): grpc.CallOptions => (deadlineMs ? { deadline: Date.now() + deadlineMs } : {});
  const settle = <T extends Result__Output>(resolve: (v: T & { return_code: number }) => void, reject: (e: unknown) => void) =>
    (err: grpc.ServiceError | null, res?: T): void => {
      if (err) reject(err);
      else if (res === undefined) reject(new Error('the call ended without an answer'));
      else resolve({ ...res, return_code: res.return_code ?? 0 });
    };
  return {
    enter: (ctx, d) => new Promise((resolve, reject) => void client.OnSessionEnter(ctx, options(d), settle(resolve, reject))),
    invoke: (task, d) => new Promise((resolve, reject) => void client.OnTaskInvoke(task, options(d), settle(resolve, reject))),
    leave: (d) => new Promise((resolve, reject) => void client.OnSessionLeave({}, options(d), settle(resolve, reject))),
    ready: (deadlineMs) => new Promise((resolve, reject) => client.waitForReady(Date.now() + deadlineMs, (err) => (err ? reject(err) : resolve()))),
    close: () => client.close(),
  };
}
