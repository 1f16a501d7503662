/**
 * The framing of the supervisor ⇄ session child channel (a socketpair on the
 * child's fd 3). Node's own IPC ('advanced' serialization) costs a V8
 * serializer round and a nextTick per message each way, which is most of a
 * small task's channel cost; a frame is a JSON header plus the message's
 * byte fields as raw bytes, so task inputs and outputs are neither
 * base64-encoded nor cloned field by field:
 *
 *   u32 LE  length of the rest of the frame
 *   u32 LE  header length H
 *   H bytes JSON of the message; when the top bit of H is set, the message has
 *           byte fields: the JSON is [message, [length of field 0, 1, ...]] and
 *           each Uint8Array in the message is replaced by {"$bytes": i}
 *   then    the byte fields, in order i = 0, 1, ...
 */

const BYTES_KEY = '$bytes';
/** A frame's length field is 32 bits. */
export const MAX_FRAME_BYTES = 0xffff_ffff;

export class FrameTooLarge extends RangeError {
  constructor(readonly bytes: number) {
    super(`a message of ${bytes} bytes does not fit a channel frame (at most ${MAX_FRAME_BYTES})`);
  }
}

/** The buffers of one frame, to be written in order (the byte fields are not copied). */
export function encodeFrame(msg: object): Buffer[] {
  const blobs: Uint8Array[] = [];
  const json = JSON.stringify(extractBytes(msg, blobs));
  const header = Buffer.from(blobs.length === 0 ? json : `[${json},${JSON.stringify(blobs.map((b) => b.byteLength))}]`, 'utf8');
  let total = 4 + header.length;
  for (const b of blobs) total += b.byteLength;
  if (total > MAX_FRAME_BYTES || header.length >= 0x8000_0000) throw new FrameTooLarge(total);
  const prefix = Buffer.allocUnsafe(8);
  prefix.writeUInt32LE(total, 0);
  prefix.writeUInt32LE((header.length | (blobs.length === 0 ? 0 : 0x8000_0000)) >>> 0, 4);
  const out: Buffer[] = [prefix, header];
  for (const b of blobs) out.push(Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.byteLength));
  return out;
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
