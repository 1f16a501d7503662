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
import { Binary, LargeBinary, LargeUtf8, Uint64, Utf8, type DataType } from 'apache-arrow/type';
import { Field, Schema } from 'apache-arrow/schema';
import { Type } from 'apache-arrow/enum';
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
  const versionBytes = new Uint8Array(8);
  new DataView(versionBytes.buffer).setBigUint64(0, BigInt(version), true);
  const kindBytes = kind === undefined ? undefined : Buffer.from(kind, 'utf8');
  // Buffers in schema order: version (validity, values), [kind (validity, offsets, values)], data (validity, offsets, values).
  const buffers: (readonly Uint8Array[])[] = [[], [versionBytes]];
  if (kindBytes) buffers.push([], [offsetsOf(kindBytes.length)], [kindBytes]);
  buffers.push([], [offsetsOf(dataLength)], data);
  const body: Uint8Array[] = [];
  let offset = 0;
  for (const parts of buffers) {
    body.push(...parts);
    for (const p of parts) offset += p.length;
    const pad = (8 - (offset % 8)) % 8;
    if (pad) {
      body.push(ZERO8.subarray(0, pad));
      offset += pad;
    }
  }
  return { header: rowHeader(kindBytes?.length, dataLength), body, bodyLength: offset };
}

function offsetsOf(length: number): Uint8Array {
  const offsets = new Uint8Array(8);
  new DataView(offsets.buffer).setInt32(4, length, true);
  return offsets;
}

/** The header of a one-row batch whose kind (when present) and data have these lengths, built in full. */
function buildRowHeader(kindLength: number | undefined, dataLength: number): Uint8Array {
  const regions: BufferRegion[] = [];
  const nodes: FieldNode[] = [];
  let offset = 0;
  const region = (n: number): void => {
    regions.push(new BufferRegion(offset, n));
    offset += n + ((8 - ((offset + n) % 8)) % 8);
  };
  const column = (...lengths: number[]): void => {
    nodes.push(new FieldNode(1, 0));
    region(0); // validity: none, no nulls
    for (const n of lengths) region(n);
  };
  column(8);
  if (kindLength !== undefined) column(8, kindLength);
  column(8, dataLength);
  return encodeBatchHeader(new RecordBatchHeader(1, nodes, regions, null), offset);
}

/**
 * A one-row batch header differs between rows with the same kind length only
 * in two int64 fields: the data buffer's length and the body length
 * (flatbuffer structs and scalars have fixed places). Building it through
 * apache-arrow's flatbuffer builder is a good part of a small put, so the
 * first row of each kind length makes a template: built with a probe length,
 * the two places found by their values, and checked against a build with a
 * second probe; later rows copy the template and write their two numbers. A
 * template that fails its check is never used (every row is then built in full).
 */
interface RowTemplate {
  bytes: Buffer;
  dataLengthAt: number;
  bodyLengthAt: number;
  /** Body bytes before the data buffer. */
  dataOffset: number;
}

const templates = new Map<number, RowTemplate | null>();
const PROBES = [0x0a0b0c0d, 0x01020305] as const;

function writeInt64(buf: Buffer, at: number, n: number): void {
  buf.writeUInt32LE(n % 0x100000000, at);
  buf.writeUInt32LE(Math.floor(n / 0x100000000), at + 4);
}

/** The single place of `value` (8 bytes, little-endian) in `bytes`, or -1 when there is none or more than one. */
function onlyPlace(bytes: Buffer, value: number): number {
  const needle = Buffer.alloc(8);
  writeInt64(needle, 0, value);
  const at = bytes.indexOf(needle);
  return at >= 0 && bytes.indexOf(needle, at + 1) < 0 ? at : -1;
}

const padded = (n: number): number => n + ((8 - (n % 8)) % 8);

function fill(t: RowTemplate, dataLength: number): Buffer {
  const out = Buffer.from(t.bytes);
  writeInt64(out, t.dataLengthAt, dataLength);
  writeInt64(out, t.bodyLengthAt, t.dataOffset + padded(dataLength));
  return out;
}

function makeTemplate(kindLength: number | undefined): RowTemplate | null {
  // Body before the data values: version (8), [kind offsets (8) and values], data offsets (8).
  const dataOffset = 16 + (kindLength === undefined ? 0 : 8 + padded(kindLength));
  const [a, b] = PROBES.map((n) => Buffer.from(buildRowHeader(kindLength, n)));
  const dataLengthAt = onlyPlace(a!, PROBES[0]);
  const bodyLengthAt = onlyPlace(a!, dataOffset + padded(PROBES[0]));
  if (dataLengthAt < 0 || bodyLengthAt < 0 || a!.length !== b!.length) return null;
  const t: RowTemplate = { bytes: a!, dataLengthAt, bodyLengthAt, dataOffset };
  return fill(t, PROBES[1]).equals(b!) ? t : null;
}

export function rowHeader(kindLength: number | undefined, dataLength: number): Uint8Array {
  if (dataLength === 0) return buildRowHeader(kindLength, 0);
  const key = kindLength ?? -1;
  let t = templates.get(key);
  if (t === undefined) {
    t = makeTemplate(kindLength);
    templates.set(key, t);
  }
  return t ? fill(t, dataLength) : buildRowHeader(kindLength, dataLength);
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
