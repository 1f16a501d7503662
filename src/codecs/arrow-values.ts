/**
 * Arrow values in the cache (docs/protocol.md §7, §8): apache-arrow Tables and RecordBatches
 * are stored as native Arrow objects, tagged in their schema metadata exactly
 * as the Python SDK tags them (`_schema_with_cache_metadata`), so that Python's
 * `get_object` answers a `pyarrow.Table` (or `pyarrow.RecordBatch`).
 */
import type { RecordBatch, Schema, Table, Vector } from 'apache-arrow';
import { describeThrown, ErrorCode, FlmError, invalidInput } from '../errors';
import { readIpcMessages } from '../wire/ipc';
import { arrowTableMetadata, CACHE_LOGICAL_TYPE_KEY, withoutCacheMetadata } from '../wire/arrow-meta';
import type { CachePayload } from '../wire/cache-types';

export const LOGICAL_TYPE_TABLE = 'pyarrow.table';
export const LOGICAL_TYPE_RECORD_BATCH = 'pyarrow.record_batch';

/**
 * The whole of apache-arrow (its vectors, builders and visitors: ~75 ms to load in a fresh process, twice the
 * IPC metadata the cache needs), loaded on first use: only a session that stores or reads an Arrow value needs
 * it (user code's own apache-arrow is another copy, from its package). Its file is found now, so that a
 * resolver patched by user code later cannot send us elsewhere.
 */
const ARROW_FILE = require.resolve('apache-arrow');

function arrow(): typeof import('apache-arrow') {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded when first needed (above)
  return require(ARROW_FILE) as typeof import('apache-arrow');
}

/** Loads it ahead of the first Arrow value (a session whose package depends on apache-arrow, once entered). */
export function preloadArrow(): void {
  arrow();
}

/**
 * Table and RecordBatch mark their instances with global symbols (what their own `instanceof` checks, so that
 * copies of apache-arrow in user packages match too): read here without loading the library.
 */
const TABLE_MARK = Symbol.for('apache-arrow/Table');
const RECORD_BATCH_MARK = Symbol.for('apache-arrow/RecordBatch');

export function isArrowTabular(v: unknown): v is Table | RecordBatch {
  if (typeof v !== 'object' || v === null) return false;
  const marked = v as Record<symbol, unknown>;
  return marked[TABLE_MARK] === true || marked[RECORD_BATCH_MARK] === true;
}

export function encodeArrowValue(v: Table | RecordBatch): CachePayload {
  const { RecordBatch, Schema, Table, tableToIPC } = arrow();
  const logicalType = v instanceof RecordBatch ? LOGICAL_TYPE_RECORD_BATCH : LOGICAL_TYPE_TABLE;
  const metadata = arrowTableMetadata(v.schema.metadata, { version: 0, logicalType });
  try {
    const table = withSchema(v instanceof RecordBatch ? new Table(v) : v, new Schema(v.schema.fields, metadata));
    return { kind: 'arrow', ipc: tableToIPC(table, 'stream') };
  } catch (err) {
    throw invalidInput(`cannot store the Arrow ${v instanceof RecordBatch ? 'RecordBatch' : 'Table'}: ${describeThrown(err)}`, err);
  }
}

/** A native Arrow object read from the cache: a Table, or a RecordBatch when it was stored as one (as Python does). */
export function decodeArrowObject(ipc: Uint8Array): Table | RecordBatch {
  const { Schema } = arrow();
  const table = readIpc(ipc, 'native Arrow object');
  const metadata = table.schema.metadata;
  const logicalType = metadata.get(CACHE_LOGICAL_TYPE_KEY) ?? LOGICAL_TYPE_TABLE;
  const user = withoutCacheMetadata(metadata);
  const plain = withSchema(table, new Schema(table.schema.fields, user));
  if (logicalType === LOGICAL_TYPE_RECORD_BATCH && plain.batches.length === 1) return plain.batches[0]!;
  return plain;
}

/** `FLM\x02`: a table as an IPC stream. */
export function decodeArrowTable(payload: Uint8Array): Table {
  return readIpc(payload, 'FLM\\x02 Arrow table');
}

/** `FLM\x04`: a record batch as an IPC stream (its first batch, as pyarrow's read_next_batch). */
export function decodeArrowBatch(payload: Uint8Array): RecordBatch {
  const table = readIpc(payload, 'FLM\\x04 Arrow record batch');
  const batch = table.batches[0];
  if (!batch) throw invalidInput('FLM\\x04 Arrow record batch value holds no batch');
  return batch;
}

/** `FLM\x03`: an array, stored as one batch with one column `data`. */
export function decodeArrowArray(payload: Uint8Array): Vector {
  const batch = decodeArrowBatch(payload);
  const column = batch.getChildAt(0);
  if (!column) throw invalidInput('FLM\\x03 Arrow array value has no column');
  return column;
}

function withSchema(table: Table, schema: Schema): Table {
  const { RecordBatch, Table } = arrow();
  return table.batches.length > 0 ? new Table(table.batches.map((b) => new RecordBatch(schema, b.data))) : new Table(schema);
}

function isIpcFile(bytes: Uint8Array): boolean {
  return bytes.length >= 6 && Buffer.from(bytes.buffer, bytes.byteOffset, 6).toString('latin1') === 'ARROW1';
}

function readIpc(bytes: Uint8Array, what: string): Table {
  const { RecordBatchReader, Table } = arrow();
  let schema: Schema | undefined;
  let batches: RecordBatch[];
  // Values are IPC streams (as Python writes them): files are refused, because apache-arrow's file reader
  // follows the footer's block offsets and never returned on a corrupt file; every stream header is
  // bounds-checked first because apache-arrow trusts flatbuffer vector lengths (a small hostile header
  // loops for minutes). Both found by test/fuzz; the cases are in test/fuzz/corpus/.
  if (isIpcFile(bytes)) throw invalidInput(`cannot read the ${what}: it is an Arrow IPC file, not an IPC stream`);
  try {
    readIpcMessages(bytes, 'IPC stream');
  } catch (err) {
    throw FlmError.from(err, ErrorCode.InvalidInput, `cannot read the ${what}`);
  }
  try {
    const reader = RecordBatchReader.from(bytes);
    reader.open();
    schema = reader.schema as Schema | undefined;
    batches = schema ? reader.readAll() : [];
  } catch (err) {
    throw invalidInput(`cannot read the ${what} (an Arrow IPC stream of ${bytes.length} bytes): ${describeThrown(err)}`, err);
  }
  // apache-arrow reads bytes without a schema message as an empty table; that is not a value.
  if (!schema) throw invalidInput(`cannot read the ${what}: its ${bytes.length} bytes hold no Arrow IPC stream (no schema)`);
  return batches.length > 0 ? new Table(batches) : new Table(schema);
}
