/**
 * The framing of the supervisor ⇄ session child channel (a socketpair on the
 * child's fd 3). Node's own IPC ('advanced' serialization) costs a V8
 * serializer round and a nextTick per message each way, which is most of a
 * small task's channel cost. Every frame is
 *
 *   u32 LE  length of the rest of the frame
 *   u8      kind: JSON, INVOKE or DONE
 *
 * The two messages every task sends (its invoke, and a done without message
 * or error) have fixed binary layouts, so that a small task parses no JSON on
 * either side (JSON.parse builds a fresh object shape per message: tens of
 * microseconds of CPU per task when the caches are cold, as they are between
 * tasks on a busy machine):
 *
 *   INVOKE  u32 id, u32 length T, T bytes task id (UTF-8), u8 1 when an input follows, the input (the rest)
 *   DONE    u32 id, i32 return code, u8 flags (1: output, 2: state), u32 output length, the output, the state (the rest)
 *
 * Every other message is JSON:
 *
 *   u32 LE  header length H
 *   H bytes JSON of the message; when the top bit of H is set, the message has
 *           byte fields: the JSON is [message, [length of field 0, 1, ...]] and
 *           each Uint8Array in the message is replaced by {"$bytes": i}
 *   then    the byte fields, in order i = 0, 1, ...
 *
 * Byte fields are never base64-encoded nor cloned field by field; small
 * frames are one buffer (one write), large byte fields travel as buffers of
 * their own.
 */

const BYTES_KEY = '$bytes';
/** A frame's length field is 32 bits. */
export const MAX_FRAME_BYTES = 0xffff_ffff;

export class FrameTooLarge extends RangeError {
  constructor(readonly bytes: number) {
    super(`a message of ${bytes} bytes does not fit a channel frame (at most ${MAX_FRAME_BYTES})`);
  }
}

const KIND_JSON = 0;
const KIND_INVOKE = 1;
const KIND_DONE = 2;
const DONE_OUTPUT = 1;
const DONE_STATE = 2;
/** Byte fields up to this size are copied into the frame's one buffer: one write instead of a vectored one. */
const INLINE_BYTES = 16 * 1024;

/** The messages with a binary layout, as the channel's two ends build them. */
interface InvokeMessage {
  type: 'invoke';
  id: number;
  taskId: string;
  input?: Uint8Array;
}
interface DoneMessage {
  type: 'done';
  id: number;
  returnCode: number;
  output?: Uint8Array;
  message?: string;
  error?: unknown;
  state?: Uint8Array;
}

/** The buffers of one frame, to be written in order (large byte fields are not copied). */
export function encodeFrame(msg: object): Buffer[] {
  const m = msg as Partial<InvokeMessage | DoneMessage>;
  if (m.type === 'invoke' && typeof m.id === 'number' && typeof m.taskId === 'string') return encodeInvoke(m as InvokeMessage);
  if (m.type === 'done' && typeof m.id === 'number') {
    const d = m as DoneMessage;
    if (d.message === undefined && d.error === undefined && (d.returnCode | 0) === d.returnCode) return encodeDone(d); // an int32 fits the fixed layout
  }
  return encodeJson(msg);
}

function encodeInvoke(m: InvokeMessage): Buffer[] {
  const idBytes = Buffer.byteLength(m.taskId, 'utf8');
  const input = m.input;
  const fixed = 4 + 1 + 4 + 4 + idBytes + 1;
  const inline = input !== undefined && input.byteLength <= INLINE_BYTES;
  const total = fixed - 4 + (input?.byteLength ?? 0);
  if (total > MAX_FRAME_BYTES) throw new FrameTooLarge(total);
  const head = Buffer.allocUnsafe(inline ? fixed + input.byteLength : fixed);
  head.writeUInt32LE(total, 0);
  head[4] = KIND_INVOKE;
  head.writeUInt32LE(m.id, 5);
  head.writeUInt32LE(idBytes, 9);
  head.write(m.taskId, 13, idBytes, 'utf8');
  head[13 + idBytes] = input === undefined ? 0 : 1;
  if (input === undefined) return [head];
  if (inline) {
    head.set(input, fixed);
    return [head];
  }
  return [head, asBuffer(input)];
}

function encodeDone(m: DoneMessage): Buffer[] {
  const { output, state } = m;
  const fixed = 4 + 1 + 4 + 4 + 1 + 4;
  const extra = (output?.byteLength ?? 0) + (state?.byteLength ?? 0);
  const total = fixed - 4 + extra;
  if (total > MAX_FRAME_BYTES) throw new FrameTooLarge(total);
  const inline = extra <= INLINE_BYTES;
  const head = Buffer.allocUnsafe(inline ? fixed + extra : fixed);
  head.writeUInt32LE(total, 0);
  head[4] = KIND_DONE;
  head.writeUInt32LE(m.id, 5);
  head.writeInt32LE(m.returnCode, 9);
  head[13] = (output !== undefined ? DONE_OUTPUT : 0) | (state !== undefined ? DONE_STATE : 0);
  head.writeUInt32LE(output?.byteLength ?? 0, 14);
  if (inline) {
    if (output) head.set(output, fixed);
    if (state) head.set(state, fixed + (output?.byteLength ?? 0));
    return [head];
  }
  const out: Buffer[] = [head];
  if (output && output.byteLength > 0) out.push(asBuffer(output));
  if (state && state.byteLength > 0) out.push(asBuffer(state));
  return out;
}

