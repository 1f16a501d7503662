/**
 * The whole DoGet answer of a small opaque object (one base row, no deltas),
 * written straight into one framed buffer: the answer schema message, then one
 * FlightData holding the row's header and body (docs/protocol.md §7).
 *
 * Why: a small get's answer was built as parts (encodeRow: a BigInt for the
 * version, two offsets arrays, padding views, a parts list) and then joined
 * (joinSmall); in a profile of pyarrow's 16-byte gets that was ~20 µs per get
 * of a ~100 µs server-side get. Here the same bytes are written in place; the
 * row header is still opaque.ts's (its template), so the two stay one format.
 * test/cache/server-fast-paths.test.ts checks it byte for byte against
 * answerFor + joinSmall.
 */
import { encodeFramedFlightData, varintSize, writeVarint } from '../flight-data';
import { ANSWER_SCHEMA_HEADER, rowHeader } from '../opaque';

/** Objects up to this many bytes are answered this way (the answer stays well below joinSmall's 64 KiB). */
export const SMALL_ANSWER_MAX_BYTES = 32 * 1024;

const SCHEMA_FRAMED = encodeFramedFlightData({ data_header: ANSWER_SCHEMA_HEADER });
const KIND = Buffer.from('base', 'utf8');
/** Body bytes before the data values: version (8), kind offsets (8), kind values padded (8), data offsets (8). */
const DATA_AT = 32;
/** FlightData field 2 (data_header) and field 1000 (data_body), length-delimited. */
const HEADER_TAG = 0x12;
const BODY_TAG = [0xc2, 0x3e] as const;

/** The framed answer for an opaque object's base row of `size` bytes held in `chunks`, at `version`. */
export function smallAnswer(version: number, chunks: readonly Uint8Array[], size: number): Buffer {
  const header = rowHeader(KIND.length, size);
  const bodyLength = DATA_AT + size + ((8 - (size % 8)) % 8);
  const messageLength = 1 + varintSize(header.length) + header.length + 2 + varintSize(bodyLength) + bodyLength;
  const out = Buffer.allocUnsafe(SCHEMA_FRAMED.length + 5 + messageLength);
  let pos = SCHEMA_FRAMED.copy(out, 0);
  out[pos++] = 0; // not compressed
  pos = out.writeUInt32BE(messageLength, pos);
  out[pos++] = HEADER_TAG;
  pos = writeVarint(out, pos, header.length);
  out.set(header, pos);
  pos += header.length;
  out[pos++] = BODY_TAG[0];
  out[pos++] = BODY_TAG[1];
  pos = writeVarint(out, pos, bodyLength);
  const body = pos;
  out.fill(0, body, body + DATA_AT);
  out.writeUInt32LE(version % 0x100000000, body);
  out.writeUInt32LE(Math.floor(version / 0x100000000), body + 4);
  out.writeInt32LE(KIND.length, body + 12);
  out.set(KIND, body + 16);
  out.writeInt32LE(size, body + 28);
  pos = body + DATA_AT;
  for (const c of chunks) {
    out.set(c, pos);
    pos += c.length;
  }
  out.fill(0, pos);
  return out;
}
