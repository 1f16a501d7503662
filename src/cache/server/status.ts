/**
 * gRPC statuses of the embedded cache: every failure leaves a handler as one
 * of these, with a bounded message.
 *
 * Why bounded: grpc-js sends the message in the `grpc-message` trailer, and a
 * trailer block past the peer's header-list limit (16 KiB in grpc-js, 8 KiB in
 * some proxies) turns the status itself into RESOURCE_EXHAUSTED or INTERNAL,
 * so a message quoting a hostile input (a 2,000-column schema, a 1 MB key)
 * would change what the client is told. The full text goes to the log.
 */
import * as grpc from '@grpc/grpc-js';
import { ErrorCode, FlmError } from '../../errors';
import type { Logger } from '../../log';

/** Characters of a status message; far below every header-list limit even when percent-encoded. */
export const MAX_STATUS_CHARS = 1000;

export type ServiceStatus = Partial<grpc.StatusObject> & Error;

export function boundedText(text: string, max = MAX_STATUS_CHARS): string {
  if (text.length <= max) return text;
  const suffix = ` … (${text.length - max} more characters)`;
  return text.slice(0, max - suffix.length) + suffix;
}

function status(code: grpc.status, text: string): ServiceStatus {
  const details = boundedText(text);
  return Object.assign(new Error(details), { code, details, metadata: new grpc.Metadata() });
}

/** The status for any throwable; internal failures are logged in full, their status says only what failed. */
export function toStatus(err: unknown, logger: Logger, op: string): ServiceStatus {
  const e = FlmError.from(err, ErrorCode.Internal);
  if (e.code === ErrorCode.Internal) {
    // An internal failure's text can hold storage paths and errno details: they stay in the log.
    logger.error({ err, op }, 'cache request failed');
    return status(e.grpcCode, `${op} failed inside the object cache (see its log)`);
  }
  logger.debug({ err: boundedText(e.message, 4 * MAX_STATUS_CHARS), op }, 'cache request refused');
  return status(e.grpcCode, e.message);
}

export function unimplemented(name: string): ServiceStatus {
  return status(grpc.status.UNIMPLEMENTED, `${name} is not implemented by this object cache`);
}
