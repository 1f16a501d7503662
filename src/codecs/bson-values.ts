/**
 * BSON documents as plain JavaScript values, for requests and contexts
 * (docs/protocol.md §4, §5): binaries become Buffers, int64 beyond the safe range becomes
 * bigint, nested documents stay plain objects. A binary of user subtype 0x80
 * is kept as a Binary so that the caller can tell ObjectRef arguments apart.
 */
import { Binary, BSON, Long } from 'bson';
import { describeThrown, invalidInput, limitExceeded } from '../errors';

export const OBJECT_REF_SUBTYPE = 0x80;
const MAX_DEPTH = 1000;

/** True when the bytes are exactly one BSON document (its int32 length, a trailing 0). */
export function looksLikeBsonDocument(bytes: Uint8Array): boolean {
  if (bytes.length < 5) return false;
  const declared = (bytes[0]! | (bytes[1]! << 8) | (bytes[2]! << 16) | (bytes[3]! << 24)) >>> 0;
  return declared === bytes.length && bytes[bytes.length - 1] === 0;
}

/** Parses one BSON document; `what` names it in errors. */
export function parseBsonDocument(bytes: Uint8Array, what: string): Record<string, unknown> {
  try {
    return BSON.deserialize(bytes, { promoteBuffers: false, promoteLongs: true, promoteValues: true, bsonRegExp: false });
  } catch (err) {
    throw invalidInput(`${what} is not a valid BSON document (${bytes.length} bytes): ${describeThrown(err)}`, err);
  }
}

/** Converts BSON library types into plain values; a subtype-0x80 Binary is left for the caller when `keepRefs`. */
export function plainBsonValue(v: unknown, keepRefs: boolean, depth = 0): unknown {
  if (typeof v !== 'object' || v === null) return v;
  if (depth > MAX_DEPTH) throw limitExceeded(`BSON value nests deeper than ${MAX_DEPTH} levels`);
  if (v instanceof Binary) {
    if (keepRefs && v.sub_type === OBJECT_REF_SUBTYPE) return v;
    return Buffer.from(v.buffer.buffer, v.buffer.byteOffset, v.position);
  }
  if (v instanceof Long) return v.toBigInt();
  if (Array.isArray(v)) return v.map((item) => plainBsonValue(item, false, depth + 1));
  if (Object.getPrototypeOf(v) === Object.prototype) {
    return Object.fromEntries(Object.entries(v).map(([k, item]) => [k, plainBsonValue(item, false, depth + 1)]));
  }
  return v; // Date, RegExp, ObjectId, Decimal128, ...: BSON's own JavaScript forms
}

export function bsonTypeName(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (v instanceof Binary) return `binary (subtype 0x${v.sub_type.toString(16)})`;
  if (typeof v === 'object') return Object.getPrototypeOf(v) === Object.prototype ? 'document' : (v.constructor?.name ?? 'object');
  return typeof v;
}
