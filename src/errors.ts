/**
 * The one error type for flmrun-js's own failures.
 *
 * Every failure a user can cause is an FlmError with a code that maps both to
 * Flame's shim return codes (docs/protocol.md §2) and to a gRPC status (for the cache
 * server). Unknown throwables are converted in one place: `FlmError.from`.
 *
 * An error is data, rendered twice: `message` (the detail) is for the client,
 * who owns the data it may quote (an argument, a URL as rendered by
 * redact.ts); `toLog()` is for log lines at info and above, and holds only the
 * code, the operation, a fixed summary and structured fields, which never
 * quote the client's data. Nothing branches on message text: code,
 * operation and fields are the typed parts. `toData()`/`fromData()` carry an
 * error across a thread or process boundary.
 */
// grpc-js's constants module alone: the session process must not load all of grpc-js (~60 ms CPU) for status numbers.
import { Status as GrpcStatus } from '@grpc/grpc-js/build/src/constants';

export enum ErrorCode {
  /** The user's code threw or rejected (shim code 1). */
  UserError = 'USER_ERROR',
  /** Undecodable input, bad arguments, unknown method, bad archive (shim code 2). */
  InvalidInput = 'INVALID_INPUT',
  /** A named object, key or file does not exist (shim code 2, gRPC NOT_FOUND). */
  NotFound = 'NOT_FOUND',
  /** Cache unreachable, download failed, timed out (shim code 3). */
  Unavailable = 'UNAVAILABLE',
  /** A deadline passed (shim code 3, gRPC DEADLINE_EXCEEDED). */
  DeadlineExceeded = 'DEADLINE_EXCEEDED',
  /** A configured limit was hit (size, count, ratio) (shim code 2). */
  LimitExceeded = 'LIMIT_EXCEEDED',
  /** Not supported by this implementation (gRPC UNIMPLEMENTED). */
  Unimplemented = 'UNIMPLEMENTED',
  /** A bug or an unexpected state in flmrun-js itself (shim code 1). */
  Internal = 'INTERNAL',
}

/** Flame's shim return codes (docs/protocol.md §2). */
export const ReturnCode = {
  Success: 0,
  GeneralError: 1,
  InvalidInput: 2,
  Unavailable: 3,
} as const;

const SHIM_CODES: Record<ErrorCode, number> = {
  [ErrorCode.UserError]: ReturnCode.GeneralError,
  [ErrorCode.InvalidInput]: ReturnCode.InvalidInput,
  [ErrorCode.NotFound]: ReturnCode.InvalidInput,
  [ErrorCode.Unavailable]: ReturnCode.Unavailable,
  [ErrorCode.DeadlineExceeded]: ReturnCode.Unavailable,
  [ErrorCode.LimitExceeded]: ReturnCode.InvalidInput,
  [ErrorCode.Unimplemented]: ReturnCode.InvalidInput,
  [ErrorCode.Internal]: ReturnCode.GeneralError,
};

const GRPC_CODES: Record<ErrorCode, GrpcStatus> = {
  [ErrorCode.UserError]: GrpcStatus.UNKNOWN,
  [ErrorCode.InvalidInput]: GrpcStatus.INVALID_ARGUMENT,
  [ErrorCode.NotFound]: GrpcStatus.NOT_FOUND,
  [ErrorCode.Unavailable]: GrpcStatus.UNAVAILABLE,
  [ErrorCode.DeadlineExceeded]: GrpcStatus.DEADLINE_EXCEEDED,
  [ErrorCode.LimitExceeded]: GrpcStatus.RESOURCE_EXHAUSTED,
  [ErrorCode.Unimplemented]: GrpcStatus.UNIMPLEMENTED,
  [ErrorCode.Internal]: GrpcStatus.INTERNAL,
};