function encodeJson(msg: object): Buffer[] {
  const blobs: Uint8Array[] = [];
  const json = JSON.stringify(extractBytes(msg, blobs));
  const header = Buffer.from(blobs.length === 0 ? json : `[${json},${JSON.stringify(blobs.map((b) => b.byteLength))}]`, 'utf8');
  let total = 1 + 4 + header.length;
  for (const b of blobs) total += b.byteLength;
  if (total > MAX_FRAME_BYTES || header.length >= 0x8000_0000) throw new FrameTooLarge(total);
  const prefix = Buffer.allocUnsafe(9);
  prefix.writeUInt32LE(total, 0);
  prefix[4] = KIND_JSON;
  prefix.writeUInt32LE((header.length | (blobs.length === 0 ? 0 : 0x8000_0000)) >>> 0, 5);
  const out: Buffer[] = [prefix, header];
  for (const b of blobs) out.push(asBuffer(b));
  return out;
}

function asBuffer(b: Uint8Array): Buffer {
  return Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.byteLength);
}

/**
 * The message with each Uint8Array replaced by its index in `blobs`. Done
 * before JSON.stringify, which would first turn a Buffer into an array of
 * its byte values (toJSON), and without a replacer function, which
 * stringify calls for every key.
 */
function extractBytes(v: unknown, blobs: Uint8Array[]): unknown {
  if (typeof v !== 'object' || v === null) return v;
  if (v instanceof Uint8Array) {
    blobs.push(v);
    return { [BYTES_KEY]: blobs.length - 1 };
  }
  if (Array.isArray(v)) return v.map((x) => extractBytes(x, blobs));
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(v)) out[k] = extractBytes((v as Record<string, unknown>)[k], blobs);
  return out;
}

/**
 * Reassembles frames from a byte stream. Byte fields of the messages it
 * yields are views into the received data (copied once at most, when a frame
 * spans reads).
 */
export class FrameReader {
  private chunks: Buffer[] = [];
  private buffered = 0;

  /** Feeds received bytes; calls `onMessage` for each complete frame, in order. */
  push(data: Buffer, onMessage: (msg: unknown) => void): void {
    if (this.buffered === 0) {
      // The common case, nothing pending: whole frames straight from this read.
      let at = 0;
      while (data.length - at >= 4) {
        const need = 4 + data.readUInt32LE(at);
        if (data.length - at < need) break;
        onMessage(decodeFrame(data.subarray(at + 4, at + need)));
        at += need;
      }
      if (at === data.length) return;
      data = data.subarray(at);
    }
    this.chunks.push(data);
    this.buffered += data.length;
    while (this.buffered >= 4) {
      let head = this.chunks[0]!;
      if (head.length < 4) head = this.flatten(4);
      const need = 4 + head.readUInt32LE(0);
      if (this.buffered < need) return;
      const frame = head.length >= need ? head : this.flatten(need);
      const rest = frame.subarray(need);
      this.chunks[0] = rest;
      this.buffered -= need;
      if (rest.length === 0) this.chunks.shift();
      onMessage(decodeFrame(frame.subarray(4, need)));
    }
  }

  /** Joins the first chunks so that the first one holds at least `n` bytes. */
  private flatten(n: number): Buffer {
    let have = 0;
    let k = 0;
    while (have < n) have += this.chunks[k++]!.length;
    const joined = Buffer.concat(this.chunks.slice(0, k), have);
    this.chunks.splice(0, k, joined);
    return joined;
  }
}

function decodeFrame(body: Buffer): unknown {
  switch (body[0]) {
    case KIND_INVOKE: {
      const idBytes = body.readUInt32LE(5);
      const msg: InvokeMessage = { type: 'invoke', id: body.readUInt32LE(1), taskId: body.toString('utf8', 9, 9 + idBytes) };
      if (body[9 + idBytes] === 1) msg.input = body.subarray(10 + idBytes);
      return msg;
    }
    case KIND_DONE: {
      const flags = body[9]!;
      const outputEnd = 14 + body.readUInt32LE(10);
      const msg: DoneMessage = { type: 'done', id: body.readUInt32LE(1), returnCode: body.readInt32LE(5) };
      if (flags & DONE_OUTPUT) msg.output = body.subarray(14, outputEnd);
      if (flags & DONE_STATE) msg.state = body.subarray(outputEnd);
      return msg;
    }
    case KIND_JSON:
      return decodeJson(body.subarray(1));
    default:
      // Both ends are the same build: another kind is a bug, not input.
      throw new RangeError(`channel frame of unknown kind ${body[0]}`);
  }
}

function decodeJson(body: Buffer): unknown {
  const word = body.readUInt32LE(0);
  const withBytes = (word & 0x8000_0000) !== 0;
  const headerLength = word & 0x7fff_ffff;
  const json = body.toString('utf8', 4, 4 + headerLength);
  if (!withBytes) return JSON.parse(json);
  const [msg, lengths] = JSON.parse(json) as [unknown, number[]];
  const blobs: Buffer[] = [];
  let at = 4 + headerLength;
  for (const len of lengths) {
    blobs.push(body.subarray(at, at + len));
    at += len;
  }
  return revive(msg, blobs);
}

function revive(v: unknown, blobs: Buffer[]): unknown {
  if (typeof v !== 'object' || v === null) return v;
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) v[i] = revive(v[i], blobs);
    return v;
  }
  const o = v as Record<string, unknown>;
  if (typeof o[BYTES_KEY] === 'number' && Object.keys(o).length === 1) return blobs[o[BYTES_KEY]];
  for (const k of Object.keys(o)) o[k] = revive(o[k], blobs);
  return o;
}
