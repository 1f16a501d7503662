/**
 * Opaque objects (docs/protocol.md §7): rows of `{version: UInt64, [kind: Utf8], data: Binary}`.
 *
 * Rows are written and read by buffer position instead of through
 * apache-arrow's vectors: a row's `data` is the whole object (up to hundreds
 * of MiB), and building a Binary vector would copy it. Writing places the
 * caller's chunks in the body as they are; reading slices each value out of
 * the received body without a copy. Only flat column types are accepted, whose
 * buffer layout is fixed by the Arrow format (validity, [offsets,] values).
 */
import { Binary, Field, LargeBinary, LargeUtf8, Schema, Type, Uint64, Utf8, type DataType } from 'apache-arrow';
import { BufferRegion, FieldNode, RecordBatch as RecordBatchHeader } from 'apache-arrow/ipc/metadata/message';
import { invalidInput } from '../errors';
import { encodeBatchHeader, encodeSchema } from '../wire/ipc';
import type { PlainBatch } from './compression';

export interface OpaqueRow {
  version: number;
  kind?: string;
  data: Uint8Array;
}

const FIELD_VERSION = 'version';
const FIELD_KIND = 'kind';
const FIELD_DATA = 'data';
const MAX_BINARY = 0x7fffffff;

/** What clients put: `{version: UInt64 not null, data: Binary not null}`. */
export const PUT_SCHEMA = new Schema([new Field(FIELD_VERSION, new Uint64(), false), new Field(FIELD_DATA, new Binary(), false)]);
/** What the server answers: `{version: UInt64, kind: Utf8, data: Binary}`. */
export const ANSWER_SCHEMA = new Schema([
  new Field(FIELD_VERSION, new Uint64(), false),
  new Field(FIELD_KIND, new Utf8(), false),
  new Field(FIELD_DATA, new Binary(), false),
]);
export const PUT_SCHEMA_HEADER = encodeSchema(PUT_SCHEMA);
export const ANSWER_SCHEMA_HEADER = encodeSchema(ANSWER_SCHEMA);

const ZERO8 = new Uint8Array(8);

/** One single-row batch: header flatbuffer and body parts (the data chunks are not copied). */
export interface EncodedBatch {
  header: Uint8Array;
  body: Uint8Array[];
  bodyLength: number;
}

/** Encodes one row; `kind` present selects the answer schema, absent the put schema. */
export function encodeRow(version: number, kind: string | undefined, data: readonly Uint8Array[]): EncodedBatch {
  let dataLength = 0;
  for (const d of data) dataLength += d.length;
  if (dataLength > MAX_BINARY) throw invalidInput(`an opaque object row holds at most ${MAX_BINARY} bytes, got ${dataLength}`);
  const body: Uint8Array[] = [];
  const regions: BufferRegion[] = [];
  const nodes: FieldNode[] = [];
  let offset = 0;
  const push = (parts: readonly Uint8Array[]): void => {
    let n = 0;
    for (const p of parts) n += p.length;
    regions.push(new BufferRegion(offset, n));
    body.push(...parts);
    offset += n;
    const pad = (8 - (offset % 8)) % 8;
    if (pad) {
      body.push(ZERO8.subarray(0, pad));
      offset += pad;
    }
  };
  const binary = (parts: readonly Uint8Array[], length: number): void => {
    const offsets = new Uint8Array(8);
    new DataView(offsets.buffer).setInt32(4, length, true);
    nodes.push(new FieldNode(1, 0));
    push([]); // validity: none, no nulls
    push([offsets]);
    push(parts);
  };
  const versionBytes = new Uint8Array(8);
  new DataView(versionBytes.buffer).setBigUint64(0, BigInt(version), true);
  nodes.push(new FieldNode(1, 0));
  push([]);
  push([versionBytes]);
  if (kind !== undefined) {
    const k = Buffer.from(kind, 'utf8');
    binary([k], k.length);
  }
  binary(data, dataLength);
  const header = new RecordBatchHeader(1, nodes, regions, null);
  return { header: encodeBatchHeader(header, offset), body, bodyLength: offset };
}

/** apache-arrow's own toString throws for a nested type without children (a hostile schema; found by test/fuzz). */
function typeText(type: DataType): string {
  try {
    return String(type);
  } catch {
    return Type[type.typeId] ?? `type id ${String(type.typeId)}`;
  }
}