const FROM_GRPC: Partial<Record<number, ErrorCode>> = {
  [GrpcStatus.INVALID_ARGUMENT]: ErrorCode.InvalidInput,
  [GrpcStatus.NOT_FOUND]: ErrorCode.NotFound,
  [GrpcStatus.UNAVAILABLE]: ErrorCode.Unavailable,
  [GrpcStatus.DEADLINE_EXCEEDED]: ErrorCode.DeadlineExceeded,
  [GrpcStatus.RESOURCE_EXHAUSTED]: ErrorCode.LimitExceeded,
  [GrpcStatus.UNIMPLEMENTED]: ErrorCode.Unimplemented,
};

/** Node system error codes that mean "the other side is not there". */
const UNAVAILABLE_ERRNOS = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'EPIPE', 'ETIMEDOUT',
]);

/** What a code means, in words that quote nothing: the summary when none is given. */
const SUMMARIES: Record<ErrorCode, string> = {
  [ErrorCode.UserError]: "the application's code failed",
  [ErrorCode.InvalidInput]: 'invalid input',
  [ErrorCode.NotFound]: 'not found',
  [ErrorCode.Unavailable]: 'unavailable',
  [ErrorCode.DeadlineExceeded]: 'deadline exceeded',
  [ErrorCode.LimitExceeded]: 'a limit was exceeded',
  [ErrorCode.Unimplemented]: 'not implemented',
  [ErrorCode.Internal]: 'internal error',
};

/**
 * Structured facts about an error that are safe in any log line: limits,
 * sizes, status numbers, option names, a URL rendered by redact.ts. Never the
 * client's data.
 */
export type ErrorFields = Readonly<Record<string, string | number | boolean>>;

export interface FlmErrorOptions {
  cause?: unknown;
  /** What was being done, in fixed words: 'session enter', 'package fetch', 'cache get'. */
  operation?: string;
  /** A fixed sentence that quotes nothing; defaults to what the code means. */
  summary?: string;
  fields?: ErrorFields;
}

/** An FlmError as plain data (structured-clone and JSON safe). */
export interface FlmErrorData {
  code: ErrorCode;
  /** The detail, for the client. */
  message: string;
  summary: string;
  operation?: string;
  fields?: ErrorFields;
}

/** What a log line at info and above may say about an error. */
export interface LoggedError {
  code: ErrorCode;
  summary: string;
  operation?: string;
  fields?: ErrorFields;
}

const CODES = new Set<string>(Object.values(ErrorCode));

// Marker so that `isFlmError` works across module copies (jest, worker threads).
const FLM_ERROR = Symbol.for('flmrun-js.FlmError');

export class FlmError extends Error {
  readonly code: ErrorCode;
  readonly operation: string | undefined;
  readonly summary: string;
  readonly fields: ErrorFields | undefined;
  readonly [FLM_ERROR] = true;

  constructor(code: ErrorCode, message: string, options: FlmErrorOptions = {}) {
    super(message, 'cause' in options ? { cause: options.cause } : undefined);
    this.name = 'FlmError';
    this.code = code;
    this.operation = options.operation;
    this.summary = options.summary ?? SUMMARIES[code];
    this.fields = options.fields;
  }

  /** The detail: what the client is told (the message). */
  get detail(): string {
    return this.message;
  }

  /** The rendering for log lines at info and above: no detail. */
  toLog(): LoggedError {
    const out: LoggedError = { code: this.code, summary: this.summary };
    if (this.operation !== undefined) out.operation = this.operation;
    if (this.fields !== undefined) out.fields = this.fields;
    return out;
  }

  toData(): FlmErrorData {
    return { ...this.toLog(), message: this.message };
  }

