/**
 * Arrow IPC messages <-> FlightData, IPC streams and IPC files.
 *
 * Flight carries one IPC message per FlightData: `data_header` is the
 * flatbuffer `Message` without the stream framing (0xFFFFFFFF continuation,
 * int32 length, padding) and `data_body` is the body. The flatbuffers are
 * decoded and encoded by apache-arrow (`Message`, `Footer`); what is by hand
 * here is only the 8-byte framing around them, so that bodies can be passed
 * around as lists of parts (stored chunks, received messages) and written to
 * a socket or file without being joined into one buffer first.
 */
import { Message, RecordBatch as RecordBatchHeader } from 'apache-arrow/ipc/metadata/message';
import { MessageHeader } from 'apache-arrow/fb/message-header';
import { MetadataVersion } from 'apache-arrow/enum';
import { Schema } from 'apache-arrow/schema';
import { Footer, FileBlock } from 'apache-arrow/ipc/metadata/file';
import { describeThrown, invalidInput } from '../errors';
import { verifyArrowMessage } from './ipc-verify';

export { RecordBatchHeader };

const CONTINUATION = 0xffffffff;
const MAGIC = Buffer.from('ARROW1', 'latin1');
const PADDING = new Uint8Array(8);
/** End-of-stream marker: continuation + zero length. */
export const IPC_EOS = new Uint8Array([0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0]);

/** One IPC message: its flatbuffer header bytes, the decoded header, and its body as parts. */
export interface IpcMessage {
  header: Uint8Array;
  message: Message;
  body: Uint8Array[];
  bodyLength: number;
}

/** Decodes a flatbuffer Message (a FlightData data_header); garbage is InvalidInput. */
export function decodeMessage(header: Uint8Array, what = 'data_header'): Message {
  if (header.length < 8) throw invalidInput(`${what} of ${header.length} bytes is not an Arrow IPC message`);
  verifyArrowMessage(header, what); // apache-arrow trusts vector lengths (see ipc-verify.ts)
  let message: Message;
  try {
    message = Message.decode(header);
  } catch (err) {
    throw invalidInput(`${what} is not an Arrow IPC message: ${describeThrown(err)}`, err);
  }
  const type = message.headerType;
  if (type !== MessageHeader.Schema && type !== MessageHeader.RecordBatch && type !== MessageHeader.DictionaryBatch) {
    throw invalidInput(`${what} holds an unsupported Arrow IPC message type ${String(type)}`);
  }
  try {
    // Decoded once here so that every caller meets an undecodable header as InvalidInput (found by test/fuzz:
    // a dictionary batch buffer offset past 2^53 made apache-arrow throw a TypeError out of answer.ts).
    message.header();
  } catch (err) {
    throw invalidInput(`${what} holds an undecodable ${MessageHeader[type]} header: ${describeThrown(err)}`, err);
  }
  if (!Number.isSafeInteger(message.bodyLength) || message.bodyLength < 0) {
    throw invalidInput(`${what} declares an impossible body length ${String(message.bodyLength)}`);
  }
  return message;
}

/** The decoded header of a Schema message; garbage is InvalidInput. */
export function schemaOf(message: Message, what = 'schema message'): Schema {
  if (!message.isSchema()) throw invalidInput(`${what} is a ${MessageHeader[message.headerType]} message, not a Schema`);
  try {
    return message.header();
  } catch (err) {
    throw invalidInput(`${what} cannot be decoded: ${describeThrown(err)}`, err);
  }
}

export function encodeSchema(schema: Schema): Uint8Array {
  return Message.encode(Message.from(schema));
}

export function encodeBatchHeader(header: RecordBatchHeader, bodyLength: number): Uint8Array {
  return Message.encode(Message.from(header, bodyLength));
}

/** The stream framing in front of a flatbuffer header: continuation, length, header, padding to 8. */
export function framePrefix(header: Uint8Array): Uint8Array[] {
  const padded = Math.ceil((header.length + 8) / 8) * 8 - 8;
  const head = new Uint8Array(8);
  const view = new DataView(head.buffer);
  view.setUint32(0, CONTINUATION, true);
  view.setInt32(4, padded, true);
  return [head, header, PADDING.subarray(0, padded - header.length)];
}

