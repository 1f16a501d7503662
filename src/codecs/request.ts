/**
 * Task input: the runner request (docs/protocol.md §4). A pickle (first byte 0x80, last
 * byte STOP) is what the Python SDK sends: `cloudpickle.dumps(RunnerRequest(...))`;
 * anything else is read as a BSON document {method, args, kwargs}, the native
 * form for JavaScript clients.
 *
 * As in the Python runner, only top-level arguments (positional and keyword
 * values) are object references: a BSON binary of subtype 0x80 holding an
 * encoded ObjectRef, or in a pickle an `ObjectRef` or `bytes` that decode as one.
 */
import { Binary } from 'bson';
import { describeThrown, ErrorCode, FlmError, invalidInput } from '../errors';
import type { ObjectRef } from '../wire/cache-types';
import { encodeObjectRef, tryDecodeObjectRef } from '../wire/object-ref';
import { isObjectRefArg, ObjectRefArg } from './object-ref-arg';
import { PickledRunnerRequest, readPickle } from './pickle';
import { bsonTypeName, looksLikeBsonDocument, OBJECT_REF_SUBTYPE, parseBsonDocument, plainBsonValue } from './bson-values';
import { typeName } from './pickle/writer';
import { serializeBson } from './bson-serialize';
import { isPlainObject } from '../util/plain-object';

export { ObjectRefArg } from './object-ref-arg';

export interface RunnerRequest {
  method: string | null;
  args: unknown[];
  kwargs: Record<string, unknown> | null;
}

const PICKLE_PROTO = 0x80;
const FIELDS = new Set(['method', 'args', 'kwargs']);

export function decodeRunnerRequest(input: Uint8Array): RunnerRequest {
  // A BSON document's length may start with 0x80 too: it is told apart by its exact length and trailing 0
  // (a pickle ends with STOP, never 0).
  if (looksLikeBsonDocument(input)) return fromBson(input);
  if (input[0] === PICKLE_PROTO) return fromPickle(input);
  return fromBson(input);
}

/** The ObjectRef an argument stands for, or undefined for a plain value. */
export function argumentRef(value: unknown): ObjectRef | undefined {
  return isObjectRefArg(value) ? value.ref : undefined;
}

/** BSON {method, args, kwargs}; ObjectRefArg values (top level only) become binaries of subtype 0x80. */
export function encodeRunnerRequest(req: { method?: string | null; args?: unknown[] | null; kwargs?: Record<string, unknown> | null }): Buffer {
  const toBson = (v: unknown): unknown => (isObjectRefArg(v) ? new Binary(encodeObjectRef(v.ref), OBJECT_REF_SUBTYPE) : v);
  const doc = {
    method: req.method ?? null,
    args: (req.args ?? []).map(toBson),
    kwargs: req.kwargs ? Object.fromEntries(Object.entries(req.kwargs).map(([k, v]) => [k, toBson(v)])) : null,
  };
  try {
    return serializeBson(doc);
  } catch (err) {
    throw invalidInput(`cannot encode the runner request as BSON: ${describeThrown(err)}`, err);
  }
}

function fromPickle(input: Uint8Array): RunnerRequest {
  let value: unknown;
  try {
    value = readPickle(input);
  } catch (err) {
    throw FlmError.from(err, ErrorCode.InvalidInput, 'task input (a pickle)');
  }
  let fields: { method: unknown; args: unknown; kwargs: unknown };
  if (value instanceof PickledRunnerRequest) fields = value;
  else if (isPlainObject(value) && Object.keys(value).every((k) => FIELDS.has(k))) {
    fields = { method: value.method ?? null, args: value.args ?? null, kwargs: value.kwargs ?? null };
  } else {
    throw invalidInput(`task input pickle holds a value of type ${typeName(value)}, not a flamepy.runner.types.RunnerRequest`);
  }
  const method = fields.method;
  if (method !== null && typeof method !== 'string') throw fieldError('method', 'a str or None', method);
  if (fields.args !== null && !Array.isArray(fields.args)) throw fieldError('args', 'a tuple, list or None', fields.args);
  if (fields.kwargs instanceof Map) throw invalidInput('RunnerRequest.kwargs must have str keys only');
  if (fields.kwargs !== null && !isPlainObject(fields.kwargs)) throw fieldError('kwargs', 'a dict or None', fields.kwargs);
  const pickleRef = (v: unknown): unknown => {
    if (!Buffer.isBuffer(v)) return v;
    const ref = tryDecodeObjectRef(v);
    return ref ? new ObjectRefArg(ref) : v;
  };
  return {
    method,
    args: (fields.args ?? []).map(pickleRef),
    kwargs: fields.kwargs ? mapValues(fields.kwargs, pickleRef) : null,
  };
}

function fromBson(input: Uint8Array): RunnerRequest {
  if (!looksLikeBsonDocument(input)) {
    const head = Buffer.from(input.subarray(0, 8)).toString('hex');
    throw invalidInput(`task input (${input.length} bytes, starting ${head || 'empty'}) is neither a BSON document nor a pickle`);
  }
  const doc = parseBsonDocument(input, 'task input');
  const unknown = Object.keys(doc).filter((k) => !FIELDS.has(k));
  if (unknown.length > 0) throw invalidInput(`task input has unknown field(s) ${unknown.join(', ')} (expected method, args, kwargs)`);
  const method = doc.method ?? null;
  if (method !== null && typeof method !== 'string') throw fieldError('method', 'a string or null', method, true);
  const args = doc.args ?? null;
  if (args !== null && !Array.isArray(args)) throw fieldError('args', 'an array or null', args, true);
  const kwargs = doc.kwargs ?? null;
  if (kwargs !== null && !isPlainObject(kwargs)) throw fieldError('kwargs', 'a document or null', kwargs, true);
  const bsonRef = (where: string) => (v: unknown): unknown => {
    const plain = plainBsonValue(v, true);
    if (!(plain instanceof Binary)) return plain;
    const ref = tryDecodeObjectRef(plain.buffer.subarray(0, plain.position));
    if (!ref) throw invalidInput(`task input ${where} is a binary of subtype 0x80 (an ObjectRef) but does not hold an encoded ObjectRef`);
    return new ObjectRefArg(ref);
  };
  return {
    method,
    args: (args ?? []).map((v, i) => bsonRef(`args[${i}]`)(v)),
    kwargs: kwargs ? Object.fromEntries(Object.entries(kwargs).map(([k, v]) => [k, bsonRef(`kwargs.${k}`)(v)])) : null,
  };
}

function fieldError(field: string, expected: string, got: unknown, bson = false): Error {
  const type = bson ? bsonTypeName(got) : typeName(got);
  return invalidInput(`${bson ? 'task input' : 'RunnerRequest'}.${field} must be ${expected}, got ${type}`);
}

function mapValues(obj: Record<string, unknown>, f: (v: unknown) => unknown): Record<string, unknown> {
  return Object.fromEntries(Object.entries(obj).map(([k, v]) => [k, f(v)]));
}
