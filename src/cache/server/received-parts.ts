/**
 * Large DoPut messages kept as the chunks they arrived in, not copied into one buffer.
 *
 * A put's FlightData holds the whole object. Gathering a 1 MiB message into
 * one new buffer cost a copy, and worse, twice the ArrayBuffer bytes per put:
 * in a process of the runner's size (grpc-js, apache-arrow loaded) V8 then ran
 * a full mark-compact every few 1 MiB puts ("external memory pressure"),
 * ~4 ms of GC per put + get. Measured on a bare node:http2 server with these
 * modules loaded, keeping the chunks instead took the put + get from 6.0 to
 * 3.6 ms of CPU. So a message of at least KEEP_PARTS_FROM bytes is handed on
 * as its chunks (views of node:http2's read buffers, which are never reused,
 * when those buffers are about the chunks' size: see decodeReceived);
 * its FlightData fields other than data_body are small and copied out, and an
 * opaque row's data is sliced from the parts. A smaller message is one buffer
 * as before (a view when one chunk holds it, else a copy). Holding the read
 * buffers costs at most the ends of two reads beyond the message itself, so
 * this is only done for messages far larger than one read buffer.
 */
import { decodeFlightDataLenient, type FlightData } from '../flight-data';
import { invalidInput } from '../../errors';
import type { RecordBatchHeader } from '../../wire/ipc';
import type { OpaqueLayout } from '../opaque';
import { heldBytes } from '../../util/held-bytes';

/** Messages from this size on are kept as parts (node:http2 reads are up to 64 KiB). */
export const KEEP_PARTS_FROM = 256 * 1024;

/** A received FlightData whose body may be the list of chunks it arrived in (then `data_body` is empty). */
export interface ReceivedFlightData extends FlightData {
  body_parts?: Buffer[];
}

/** A position in a list of parts. */
class Cursor {
  private part = 0;
  private offset = 0;
  pos = 0;

  constructor(
    private readonly parts: readonly Buffer[],
    readonly length: number,
  ) {}

  get done(): boolean {
    return this.pos >= this.length;
  }

  byte(): number {
    while (this.offset >= this.parts[this.part]!.length) {
      this.part++;
      this.offset = 0;
    }
    this.pos++;
    return this.parts[this.part]![this.offset++]!;
  }

  varint(): number {
    let result = 0;
    let scale = 1;
    for (let i = 0; i < 10; i++) {
      if (this.done) throw invalidInput('truncated FlightData message');
      const b = this.byte();
      result += (b & 0x7f) * scale;
      if (b < 0x80) return result;
      scale *= 128;
    }
    throw invalidInput('malformed varint in FlightData message');
  }

  /** The next `n` bytes as views of the parts. */
  take(n: number): Buffer[] {
    if (n > this.length - this.pos) throw invalidInput('truncated FlightData message');
    const out: Buffer[] = [];
    let left = n;
    while (left > 0) {
      const p = this.parts[this.part]!;
      if (this.offset >= p.length) {
        this.part++;
        this.offset = 0;
        continue;
      }
      const k = Math.min(left, p.length - this.offset);
      out.push(p.subarray(this.offset, this.offset + k));
      this.offset += k;
      left -= k;
    }
    this.pos += n;
    return out;
  }
}

/** How much more than a message its kept read buffers may hold (beyond the two shared at its ends). */
const MAX_HELD_RATIO = 1.25;
/** node:http2 reads into buffers of up to this size. */
const READ_BUFFER_BYTES = 64 * 1024;

const PROTO_WIRE_LEN = 2;
const DATA_BODY_FIELD = 1000;

/**
 * The FlightData of a received message. One part is decoded as it is; a large
 * message keeps its data_body as parts (body_parts) and has every other field
 * decoded from a copy of those fields' bytes (proto3 fields may come in any
 * order; the last data_body wins, as in any protobuf decoder). A message
 * whose chunks sit in read buffers much larger than themselves (a sender of
 * small frames, read a few KiB at a time into 64 KiB buffers) is copied, as
 * before: keeping its parts would hold several times its size.
 */
export function decodeReceived(parts: Buffer[], length: number): ReceivedFlightData {
  if (parts.length <= 1 || length < KEEP_PARTS_FROM || heldBytes(parts) > length * MAX_HELD_RATIO + 2 * READ_BUFFER_BYTES) {
    return decodeFlightDataLenient(parts.length === 1 ? parts[0]! : Buffer.concat(parts, length));
  }
  const rest: Buffer[] = [];
  let body: Buffer[] | undefined;
  try {
    const c = new Cursor(parts, length);
    while (!c.done) {
      const tag = c.varint();
      const wire = tag & 7;
      const field = Math.floor(tag / 8);
      if (wire === PROTO_WIRE_LEN) {
        const n = c.varint();
        if (field === DATA_BODY_FIELD) {
          body = c.take(n);
          continue;
        }
        rest.push(Buffer.from(encodeVarints([tag, n])), ...c.take(n));
      } else if (wire === 0) {
        const v = c.varint();
        rest.push(Buffer.from(encodeVarints([tag, v])));
      } else if (wire === 1 || wire === 5) {
        rest.push(Buffer.from(encodeVarints([tag])), ...c.take(wire === 1 ? 8 : 4));
      } else {
        throw invalidInput(`unsupported wire type ${wire} in FlightData message`);
      }
    }
  } catch {
    // Undecodable: the same answer as the one-buffer decoder gives.
    return decodeFlightDataLenient(Buffer.concat(parts, length));
  }
  const msg: ReceivedFlightData = decodeFlightDataLenient(Buffer.concat(rest));
  if (body && !msg.decode_error) msg.body_parts = body;
  return msg;
}

