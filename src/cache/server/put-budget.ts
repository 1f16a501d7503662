/**
 * The server-wide bound on bytes held by DoPut streams that have not ended.
 *
 * Every received FlightData is charged whole (descriptor, header, metadata
 * and body: a native Arrow put can carry megabytes in its headers) when it
 * arrives, and released when the stream no longer holds it: once written to
 * the storage directory, or when the put is committed (its bytes are then the
 * object table's, bounded by its own LRU) or fails. A message that does not
 * fit is refused with RESOURCE_EXHAUSTED rather than waited for: without
 * storage, streams waiting for each other's bytes could never finish.
 *
 * One message larger than the whole limit is admitted when nothing else is
 * held: gRPC delivers a message whole, and Flight clients such as pyarrow send
 * an object as one message, so with a storage directory a put larger than
 * memory must still pass, one at a time.
 */
import { limitExceeded } from '../../errors';

export class PutBudget {
  private held = 0;

  constructor(readonly limit: number) {}

  get bytes(): number {
    return this.held;
  }

  /**
   * Charges `n` bytes to a put, or throws RESOURCE_EXHAUSTED naming the server-wide limit. `what` names the
   * message in that error; it is asked for only then (every message of every put is charged). `mine`: bytes
   * of the same message charged before (a message charged piece by piece as it arrives): when they are all
   * that is held, the message is alone and passes, as a whole one would.
   */
  take(n: number, what: () => string, mine = 0): void {
    if (this.held > mine && this.held + n > this.limit) {
      throw limitExceeded(
        `${what()}: the cache server already holds ${this.held} bytes of unfinished puts and its limit for all of them ` +
          `together is ${this.limit} bytes (--max-memory); retry when other puts have finished`,
      );
    }
    this.held += n;
  }

  release(n: number): void {
    this.held = Math.max(0, this.held - n);
  }
}

/** The bytes a received FlightData holds (every field is a view into the one received message). */
export function messageBytes(msg: { flight_descriptor: { cmd: Uint8Array; path: string[] } | null; data_header: Uint8Array; app_metadata: Uint8Array; data_body: Uint8Array }): number {
  let n = msg.data_header.length + msg.app_metadata.length + msg.data_body.length;
  const d = msg.flight_descriptor;
  if (d) {
    n += d.cmd.length;
    for (const p of d.path) n += p.length;
  }
  return n;
}
