/**
 * A failed gRPC call as the cache's own HTTP/2 paths report it. Its own module so that the
 * message reader (grpc-messages.ts) and the client transport, which uses that reader, can both
 * throw it without importing each other.
 */
import { Status } from '@grpc/grpc-js/build/src/constants';

/** A failed call, shaped like grpc-js's ServiceError (numeric `code`, server's `details`). */
export class CallError extends Error {
  constructor(
    readonly code: Status,
    readonly details: string,
  ) {
    super(`${Status[code] ?? code}: ${details}`);
    this.name = 'CallError';
  }
}
