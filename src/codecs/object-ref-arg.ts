/**
 * A task argument that is a reference to an object in the cache (docs/protocol.md §4): the
 * runner fetches it and passes the value in its place. Also what a pickled
 * `flamepy.core.cache.ObjectRef` becomes wherever it appears in a pickle.
 */
import type { ObjectRef } from '../wire/cache-types';

// Marker so that isObjectRefArg works across module copies (jest, worker threads).
const OBJECT_REF_ARG = Symbol.for('flmrun-js.ObjectRefArg');

export class ObjectRefArg {
  readonly [OBJECT_REF_ARG] = true;
  constructor(readonly ref: ObjectRef) {}
}

export function isObjectRefArg(value: unknown): value is ObjectRefArg {
  return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[OBJECT_REF_ARG] === true;
}
