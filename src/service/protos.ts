/**
 * Loads the Flame shim protos (proto/flame) once and types the messages.
 * The interfaces mirror proto/flame/v1/types.proto as proto-loader presents
 * them with LOADER_OPTIONS (snake_case names, bytes as Buffer, optional fields
 * absent when unset).
 */
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

export const PROTO_DIR = path.join(__dirname, '..', '..', 'proto');

export const LOADER_OPTIONS: protoLoader.Options = {
  keepCase: true,
  longs: Number,
  enums: String,
  defaults: false,
  oneofs: true,
  includeDirs: [PROTO_DIR],
};

export interface ApplicationContext {
  name?: string;
  shim?: string;
  image?: string;
  command?: string;
  working_directory?: string;
  url?: string;
  installer?: string;
}

export interface SessionContext {
  session_id?: string;
  application?: ApplicationContext | null;
  common_data?: Buffer;
}

export interface TaskContext {
  task_id?: string;
  session_id?: string;
  input?: Buffer;
}

export interface Result {
  return_code: number;
  message?: string;
}

export interface TaskResult {
  return_code: number;
  output?: Buffer;
  message?: string;
}

export type EmptyRequest = Record<string, never>;

export interface InstanceHandlers {
  OnSessionEnter: grpc.handleUnaryCall<SessionContext, Result>;
  OnTaskInvoke: grpc.handleUnaryCall<TaskContext, TaskResult>;
  OnSessionLeave: grpc.handleUnaryCall<EmptyRequest, Result>;
}

interface Loaded {
  /** flame.v1.Instance, and the same service under the pre-0.6 package name `flame`. */
  services: grpc.ServiceDefinition[];
  /** Client constructor for flame.v1.Instance (used by the CLI, tests and benchmarks). */
  InstanceClient: grpc.ServiceClientConstructor;
}

let loaded: Loaded | undefined;

export function instanceProtos(): Loaded {
  if (!loaded) {
    const def = protoLoader.loadSync(
      [path.join(PROTO_DIR, 'flame/v1/shim.proto'), path.join(PROTO_DIR, 'flame/legacy/shim.proto')],
      LOADER_OPTIONS,
    );
    const pkg = grpc.loadPackageDefinition(def) as unknown as {
      flame: { Instance: grpc.ServiceClientConstructor; v1: { Instance: grpc.ServiceClientConstructor } };
    };
    loaded = {
      services: [pkg.flame.v1.Instance.service, pkg.flame.Instance.service],
      InstanceClient: pkg.flame.v1.Instance,
    };
  }
  return loaded;
}

/** A typed client for the Instance service (promisified unary calls). */
export interface InstanceClient {
  enter(ctx: SessionContext, deadlineMs?: number): Promise<Result>;
  invoke(task: TaskContext, deadlineMs?: number): Promise<TaskResult>;
  leave(deadlineMs?: number): Promise<Result>;
  close(): void;
}

/** Connects to an Instance service at `unix:///path` or `host:port`. */
export function connectInstance(target: string, credentials = grpc.credentials.createInsecure()): InstanceClient {
  const { InstanceClient: Ctor } = instanceProtos();
  const client = new Ctor(target, credentials, {
    'grpc.max_receive_message_length': -1,
    'grpc.max_send_message_length': -1,
  }) as unknown as grpc.Client & Record<string, (...a: unknown[]) => unknown>;
  const call = <Req, Res>(method: string, req: Req, deadlineMs?: number): Promise<Res> =>
    new Promise((resolve, reject) => {
      const opts = deadlineMs ? { deadline: Date.now() + deadlineMs } : {};
      (client[method] as (r: Req, o: object, cb: (e: grpc.ServiceError | null, r: Res) => void) => void).call(
        client,
        req,
        opts,
        (err, res) => (err ? reject(err) : resolve(res)),
      );
    });
  return {
    enter: (ctx, d) => call('OnSessionEnter', ctx, d),
    invoke: (task, d) => call('OnTaskInvoke', task, d),
    leave: (d) => call('OnSessionLeave', {}, d),
    close: () => client.close(),
  };
}
