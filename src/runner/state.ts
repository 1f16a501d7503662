/**
 * Stateful execution objects (docs/protocol.md §5): the instance's own enumerable
 * properties, serialized with Node's structured-clone serializer, survive
 * across workers and sessions.
 *
 * Function-valued properties are skipped (a constructor re-creates bound
 * handlers); class instances inside the state come back as plain objects,
 * as structured clone does.
 */
import { isDeepStrictEqual } from 'node:util';
import v8 from 'node:v8';
import { describeThrown, ErrorCode, FlmError } from '../errors';

/** Serializes the instance's own enumerable, non-function properties. */
export function captureState(instance: unknown): Buffer | undefined {
  if (!isStateHolder(instance)) return undefined;
  const snapshot: Record<string, unknown> = {};
  for (const key of Object.keys(instance)) {
    const value = (instance as Record<string, unknown>)[key];
    if (typeof value === 'function') continue;
    snapshot[key] = value;
  }
  try {
    return v8.serialize(snapshot);
  } catch (err) {
    throw new FlmError(ErrorCode.UserError, `cannot persist the state of ${describe(instance)}: ${why(snapshot, err)}`, { cause: err });
  }
}

/** Assigns persisted state onto a fresh instance. */
export function restoreState(instance: unknown, state: Uint8Array | undefined): void {
  if (!state || state.length === 0 || !isStateHolder(instance)) return;
  let snapshot: unknown;
  try {
    snapshot = v8.deserialize(state);
  } catch (err) {
    throw new FlmError(ErrorCode.InvalidInput, `the context's persisted state (${state.length} bytes) cannot be read: ${describeThrown(err)}`, {
      cause: err,
    });
  }
  if (!snapshot || typeof snapshot !== 'object') {
    throw new FlmError(ErrorCode.InvalidInput, "the context's persisted state is not an object of properties");
  }
  for (const [key, value] of Object.entries(snapshot)) {
    // defineProperty, not assignment: a persisted key never reaches a setter or the prototype.
    Object.defineProperty(instance, key, { value, writable: true, enumerable: true, configurable: true });
  }
}

/**
 * Whether two serialized states hold equal values. Bytes alone do not tell:
 * V8 writes a deserialized array in another layout than a fresh one.
 */
export function sameState(a: Uint8Array | undefined, b: Uint8Array | undefined): boolean {
  if (!a || !b) return a === b;
  if (Buffer.compare(a, b) === 0) return true;
  try {
    return isDeepStrictEqual(v8.deserialize(a), v8.deserialize(b));
  } catch {
    return false;
  }
}

/** Instances and plain objects hold state; a module namespace is frozen and a function has none. */
function isStateHolder(v: unknown): v is object {
  return typeof v === 'object' && v !== null && Object.prototype.toString.call(v) !== '[object Module]';
}

function describe(instance: object): string {
  const name = (instance as { constructor?: { name?: string } }).constructor?.name;
  return name && name !== 'Object' ? `${name} instance` : 'execution object';
}

/** Names the first property the serializer refuses. */
function why(snapshot: Record<string, unknown>, err: unknown): string {
  for (const [key, value] of Object.entries(snapshot)) {
    try {
      v8.serialize(value);
    } catch (e) {
      return `property '${key}' cannot be serialized (${describeThrown(e)})`;
    }
  }
  return describeThrown(err);
}
