/**
 * Arrow IPC message headers of DoPut streams, decoded once per distinct header.
 *
 * A client putting objects sends the same flatbuffer bytes again and again:
 * the schema message is the same for every opaque put, and a one-row batch
 * header differs only with the object's length. apache-arrow decodes a
 * header on every `message.header()` call (a put read each one twice), and
 * decoding is a good part of a small put's CPU. Here a small header is decoded
 * and checked once (decodeMessage: verified, typed errors) and the result
 * kept by its exact bytes, so an equal header later is the same decoded
 * message. Decoded headers are only read, never changed, so sharing them
 * between puts is safe. The table is bounded: past its size it starts over.
 */
import { Message } from 'apache-arrow/ipc/metadata/message';
import type { Schema } from 'apache-arrow/schema';
import { decodeMessage } from '../../wire/ipc';
import { isNativeArrowSchema } from '../../wire/arrow-meta';
import { opaqueLayout, type OpaqueLayout } from '../opaque';

/** Headers up to this many bytes are kept (a schema of a few columns, any one-row batch). */
const MAX_KEPT_HEADER_BYTES = 512;
const MAX_KEPT_HEADERS = 256;

const kept = new Map<string, Message>();
/**
 * The last few headers decoded, by their bytes: a client putting one kind of object sends the same two
 * headers (schema, batch) in turn, and comparing bytes is cheaper than making and hashing the key string.
 */
const RECENT = 4;
const recentBytes: Buffer[] = [];
const recentMessages: Message[] = [];
let nextRecent = 0;

/** A decoded message whose `header()` returns the one decoded header (apache-arrow's `Message.from`). */
function settled(message: Message): Message {
  return Message.from(message.header(), message.bodyLength);
}

/** decodeMessage, with equal small headers decoded once. Garbage is InvalidInput, as there. */
export function decodeHeader(bytes: Uint8Array, what: string): Message {
  if (bytes.length > MAX_KEPT_HEADER_BYTES) return settled(decodeMessage(bytes, what));
  const view = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
  for (let i = 0; i < recentBytes.length; i++) if (recentBytes[i]!.equals(view)) return recentMessages[i]!;
  const key = view.toString('latin1');
  let message = kept.get(key);
  if (!message) {
    message = settled(decodeMessage(bytes, what));
    if (kept.size >= MAX_KEPT_HEADERS) kept.clear();
    kept.set(key, message);
  }
  // A copy: `bytes` is a view of a received message, which must not be held here.
  recentBytes[nextRecent] = Buffer.from(view);
  recentMessages[nextRecent] = message;
  nextRecent = (nextRecent + 1) % RECENT;
  return message;
}

/** What a put needs to know of its schema, worked out once per decoded schema. */
export interface SchemaFacts {
  native: boolean;
  /** Opaque objects only; an invalid opaque schema throws when asked for. */
  layout?: OpaqueLayout;
}

const facts = new WeakMap<Schema, SchemaFacts>();

export function schemaFacts(schema: Schema): SchemaFacts {
  let f = facts.get(schema);
  if (!f) {
    const native = isNativeArrowSchema(schema);
    f = { native, layout: native ? undefined : opaqueLayout(schema) };
    facts.set(schema, f);
  }
  return f;
}