  /**
   * The error that `toData()` described. Anything else (a peer of another
   * version, a corrupted message) becomes an Internal error saying so: the
   * data came from our own code, so a bad shape is our bug.
   */
  static fromData(data: unknown): FlmError {
    const d = (typeof data === 'object' && data !== null ? data : {}) as Partial<Record<keyof FlmErrorData, unknown>>;
    if (typeof d.code !== 'string' || !CODES.has(d.code) || typeof d.message !== 'string') {
      return new FlmError(ErrorCode.Internal, `an error arrived in an unknown form: ${describeThrown(data)}`);
    }
    return new FlmError(d.code as ErrorCode, d.message, {
      operation: typeof d.operation === 'string' ? d.operation : undefined,
      summary: typeof d.summary === 'string' ? d.summary : undefined,
      fields: safeFields(d.fields),
    });
  }

  /** Flame shim return code for this error. */
  get returnCode(): number {
    return SHIM_CODES[this.code];
  }

  /** gRPC status code for this error. */
  get grpcCode(): GrpcStatus {
    return GRPC_CODES[this.code];
  }

  /**
   * Converts any throwable into an FlmError, keeping the original as `cause`.
   * `context` prefixes the detail; an FlmError keeps its code, summary,
   * operation and fields.
   */
  static from(err: unknown, fallback: ErrorCode = ErrorCode.Internal, context?: string): FlmError {
    if (isFlmError(err)) {
      return context
        ? new FlmError(err.code, `${context}: ${err.message}`, { cause: err, operation: err.operation, summary: err.summary, fields: err.fields })
        : err;
    }
    const code = classify(err) ?? fallback;
    const text = describeThrown(err);
    return new FlmError(code, context ? `${context}: ${text}` : text, { cause: err });
  }
}

function safeFields(v: unknown): ErrorFields | undefined {
  if (typeof v !== 'object' || v === null) return undefined;
  const out: Record<string, string | number | boolean> = {};
  for (const [k, x] of Object.entries(v)) {
    if (typeof x === 'string' || typeof x === 'number' || typeof x === 'boolean') out[k] = x;
  }
  return out;
}

export function isFlmError(err: unknown): err is FlmError {
  return typeof err === 'object' && err !== null && (err as Record<symbol, unknown>)[FLM_ERROR] === true;
}

/** Finds a code for a gRPC or Node system error by walking its `cause` chain. */
function classify(err: unknown): ErrorCode | undefined {
  for (let e: unknown = err, depth = 0; e && typeof e === 'object' && depth < 8; depth++) {
    const rec = e as { code?: unknown; cause?: unknown };
    if (typeof rec.code === 'number' && FROM_GRPC[rec.code]) return FROM_GRPC[rec.code];
    if (typeof rec.code === 'string' && UNAVAILABLE_ERRNOS.has(rec.code)) return ErrorCode.Unavailable;
    e = rec.cause;
  }
  return undefined;
}

/** `Class: message` for Errors; the type and string form for any other thrown value. */
export function describeThrown(err: unknown): string {
  if (err instanceof Error) {
    const name = err.constructor?.name && err.constructor.name !== 'Error' ? err.constructor.name : err.name;
    return `${name}: ${err.message}`;
  }
  if (err === null) return 'thrown null';
  if (err === undefined) return 'thrown undefined';
  let text: string;
  try {
    text = typeof err === 'object' ? JSON.stringify(err) ?? String(err) : String(err);
  } catch {
    text = Object.prototype.toString.call(err);
  }
  return `thrown ${typeof err === 'object' ? (err.constructor?.name ?? 'object') : typeof err}: ${text}`;
}

/** Shorthands used across modules. */
export const invalidInput = (message: string, cause?: unknown): FlmError =>
  new FlmError(ErrorCode.InvalidInput, message, { cause });
export const unavailable = (message: string, cause?: unknown): FlmError =>
  new FlmError(ErrorCode.Unavailable, message, { cause });
export const notFound = (message: string, cause?: unknown): FlmError =>
  new FlmError(ErrorCode.NotFound, message, { cause });
export const limitExceeded = (message: string, cause?: unknown): FlmError =>
  new FlmError(ErrorCode.LimitExceeded, message, { cause });