function sum(parts: readonly Uint8Array[]): number {
  let n = 0;
  for (const p of parts) n += p.length;
  return n;
}

/** An IPC stream (schema, batches, end marker) as parts. */
export function ipcStreamParts(messages: readonly { header: Uint8Array; body: readonly Uint8Array[] }[]): Uint8Array[] {
  const parts: Uint8Array[] = [];
  for (const m of messages) parts.push(...framePrefix(m.header), ...m.body);
  parts.push(IPC_EOS);
  return parts;
}

/** Joins parts into one buffer (when a single buffer is really needed). */
export function joinParts(parts: readonly Uint8Array[]): Buffer {
  if (parts.length === 1 && parts[0]) return Buffer.from(parts[0].buffer, parts[0].byteOffset, parts[0].byteLength);
  return Buffer.concat(parts as Uint8Array[], sum(parts));
}

/**
 * An IPC file as parts: magic, the stream, footer, footer length, magic.
 * `messages[0]` must be the schema.
 */
export function ipcFileParts(schema: Schema, messages: readonly { header: Uint8Array; body: readonly Uint8Array[]; kind: 'schema' | 'batch' | 'dictionary' }[]): Uint8Array[] {
  const parts: Uint8Array[] = [MAGIC, PADDING.subarray(0, 2)];
  let offset = 8;
  const batches: FileBlock[] = [];
  const dictionaries: FileBlock[] = [];
  for (const m of messages) {
    const prefix = framePrefix(m.header);
    const metaLength = sum(prefix);
    const bodyLength = sum(m.body);
    if (m.kind === 'batch') batches.push(new FileBlock(metaLength, bodyLength, offset));
    if (m.kind === 'dictionary') dictionaries.push(new FileBlock(metaLength, bodyLength, offset));
    parts.push(...prefix, ...m.body);
    offset += metaLength + bodyLength;
  }
  parts.push(IPC_EOS);
  const footer = Footer.encode(new Footer(schema, MetadataVersion.V5, batches, dictionaries));
  const tail = new Uint8Array(4);
  new DataView(tail.buffer).setInt32(0, footer.length, true);
  parts.push(footer, tail, MAGIC);
  return parts;
}

/**
 * Reads the messages of an IPC stream or IPC file held in memory (bodies are
 * views into `bytes`). Stops at the end marker, the end of the stream part of a
 * file, or the end of the bytes.
 */
export function readIpcMessages(bytes: Uint8Array, what = 'Arrow IPC data'): IpcMessage[] {
  let pos = 0;
  let end = bytes.length;
  if (bytes.length >= 6 && Buffer.from(bytes.buffer, bytes.byteOffset, 6).equals(MAGIC)) {
    if (bytes.length < 8 + 10) throw invalidInput(`${what} is a truncated Arrow IPC file`);
    const footerLength = new DataView(bytes.buffer, bytes.byteOffset + bytes.length - 10, 4).getInt32(0, true);
    end = bytes.length - 10 - footerLength;
    if (footerLength < 0 || end < 8) throw invalidInput(`${what} has a corrupt Arrow IPC file footer`);
    pos = 8;
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out: IpcMessage[] = [];
  while (pos + 4 <= end) {
    let length = view.getUint32(pos, true);
    pos += 4;
    if (length === CONTINUATION) {
      if (pos + 4 > end) break;
      length = view.getInt32(pos, true);
      pos += 4;
    }
    if (length === 0) break;
    if (length < 0 || pos + length > end) throw invalidInput(`${what} is truncated (message header)`);
    const header = bytes.subarray(pos, pos + length);
    pos += length;
    const message = decodeMessage(header, `${what} message ${out.length}`);
    if (pos + message.bodyLength > end) throw invalidInput(`${what} is truncated (message body)`);
    const body = bytes.subarray(pos, pos + message.bodyLength);
    pos += message.bodyLength;
    out.push({ header, message, body: [body], bodyLength: body.length });
  }
  return out;
}
