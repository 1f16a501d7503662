/**
 * BSON.serialize writes through one module-wide buffer of 17 MiB and throws a
 * bare RangeError past it (serializeWithBufferAndIndex uses the same buffer);
 * task inputs and persisted states can be larger, as gRPC message limits are
 * lifted on purpose. So the buffer is grown to the document's size first.
 * bson can only grow it, never shrink it: after one large document the
 * thread keeps a buffer of that size.
 */
import { BSON, type Document } from 'bson';

const DEFAULT_BUFFER = 17 * 1024 * 1024;
let bufferSize = DEFAULT_BUFFER;

export function serializeBson(doc: Document): Buffer {
  const size = BSON.calculateObjectSize(doc);
  if (size > bufferSize) {
    BSON.setInternalBufferSize(size);
    bufferSize = size;
  }
  return Buffer.from(BSON.serialize(doc));
}
