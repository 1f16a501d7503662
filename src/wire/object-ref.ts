/**
 * ObjectRef <-> BSON, byte-identical to the Python SDK's `ObjectRef.encode()`
 * (`bson.encode(asdict(ref))`): fields endpoint, key, version in that order,
 * version as int32 when it fits, else int64 (docs/protocol.md §3).
 */
import { BSON, Int32, Long, Double } from 'bson';
import { invalidInput } from '../errors';
import type { ObjectRef } from './cache-types';

const INT32_MIN = -(2 ** 31);
const INT32_MAX = 2 ** 31 - 1;

export function encodeObjectRef(ref: ObjectRef): Buffer {
  const v = ref.version;
  if (!Number.isSafeInteger(v)) throw invalidInput(`ObjectRef version must be an integer, got ${String(v)}`);
  const version = v >= INT32_MIN && v <= INT32_MAX ? new Int32(v) : Long.fromNumber(v);
  return Buffer.from(BSON.serialize({ endpoint: ref.endpoint, key: ref.key, version }));
}

/** Decodes an encoded ObjectRef; accepts int32, int64 and integral double versions. */
export function decodeObjectRef(bytes: Uint8Array): ObjectRef {
  const ref = tryDecodeObjectRef(bytes);
  if (!ref) throw invalidInput(`not an encoded ObjectRef (${bytes.length} bytes)`);
  return ref;
}

/** Like decodeObjectRef, but answers undefined for anything that is not an ObjectRef. */
export function tryDecodeObjectRef(bytes: Uint8Array): ObjectRef | undefined {
  // A BSON document starts with its own int32 length; check before parsing.
  if (bytes.length < 5 || bytes.length > 1 << 20) return undefined;
  const declared = bytes[0]! | (bytes[1]! << 8) | (bytes[2]! << 16) | (bytes[3]! << 24);
  if (declared !== bytes.length) return undefined;
  let doc: Record<string, unknown>;
  try {
    doc = BSON.deserialize(bytes, { promoteValues: false, promoteLongs: false, useBigInt64: false });
  } catch {
    return undefined;
  }
  return objectRefFromDocument(doc);
}

/** Reads an ObjectRef from an already-decoded BSON document (promoteValues: false). */
export function objectRefFromDocument(doc: Record<string, unknown>): ObjectRef | undefined {
  const keys = Object.keys(doc);
  if (keys.length !== 3 || keys[0] !== 'endpoint' || keys[1] !== 'key' || keys[2] !== 'version') return undefined;
  const endpoint = bsonString(doc.endpoint);
  const key = bsonString(doc.key);
  const version = bsonInteger(doc.version);
  if (endpoint === undefined || key === undefined || version === undefined) return undefined;
  return { endpoint, key, version };
}

function bsonString(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (v && typeof v === 'object' && (v as { _bsontype?: string })._bsontype === 'BSONString') return String(v);
  return undefined;
}

function bsonInteger(v: unknown): number | undefined {
  let n: number | undefined;
  if (typeof v === 'number') n = v;
  else if (v instanceof Int32) n = v.value;
  else if (v instanceof Long) n = v.toNumber();
  else if (v instanceof Double) n = v.value;
  else if (typeof v === 'bigint') n = Number(v);
  if (n === undefined || !Number.isSafeInteger(n) || n < 0) return undefined;
  return n;
}
