/**
 * FlightData <-> protobuf bytes, written by hand.
 *
 * Why not protobufjs (through proto-loader): an object answer is one FlightData
 * whose body is the whole object (docs/protocol.md §7). protobufjs needs the body as one
 * buffer and then copies it into its output; here the body may be given as a
 * list of parts (the Arrow buffers, the stored chunks) that are written
 * straight into the one output buffer, which saves a full copy of the object
 * on every put and get. Decoding returns views into the received message
 * (no copy), as protobufjs would. The message has four fields, so the codec is
 * small; unknown fields are skipped as protobuf requires.
 */
import { invalidInput } from '../errors';

export type DescriptorType = 'UNKNOWN' | 'PATH' | 'CMD';

export interface FlightDescriptor {
  type: DescriptorType;
  cmd: Buffer;
  path: string[];
}

/** A received FlightData: every byte field is a view into the received message. */
export interface FlightData {
  flight_descriptor: FlightDescriptor | null;
  data_header: Buffer;
  app_metadata: Buffer;
  data_body: Buffer;
  /** Set (and the rest empty) when the bytes were not a FlightData; the server answers INVALID_ARGUMENT. */
  decode_error?: string;
}

/** A FlightData to send: the body may be a list of parts, concatenated on the wire. */
export interface OutgoingFlightData {
  flight_descriptor?: { type: DescriptorType; cmd?: Uint8Array; path?: string[] } | null;
  data_header?: Uint8Array;
  app_metadata?: Uint8Array;
  data_body?: Uint8Array | readonly Uint8Array[];
}

const DESCRIPTOR_TYPES: readonly DescriptorType[] = ['UNKNOWN', 'PATH', 'CMD'];
const EMPTY = Buffer.alloc(0);

export function varintSize(n: number): number {
  let size = 1;
  while (n >= 0x80) {
    n = Math.floor(n / 128);
    size++;
  }
  return size;
}

export function writeVarint(buf: Buffer, pos: number, n: number): number {
  while (n >= 0x80) {
    buf[pos++] = (n % 128) | 0x80;
    n = Math.floor(n / 128);
  }
  buf[pos++] = n;
  return pos;
}

function encodeDescriptor(d: NonNullable<OutgoingFlightData['flight_descriptor']>): Buffer {
  const typeNo = DESCRIPTOR_TYPES.indexOf(d.type);
  const paths = (d.path ?? []).map((p) => Buffer.from(p, 'utf8'));
  const cmd = d.cmd ?? EMPTY;
  let size = typeNo > 0 ? 1 + varintSize(typeNo) : 0;
  if (cmd.length > 0) size += 1 + varintSize(cmd.length) + cmd.length;
  for (const p of paths) size += 1 + varintSize(p.length) + p.length;
  const out = Buffer.allocUnsafe(size);
  let pos = 0;
  if (typeNo > 0) {
    out[pos++] = 0x08;
    pos = writeVarint(out, pos, typeNo);
  }
  if (cmd.length > 0) {
    out[pos++] = 0x12;
    pos = writeVarint(out, pos, cmd.length);
    out.set(cmd, pos);
    pos += cmd.length;
  }
  for (const p of paths) {
    out[pos++] = 0x1a;
    pos = writeVarint(out, pos, p.length);
    out.set(p, pos);
    pos += p.length;
  }
  return out;
}

/** Serializes a FlightData into one buffer; body parts are copied once, straight into it. */
export function encodeFlightData(msg: OutgoingFlightData): Buffer {
  return encodeWithHeadroom(msg, 0);
}

/**
 * A FlightData as a gRPC length-prefixed message (flag byte, 4-byte length,
 * message) in one buffer, for a server that sends the same bytes to many calls.
 */
export function encodeFramedFlightData(msg: OutgoingFlightData): Buffer {
  const out = encodeWithHeadroom(msg, 5);
  out[0] = 0; // not compressed
  out.writeUInt32BE(out.length - 5, 1);
  return out;
}

function encodeWithHeadroom(msg: OutgoingFlightData, headroom: number): Buffer {
  const descriptor = msg.flight_descriptor ? encodeDescriptor(msg.flight_descriptor) : undefined;
  const header = msg.data_header ?? EMPTY;
  const meta = msg.app_metadata ?? EMPTY;
  const parts: readonly Uint8Array[] =
    msg.data_body === undefined ? [] : msg.data_body instanceof Uint8Array ? [msg.data_body] : msg.data_body;
  let bodyLength = 0;
  for (const p of parts) bodyLength += p.length;

  let size = 0;
  if (descriptor) size += 1 + varintSize(descriptor.length) + descriptor.length;
  if (header.length > 0) size += 1 + varintSize(header.length) + header.length;
  if (meta.length > 0) size += 1 + varintSize(meta.length) + meta.length;
  if (bodyLength > 0) size += 2 + varintSize(bodyLength) + bodyLength; // field 1000: 2-byte tag

  const out = Buffer.allocUnsafe(headroom + size);
  let pos = headroom;
  const field = (tag: number, bytes: Uint8Array): void => {
    out[pos++] = tag;
    pos = writeVarint(out, pos, bytes.length);
    out.set(bytes, pos);
    pos += bytes.length;
  };
  if (descriptor) field(0x0a, descriptor);
  if (header.length > 0) field(0x12, header);
  if (meta.length > 0) field(0x1a, meta);
  if (bodyLength > 0) {
    // (1000 << 3) | 2 = 8002 = varint 0xc2 0x3e
    out[pos++] = 0xc2;
    out[pos++] = 0x3e;
    pos = writeVarint(out, pos, bodyLength);
    for (const p of parts) {
      out.set(p, pos);
      pos += p.length;
    }
  }
  return out;
}

