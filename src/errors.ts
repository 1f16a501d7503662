/**
 * The one error type for flmrun-js's own failures.
 *
 * Every failure a user can cause is an FlmError with a code that maps both to
 * Flame's shim return codes (SPEC 2) and to a gRPC status (for the cache
 * server). Unknown throwables are converted in one place: `FlmError.from`.
 */
import { status as GrpcStatus } from '@grpc/grpc-js';

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

/** Flame's shim return codes (SPEC 2). */
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

// Marker so that `isFlmError` works across module copies (jest, worker threads).
const FLM_ERROR = Symbol.for('flmrun-js.FlmError');

export class FlmError extends Error {
  readonly code: ErrorCode;
  readonly [FLM_ERROR] = true;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'FlmError';
    this.code = code;
  }

  /** Flame shim return code for this error. */
  get returnCode(): number {
    return SHIM_CODES[this.code];
  }

  /** gRPC status code for this error. */
  get grpcCode(): GrpcStatus {
    return GRPC_CODES[this.code];
  }

  /** Converts any throwable into an FlmError, keeping the original as `cause`. */
  static from(err: unknown, fallback: ErrorCode = ErrorCode.Internal, context?: string): FlmError {
    if (isFlmError(err)) {
      return context ? new FlmError(err.code, `${context}: ${err.message}`, { cause: err }) : err;
    }
    const code = classify(err) ?? fallback;
    const text = describeThrown(err);
    return new FlmError(code, context ? `${context}: ${text}` : text, { cause: err });
  }
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
