/**
 * DoGet answers encoded once per object version and shared by every reader.
 *
 * A full answer is one FlightData holding the whole object (docs/protocol.md §7). grpc-js
 * serializes each message a handler writes into a fresh buffer with its 5-byte
 * gRPC prefix and keeps that buffer until the peer has read it, so N slow
 * readers of a 100 MiB object held N copies. Here the answer is framed once
 * (prefix included) and every reader's call is given those same bytes: the
 * call's serializer is told to pass a FramedMessage through as it is. grpc-js
 * has no public hook for this, so `passFramed` reaches the call object the
 * handler's stream wraps; when it cannot (a grpc-js whose internals moved),
 * the reader is served the plain way, copying, and nothing else changes.
 *
 * An entry lives while a reader uses it; the last reader to finish drops it.
 */
import { encodeFramedFlightData, type OutgoingFlightData } from '../flight-data';

/** A message already serialized and framed for the wire (5-byte gRPC prefix + FlightData). */
export class FramedMessage {
  constructor(readonly bytes: Buffer) {}

  static of(msg: OutgoingFlightData): FramedMessage {
    return new FramedMessage(encodeFramedFlightData(msg));
  }
}

interface Entry {
  messages: Promise<FramedMessage[]>;
  readers: number;
}

export class SharedAnswers {
  private readonly entries = new Map<string, Entry>();
  private encoded = 0;

  /** Full answers encoded so far. */
  get encodings(): number {
    return this.encoded;
  }

  /** The framed answer for `id` (key and version), made by `encode` unless a reader already holds it. */
  async acquire(id: string, encode: () => Promise<OutgoingFlightData[]>): Promise<{ messages: FramedMessage[]; release: () => void }> {
    let entry = this.entries.get(id);
    if (!entry) {
      this.encoded++;
      const made: Entry = { messages: encode().then((ms) => ms.map((m) => FramedMessage.of(m))), readers: 0 };
      this.entries.set(id, made);
      entry = made;
    }
    const held = entry;
    held.readers++;
    let released = false;
    const release = (): void => {
      if (released) return;
      released = true;
      if (--held.readers === 0 && this.entries.get(id) === held) this.entries.delete(id);
    };
    try {
      return { messages: await held.messages, release };
    } catch (err) {
      release();
      throw err;
    }
  }

  /** Calls reading a shared answer now. */
  get readers(): number {
    let n = 0;
    for (const e of this.entries.values()) n += e.readers;
    return n;
  }
}

type Serialize = (value: unknown) => Buffer;

/**
 * Makes `call` send FramedMessage values as they are; false when the grpc-js
 * call object does not have the expected shape (then write plain messages).
 */
export function passFramed(call: object): boolean {
  let node: unknown = call;
  for (let depth = 0; depth < 4 && node && typeof node === 'object'; depth++) {
    const candidate = node as { serializeMessage?: unknown; stream?: unknown };
    if (typeof candidate.serializeMessage === 'function' && candidate.stream) {
      const original = candidate.serializeMessage as Serialize;
      const target = candidate as { serializeMessage: Serialize };
      target.serializeMessage = function (this: unknown, value: unknown): Buffer {
        return value instanceof FramedMessage ? value.bytes : original.call(this, value);
      };
      return true;
    }
    node = (node as { call?: unknown; nextCall?: unknown }).call ?? (node as { nextCall?: unknown }).nextCall;
  }
  return false;
}