function encodeVarints(values: number[]): number[] {
  const out: number[] = [];
  for (let v of values) {
    while (v >= 0x80) {
      out.push((v % 128) | 0x80);
      v = Math.floor(v / 128);
    }
    out.push(v);
  }
  return out;
}

/** Total bytes of parts. */
export function partsLength(parts: readonly Uint8Array[]): number {
  let n = 0;
  for (const p of parts) n += p.length;
  return n;
}

/** Bytes [offset, offset + length) of the parts from parts[first] on (offset counted from its start), as views. */
export function sliceParts(parts: readonly Uint8Array[], offset: number, length: number, first = 0): Uint8Array[] {
  const out: Uint8Array[] = [];
  let skip = offset;
  let left = length;
  for (let i = first; i < parts.length && left > 0; i++) {
    const p = parts[i]!;
    if (skip >= p.length) {
      skip -= p.length;
      continue;
    }
    const k = Math.min(left, p.length - skip);
    out.push(p.subarray(skip, skip + k));
    skip = 0;
    left -= k;
  }
  return out;
}

function joinParts(parts: readonly Uint8Array[]): Uint8Array {
  return parts.length === 1 ? parts[0]! : Buffer.concat(parts);
}

/**
 * The data of each row of an uncompressed opaque batch whose body is `parts`,
 * as views of the parts; the same checks as readRows (src/cache/opaque.ts).
 */
export function opaqueRowsFromParts(layout: OpaqueLayout, header: RecordBatchHeader, parts: readonly Uint8Array[], bodyLength: number, what: string): Uint8Array[][] {
  const size = partsLength(parts);
  if (size < bodyLength) throw invalidInput(`${what} declares a ${bodyLength}-byte body but carries ${size} bytes`);
  for (const [i, { offset, length }] of header.buffers.entries()) {
    if (offset < 0 || length < 0 || offset + length > bodyLength) {
      throw invalidInput(`record batch buffer ${i} [${offset}, +${length}) lies outside the ${bodyLength}-byte body`);
    }
  }
  const rows = header.length;
  if (!Number.isSafeInteger(rows) || rows < 0) throw invalidInput(`opaque batch declares ${String(rows)} rows`);
  // As readRows: no offsets are read for no rows (Arrow's Java and Go writers send empty arrays with an empty offsets buffer).
  if (rows === 0) return [];
  const col = layout.data;
  const offsetsRegion = header.buffers[col.buffer + 1];
  const valuesRegion = header.buffers[col.buffer + 2];
  const width = col.large ? 8 : 4;
  if (!offsetsRegion || !valuesRegion || offsetsRegion.length < (rows + 1) * width) {
    throw invalidInput(`opaque batch: column 'data' has a short offsets buffer`);
  }
  const offsets = joinParts(sliceParts(parts, offsetsRegion.offset, (rows + 1) * width));
  const view = new DataView(offsets.buffer, offsets.byteOffset, offsets.byteLength);
  const at = (i: number): number => (col.large ? Number(view.getBigInt64(i * 8, true)) : view.getInt32(i * 4, true));
  const values = new ForwardSlicer(parts);
  const out: Uint8Array[][] = [];
  for (let i = 0; i < rows; i++) {
    const start = at(i);
    const end = at(i + 1);
    if (start < 0 || end < start || end > valuesRegion.length) {
      throw invalidInput(`opaque batch: column 'data' row ${i} offsets [${start}, ${end}) lie outside its ${valuesRegion.length}-byte values`);
    }
    out.push(values.slice(valuesRegion.offset + start, end - start));
  }
  return out;
}

/**
 * sliceParts for slices taken in order: it remembers the part the last one started in, so that a batch's rows
 * cost rows + parts steps, not rows × parts (each row scanning the parts from the first). A slice before that
 * part (offsets that go back: only a hostile batch) starts the scan over.
 */
class ForwardSlicer {
  private part = 0;
  /** Where parts[part] starts. */
  private partStart = 0;

  constructor(private readonly parts: readonly Uint8Array[]) {}

  slice(offset: number, length: number): Uint8Array[] {
    if (offset < this.partStart) {
      this.part = 0;
      this.partStart = 0;
    }
    const parts = this.parts;
    while (this.part < parts.length - 1 && offset >= this.partStart + parts[this.part]!.length) {
      this.partStart += parts[this.part]!.length;
      this.part++;
    }
    return sliceParts(parts, offset - this.partStart, length, this.part);
  }
}
