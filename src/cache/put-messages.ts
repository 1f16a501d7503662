/** The FlightData streams a client sends with DoPut (docs/protocol.md §7). */
import { invalidInput } from '../errors';
import type { OutgoingFlightData } from './flight-data';
import { encodeSchema, readIpcMessages, schemaOf } from '../wire/ipc';
import { encodeRow, PUT_SCHEMA_HEADER } from './opaque';
import { arrowTableMetadata, isNativeArrowSchema } from '../wire/arrow-meta';
import { Schema } from 'apache-arrow/schema';

type Descriptor = NonNullable<OutgoingFlightData['flight_descriptor']>;

/**
 * An opaque object: the schema, then one row per chunk of at most `chunkBytes`
 * (views into the caller's buffers, not copies). An empty object is one empty
 * row, which every Flame server accepts.
 */
export async function* opaquePutMessages(
  descriptor: Descriptor,
  chunks: Iterable<Uint8Array> | AsyncIterable<Uint8Array>,
  chunkBytes: number,
): AsyncGenerator<OutgoingFlightData> {
  yield { flight_descriptor: descriptor, data_header: PUT_SCHEMA_HEADER };
  let rows = 0;
  for await (const chunk of chunks) {
    for (const m of chunkRows(chunk, chunkBytes)) {
      rows++;
      yield m;
    }
  }
  if (rows === 0) yield emptyRow();
}

/**
 * opaquePutMessages for chunks already in memory: a plain generator, so that
 * the put is written without a microtask hop per message (small puts are
 * per-task cost).
 */
export function* opaquePutMessagesSync(descriptor: Descriptor, chunks: Iterable<Uint8Array>, chunkBytes: number): Generator<OutgoingFlightData> {
  yield { flight_descriptor: descriptor, data_header: PUT_SCHEMA_HEADER };
  let rows = 0;
  for (const chunk of chunks) {
    for (const m of chunkRows(chunk, chunkBytes)) {
      rows++;
      yield m;
    }
  }
  if (rows === 0) yield emptyRow();
}

function* chunkRows(chunk: Uint8Array, chunkBytes: number): Generator<OutgoingFlightData> {
  for (let at = 0; at < chunk.length; at += chunkBytes) {
    const row = encodeRow(0, undefined, [chunk.subarray(at, Math.min(at + chunkBytes, chunk.length))]);
    yield { data_header: row.header, data_body: row.body };
  }
}

function emptyRow(): OutgoingFlightData {
  const row = encodeRow(0, undefined, []);
  return { data_header: row.header, data_body: row.body };
}

/** A native Arrow object from an IPC stream; the schema gets `flame.cache.format` when it lacks it. */
export function arrowPutMessages(descriptor: Descriptor, ipc: Uint8Array): OutgoingFlightData[] {
  const messages = readIpcMessages(ipc, 'Arrow payload');
  const first = messages[0];
  if (!first) throw invalidInput('Arrow payload is an empty IPC stream (no schema)');
  let schema = schemaOf(first.message, 'Arrow payload');
  let header = first.header;
  if (!isNativeArrowSchema(schema)) {
    schema = new Schema(schema.fields, arrowTableMetadata(schema.metadata), schema.dictionaries, schema.metadataVersion);
    header = encodeSchema(schema);
  }
  return [
    { flight_descriptor: descriptor, data_header: header },
    ...messages.slice(1).map((m) => ({ data_header: m.header, data_body: m.body })),
  ];
}
