/** The codecs: ObjectRefs, values in the cache, task requests, session contexts (docs/protocol.md §3, §4, §5, §8). */
export { encodeObjectRef, decodeObjectRef, tryDecodeObjectRef } from '../wire/object-ref';
export { ObjectRefArg, isObjectRefArg } from './object-ref-arg';
export { encodeValue, decodeValue } from './values';
export { decodeRunnerRequest, encodeRunnerRequest, argumentRef, type RunnerRequest } from './request';
export { decodeCommonData, decodeContextObject, encodeRunnerContext, encodeContextPayload, type RunnerContext } from './context';
export { readPickle, writePickle } from './pickle';
