/**
 * Values in the object cache (docs/protocol.md §8). Opaque objects start with a 4-byte
 * type tag `FLM` + one byte; JavaScript values are written as `FLM\x00` + a
 * pickle of the plain subset (so Python's get_object answers native values),
 * Arrow tables and record batches as native Arrow objects.
 *
 * Patches: like the Python SDK's `get_object` without a deserializer, the
 * value of an object is its base; patch rows do not change it (a caller that
 * wants them reads `obj.patches` itself).
 */
import { invalidInput } from '../errors';
import type { CacheObject, CachePayload } from '../wire/cache-types';
import { readPickle, writePickle } from './pickle';
import {
  decodeArrowArray, decodeArrowBatch, decodeArrowObject, decodeArrowTable, encodeArrowValue, isArrowTabular,
} from './arrow-values';

export const FLM_PICKLE = 0x00;
export const FLM_NUMPY = 0x01;
export const FLM_ARROW_TABLE = 0x02;
export const FLM_ARROW_ARRAY = 0x03;
export const FLM_ARROW_BATCH = 0x04;
const TAG_LENGTH = 4;
const PICKLE_TAG = Buffer.from([0x46, 0x4c, 0x4d, FLM_PICKLE]);

export interface EncodeValueOptions {
  /** Name of the value in error messages (default "result"). */
  name?: string;
}

/**
 * A JavaScript value as a cache payload. A large Buffer is not copied: it
 * becomes a chunk of its own between the pickle's header and trailer, so the
 * caller must not change it until the payload is stored.
 */
export function encodeValue(value: unknown, options: EncodeValueOptions = {}): CachePayload {
  if (isArrowTabular(value)) return encodeArrowValue(value);
  return { kind: 'opaque', chunks: writePickle(value, { name: options.name ?? 'result', prefix: PICKLE_TAG }) };
}

/** The value of an object read from the cache (its base; see the module comment about patches). */
export function decodeValue(obj: CacheObject): unknown {
  if (obj.kind === 'arrow') return decodeArrowObject(obj.ipc);
  return decodeOpaque(obj.base);
}

/** Decodes the bytes of one opaque value by its FLM tag; untagged bytes are a bare pickle. */
export function decodeOpaque(bytes: Uint8Array): unknown {
  const tag = flmTag(bytes);
  if (tag === undefined) return readPickle(bytes);
  const payload = bytes.subarray(TAG_LENGTH);
  switch (tag) {
    case FLM_PICKLE: return readPickle(payload);
    case FLM_ARROW_TABLE: return decodeArrowTable(payload);
    case FLM_ARROW_ARRAY: return decodeArrowArray(payload);
    case FLM_ARROW_BATCH: return decodeArrowBatch(payload);
    case FLM_NUMPY:
      throw invalidInput(
        'the value is a numpy array (FLM\\x01, an Arrow tensor), which flmrun-js does not read; ' +
          'store it from Python as a list (arr.tolist()) or a pyarrow array/table (pa.array(arr)) instead',
      );
    default:
      throw invalidInput(`the value has an unknown type tag FLM\\x${tag.toString(16).padStart(2, '0')}`);
  }
}

/** The byte after `FLM`, or undefined when the bytes do not start with `FLM`. */
export function flmTag(bytes: Uint8Array): number | undefined {
  if (bytes.length < TAG_LENGTH || bytes[0] !== 0x46 || bytes[1] !== 0x4c || bytes[2] !== 0x4d) return undefined;
  return bytes[3];
}
