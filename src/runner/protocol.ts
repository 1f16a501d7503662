/**
 * The typed channel between a SessionSupervisor (the instance process) and
 * its session child process (src/runner/child-entry.ts). Every request the
 * supervisor sends carries an id; the child answers each with exactly one
 * reply of the same id. `log` and `uncaught` are the only unsolicited
 * messages. Messages travel as frames (src/runner/frames.ts) on the child's
 * fd CHANNEL_FD: plain JSON data, whose Uint8Array fields go as raw bytes.
 */

/** The child's end of the channel; the supervisor names it in CHANNEL_ENV, which the child removes at once. */
export const CHANNEL_FD = 3;
export const CHANNEL_ENV = 'FLMRUN_SESSION_CHANNEL_FD';
import type { FlmErrorData } from '../errors';

export interface SessionSpec {
  sessionId: string;
  /** ApplicationContext.name; results go under `<appName>/<sessionId>`. */
  appName: string;
  /** Installed package directory, if any. */
  packageRoot?: string;
  /** Working directory; a context `module` is resolved against packageRoot ?? workDir. */
  workDir: string;
  /** SessionContext.common_data (docs/protocol.md §5). */
  commonData?: Uint8Array;
}

/** What the child needs to enter the session. */
export interface ChildInit {
  spec: SessionSpec;
  cacheEndpoint: string;
  caFile?: string;
  /** Deadline of each cache call (CacheClient deadlineMs); undefined = its default. */
  cacheDeadlineMs?: number;
  /** CacheClient keepaliveMs (and keepaliveTimeoutMs, the same); undefined = its defaults. */
  cacheKeepaliveMs?: number;
  refConcurrency: number;
  /** pino level and bindings of the supervisor's logger; log lines travel back as messages. */
  logLevel: string;
  logBindings: Record<string, unknown>;
  /** Latest persisted state known to the session; wins over the context's own `state`. */
  state?: Uint8Array;
}

export interface TaskOutcome {
  returnCode: number;
  output?: Buffer;
  message?: string;
  /** A failure as data (code, operation, summary, fields): what logs may show of it. */
  error?: FlmErrorData;
}

export type Request =
  | { type: 'enter'; id: number; init: ChildInit }
  | { type: 'invoke'; id: number; taskId: string; input?: Uint8Array }
  | { type: 'leave'; id: number; reason: string };

/** Not a request: fires the running task's AbortSignal (no reply; the task's own reply follows). */
export interface AbortNotice {
  type: 'abort';
  /** The id of the invoke request to abort. */
  id: number;
  reason: string;
}

export type ToChild = Request | AbortNotice;

export type Reply =
  | { type: 'entered'; id: number }
  | { type: 'enter-failed'; id: number; error: FlmErrorData }
  | { type: 'done'; id: number; returnCode: number; output?: Uint8Array; message?: string; error?: FlmErrorData; state?: Uint8Array }
  | { type: 'left'; id: number };

export type Notice =
  | { type: 'log'; line: string }
  /** An error nobody caught; the child exits right after sending it. */
  | { type: 'uncaught'; message: string };

export type FromChild = Reply | Notice;

/** The reply type each request is answered with. */
export interface ReplyTo {
  enter: Extract<Reply, { type: 'entered' | 'enter-failed' }>;
  invoke: Extract<Reply, { type: 'done' }>;
  leave: Extract<Reply, { type: 'left' }>;
}

export function isReply(msg: FromChild): msg is Reply {
  return msg.type !== 'log' && msg.type !== 'uncaught';
}