class ProtoReader {
  pos = 0;
  constructor(readonly buf: Buffer, readonly what: string) {}

  get done(): boolean {
    return this.pos >= this.buf.length;
  }

  varint(): number {
    let result = 0;
    let scale = 1;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.buf.length) throw invalidInput(`truncated ${this.what} message`);
      const b = this.buf[this.pos++]!;
      result += (b & 0x7f) * scale;
      if (b < 0x80) return result;
      scale *= 128;
    }
    throw invalidInput(`malformed varint in ${this.what} message`);
  }

  bytes(): Buffer {
    const len = this.varint();
    const end = this.pos + len;
    if (end > this.buf.length) throw invalidInput(`truncated ${this.what} message`);
    const out = this.buf.subarray(this.pos, end);
    this.pos = end;
    return out;
  }

  skip(wireType: number): void {
    if (wireType === 0) this.varint();
    else if (wireType === 1) this.pos += 8;
    else if (wireType === 2) this.bytes();
    else if (wireType === 5) this.pos += 4;
    else throw invalidInput(`unsupported wire type ${wireType} in ${this.what} message`);
    if (this.pos > this.buf.length) throw invalidInput(`truncated ${this.what} message`);
  }
}

/**
 * Field 1 of a message whose field 1 is `bytes` (a Ticket's ticket, a PutResult's app_metadata), as a view;
 * empty when absent, the last one when repeated (protobuf's rule), unknown fields skipped.
 * Throws FlmError(InvalidInput) naming `what` on a truncated or malformed message.
 */
export function bytesFieldOne(message: Buffer, what: string): Buffer {
  const r = new ProtoReader(message, what);
  let out: Buffer = EMPTY;
  while (!r.done) {
    const tag = r.varint();
    const wire = tag & 7;
    if (wire === 2 && Math.floor(tag / 8) === 1) out = r.bytes();
    else r.skip(wire);
  }
  return out;
}

function decodeDescriptor(buf: Buffer): FlightDescriptor {
  const r = new ProtoReader(buf, 'FlightDescriptor');
  const d: FlightDescriptor = { type: 'UNKNOWN', cmd: EMPTY, path: [] };
  while (!r.done) {
    const tag = r.varint();
    const fieldNo = Math.floor(tag / 8);
    const wire = tag & 7;
    if (fieldNo === 1 && wire === 0) d.type = DESCRIPTOR_TYPES[r.varint()] ?? 'UNKNOWN';
    else if (fieldNo === 2 && wire === 2) d.cmd = r.bytes();
    else if (fieldNo === 3 && wire === 2) d.path.push(r.bytes().toString('utf8'));
    else r.skip(wire);
  }
  return d;
}

/** Parses a FlightData; byte fields are views into `buf`. Throws FlmError(InvalidInput) on garbage. */
export function decodeFlightData(buf: Buffer): FlightData {
  const r = new ProtoReader(buf, 'FlightData');
  const msg: FlightData = { flight_descriptor: null, data_header: EMPTY, app_metadata: EMPTY, data_body: EMPTY };
  while (!r.done) {
    const tag = r.varint();
    const fieldNo = Math.floor(tag / 8);
    const wire = tag & 7;
    if (wire === 2 && fieldNo === 1) msg.flight_descriptor = decodeDescriptor(r.bytes());
    else if (wire === 2 && fieldNo === 2) msg.data_header = r.bytes();
    else if (wire === 2 && fieldNo === 3) msg.app_metadata = r.bytes();
    else if (wire === 2 && fieldNo === 1000) msg.data_body = r.bytes();
    else r.skip(wire);
  }
  return msg;
}

/** Like decodeFlightData, but reports garbage in `decode_error` instead of throwing (gRPC would say INTERNAL). */
export function decodeFlightDataLenient(buf: Buffer): FlightData {
  try {
    return decodeFlightData(buf);
  } catch (err) {
    const text = err instanceof Error ? err.message : String(err);
    return { flight_descriptor: null, data_header: EMPTY, app_metadata: EMPTY, data_body: EMPTY, decode_error: text };
  }
}
