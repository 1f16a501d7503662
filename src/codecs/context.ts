/**
 * Session common data: the runner context (docs/protocol.md §5). It arrives as an encoded
 * ObjectRef (the Python runner's form: the context is that object's value),
 * or as a BSON document holding the context itself. A context read from the
 * cache may be a BSON document or a pickled dict (what a Python client's
 * `put_object({...})` stores); a pickled Python RunnerContext is refused with
 * an explanation, since its execution object is Python code.
 *
 * Unknown fields are refused, naming them: a misspelt `initArgs` or `exports`
 * would otherwise be silently ignored.
 */
import { Binary } from 'bson';
import { describeThrown, ErrorCode, FlmError, invalidInput } from '../errors';
import type { CacheObject, CachePayload, ObjectRef } from '../wire/cache-types';
import { tryDecodeObjectRef } from '../wire/object-ref';
import { bsonTypeName, looksLikeBsonDocument, parseBsonDocument, plainBsonValue } from './bson-values';
import { decodeOpaque, flmTag } from './values';
import { typeName } from './pickle/writer';
import { serializeBson } from './bson-serialize';
import { isPlainObject } from '../util/plain-object';

export interface RunnerContext {
  module?: string;
  export?: string;
  initArgs?: unknown[];
  stateful: boolean;
  autoscale: boolean;
  warmup: number;
  state?: Buffer;
}

export type CommonData = { kind: 'ref'; ref: ObjectRef } | { kind: 'context'; context: RunnerContext };

const FIELDS = ['module', 'export', 'init_args', 'stateful', 'autoscale', 'warmup', 'state'];
const FORBIDDEN_SEGMENTS = new Set(['__proto__', 'prototype', 'constructor']);

export function decodeCommonData(bytes: Uint8Array): CommonData {
  const ref = tryDecodeObjectRef(bytes);
  if (ref) return { kind: 'ref', ref };
  // Not a documented form, but a pickle here (a Python RunnerContext, say) deserves the same explanation.
  if (!looksLikeBsonDocument(bytes) && (bytes[0] === 0x80 || flmTag(bytes) !== undefined)) {
    return { kind: 'context', context: contextFromOpaque(bytes, 'session common data') };
  }
  if (!looksLikeBsonDocument(bytes)) {
    throw invalidInput(
      `session common data (${bytes.length} bytes) is neither an encoded ObjectRef nor a BSON context document ` +
        '{module, export, init_args, stateful, autoscale, warmup, state}',
    );
  }
  return { kind: 'context', context: contextFromBson(bytes, 'session common data') };
}

/** The context held by an object fetched from the cache (by the ObjectRef in the common data). */
export function decodeContextObject(obj: CacheObject): RunnerContext {
  const what = 'session context object';
  if (obj.kind === 'arrow') throw invalidInput(`${what} is an Arrow table, not a context {module, export, init_args}`);
  if (looksLikeBsonDocument(obj.base)) return contextFromBson(obj.base, what);
  return contextFromOpaque(obj.base, what);
}

function contextFromOpaque(bytes: Uint8Array, what: string, nested = false): RunnerContext {
  let value: unknown;
  try {
    value = decodeOpaque(bytes);
  } catch (err) {
    throw FlmError.from(err, ErrorCode.InvalidInput, what);
  }
  // The Python SDK stores its context as put_object(prefix, cloudpickle.dumps(ctx)): a bytes value holding
  // a pickle. Look one level into such bytes (a pickle or a BSON document) before giving up.
  if (!nested && Buffer.isBuffer(value)) {
    if (looksLikeBsonDocument(value)) return contextFromBson(value, what);
    if (value[0] === 0x80) return contextFromOpaque(value, what, true);
  }
  if (!isPlainObject(value)) {
    throw invalidInput(`${what} holds a value of type ${typeName(value)}, not a context: store a dict {module, export, init_args} or a BSON document`);
  }
  return contextFromFields(value, what, typeName);
}

/** BSON with docs/protocol.md's snake_case field names; absent fields are left out. */
export function encodeRunnerContext(ctx: RunnerContext): Buffer {
  const doc: Record<string, unknown> = {};
  if (ctx.module !== undefined) doc.module = ctx.module;
  if (ctx.export !== undefined) doc.export = ctx.export;
  if (ctx.initArgs !== undefined) doc.init_args = ctx.initArgs;
  doc.stateful = ctx.stateful;
  doc.autoscale = ctx.autoscale;
  doc.warmup = ctx.warmup;
  if (ctx.state !== undefined) doc.state = new Binary(ctx.state);
  try {
    return serializeBson(doc);
  } catch (err) {
    throw invalidInput(`cannot encode the runner context as BSON: ${describeThrown(err)}`, err);
  }
}

/** The context as an opaque cache payload (for writing a stateful context back under its key). */
export function encodeContextPayload(ctx: RunnerContext): CachePayload {
  return { kind: 'opaque', chunks: [encodeRunnerContext(ctx)] };
}

/** Splits an export path such as `handlers.math.add`; empty segments (`..`) and prototype names are refused. */
export function parseExportPath(path: string): string[] {
  const segments = path.split('.');
  for (const s of segments) {
    if (s === '') throw invalidInput(`export "${path}" is not a valid export path: empty segment (".." or a leading/trailing dot)`);
    if (FORBIDDEN_SEGMENTS.has(s)) throw invalidInput(`export "${path}" is not a valid export path: "${s}" is not allowed`);
  }
  return segments;
}

function contextFromBson(bytes: Uint8Array, what: string): RunnerContext {
  const doc = plainBsonValue(parseBsonDocument(bytes, what), false) as Record<string, unknown>;
  return contextFromFields(doc, what, bsonTypeName);
}

function contextFromFields(doc: Record<string, unknown>, what: string, nameOf: (v: unknown) => string): RunnerContext {
  const unknown = Object.keys(doc).filter((k) => !FIELDS.includes(k));
  if (unknown.length > 0) {
    throw invalidInput(`${what} has unknown field(s) ${unknown.join(', ')} (known: ${FIELDS.join(', ')})`);
  }
  const wrong = (field: string, expected: string): FlmError =>
    invalidInput(`${what}: field ${field} must be ${expected}, got ${nameOf(doc[field])}`);
  const present = (field: string): boolean => doc[field] !== undefined && doc[field] !== null;
  const ctx: RunnerContext = { stateful: false, autoscale: false, warmup: 0 };
  if (present('module')) {
    if (typeof doc.module !== 'string' || doc.module === '') throw wrong('module', 'a non-empty string');
    ctx.module = doc.module;
  }
  if (present('export')) {
    if (typeof doc.export !== 'string' || doc.export === '') throw wrong('export', 'a non-empty string');
    parseExportPath(doc.export);
    ctx.export = doc.export;
  }
  if (present('init_args')) {
    if (!Array.isArray(doc.init_args)) throw wrong('init_args', 'an array');
    ctx.initArgs = doc.init_args;
  }
  for (const field of ['stateful', 'autoscale'] as const) {
    if (!present(field)) continue;
    if (typeof doc[field] !== 'boolean') throw wrong(field, 'a boolean');
    ctx[field] = doc[field];
  }
  if (present('warmup')) {
    const w = doc.warmup;
    if (typeof w !== 'number' || !Number.isSafeInteger(w) || w < 0) throw wrong('warmup', 'a non-negative integer');
    ctx.warmup = w;
  }
  if (present('state')) {
    if (!Buffer.isBuffer(doc.state)) throw wrong('state', 'binary');
    ctx.state = doc.state;
  }
  return ctx;
}