function bufferCount(type: DataType, name: string): number {
  switch (type.typeId) {
    case Type.Null:
      return 0;
    case Type.Binary:
    case Type.LargeBinary:
    case Type.Utf8:
    case Type.LargeUtf8:
      return 3;
    case Type.Int:
    case Type.Float:
    case Type.Bool:
    case Type.Date:
    case Type.Time:
    case Type.Timestamp:
    case Type.Decimal:
    case Type.Interval:
    case Type.Duration:
    case Type.FixedSizeBinary:
      return 2;
    default:
      throw invalidInput(`opaque object schema: column '${name}' has unsupported type ${typeText(type)}`);
  }
}

/** Where each column's buffers start; checks the schema is an opaque one. */
export interface OpaqueLayout {
  data: { buffer: number; large: boolean };
  version?: number;
  kind?: { buffer: number; large: boolean };
}

export function opaqueLayout(schema: Schema): OpaqueLayout {
  let buffer = 0;
  let data: OpaqueLayout['data'] | undefined;
  let version: number | undefined;
  let kind: OpaqueLayout['kind'];
  for (const field of schema.fields) {
    if (field.type.typeId === Type.Dictionary) {
      throw invalidInput(`opaque object schema: column '${field.name}' is dictionary-encoded`);
    }
    const t = field.type;
    if (field.name === FIELD_DATA) {
      if (!(t instanceof Binary || t instanceof LargeBinary)) {
        throw invalidInput(`opaque object schema: column 'data' must be Binary, got ${typeText(t)}`);
      }
      data = { buffer, large: t instanceof LargeBinary };
    } else if (field.name === FIELD_VERSION && t.typeId === Type.Int && (t as Uint64).bitWidth === 64) {
      version = buffer;
    } else if (field.name === FIELD_KIND && (t instanceof Utf8 || t instanceof LargeUtf8)) {
      kind = { buffer, large: t instanceof LargeUtf8 };
    }
    buffer += bufferCount(t, field.name);
  }
  if (!data) {
    throw invalidInput(
      `not an opaque object schema (expected {version: UInt64, data: Binary}), got {${schema.fields.map((f) => `${f.name}: ${typeText(f.type)}`).join(', ')}}`,
    );
  }
  return { data, version, kind };
}

function valueAt(buffers: Uint8Array[], col: { buffer: number; large: boolean }, row: number, rows: number, name: string): Uint8Array {
  const offsets = buffers[col.buffer + 1];
  const values = buffers[col.buffer + 2];
  const width = col.large ? 8 : 4;
  if (!offsets || !values || offsets.length < (rows + 1) * width) {
    throw invalidInput(`opaque batch: column '${name}' has a short offsets buffer`);
  }
  const view = new DataView(offsets.buffer, offsets.byteOffset, offsets.byteLength);
  const read = (i: number): number =>
    col.large ? Number(view.getBigInt64(i * 8, true)) : view.getInt32(i * 4, true);
  const start = read(row);
  const end = read(row + 1);
  if (start < 0 || end < start || end > values.length) {
    throw invalidInput(`opaque batch: column '${name}' row ${row} offsets [${start}, ${end}) lie outside its ${values.length}-byte values`);
  }
  return values.subarray(start, end);
}

/** The rows of one (decompressed) batch; `data` values are views into the body. */
export function readRows(layout: OpaqueLayout, batch: PlainBatch): OpaqueRow[] {
  const rows = batch.header.length;
  if (!Number.isSafeInteger(rows) || rows < 0) throw invalidInput(`opaque batch declares ${String(rows)} rows`);
  const out: OpaqueRow[] = [];
  for (let i = 0; i < rows; i++) {
    const row: OpaqueRow = { version: 0, data: valueAt(batch.buffers, layout.data, i, rows, FIELD_DATA) };
    if (layout.version !== undefined) {
      const values = batch.buffers[layout.version + 1];
      if (values && values.length >= (i + 1) * 8) {
        row.version = Number(new DataView(values.buffer, values.byteOffset, values.byteLength).getBigUint64(i * 8, true));
      }
    }
    if (layout.kind) row.kind = Buffer.from(valueAt(batch.buffers, layout.kind, i, rows, FIELD_KIND)).toString('utf8');
    out.push(row);
  }
  return out;
}
