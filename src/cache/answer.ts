/**
 * Reading a DoGet answer (docs/protocol.md §7) from any Flame cache: ours, the reference
 * server (ZSTD bodies), or another Flight server (LZ4 frame bodies).
 *
 * - native Arrow schema: the object is the table; it is handed on as an
 *   uncompressed IPC stream, so that readers need no codecs;
 * - opaque schema with `kind`: a full answer (one `base` row first, then
 *   `patch` rows), a patch suffix (patch rows only) or "not modified" (no rows);
 * - opaque schema without `kind` (older servers): the first batch is the base,
 *   each later batch a patch.
 */
import { DictionaryBatch, Message } from 'apache-arrow/ipc/metadata/message';
import type { Schema } from 'apache-arrow/schema';
import { invalidInput } from '../errors';
import type { FlightData } from './flight-data';
import { decompressBatch } from './compression';
import { decodeMessage, encodeBatchHeader, ipcStreamParts, joinParts, schemaOf } from '../wire/ipc';
import { plainBatch } from './plain-batch';
import { opaqueLayout, readRows, type OpaqueLayout, type OpaqueRow } from './opaque';
import { cacheVersionOf, isNativeArrowSchema } from '../wire/arrow-meta';

export type Answer =
  | { mode: 'not-modified' }
  | { mode: 'full'; version: number; base: Buffer; patches: { version: number; data: Buffer }[] }
  | { mode: 'patches'; version: number; patches: { version: number; data: Buffer }[] }
  | { mode: 'arrow'; version: number; ipc: Uint8Array };

interface KnownSchema {
  schema: Schema;
  native: boolean;
  layout?: OpaqueLayout;
}

/**
 * Answer schemas seen lately, by their header bytes: a server sends the same schema with every
 * opaque answer, and decoding it (flatbuffer, fields, metadata) is a good part of a small get.
 */
const schemas = new Map<string, KnownSchema>();
const SCHEMAS_MAX = 32;
const SCHEMA_KEY_MAX_BYTES = 4096;

function knownSchema(header: Uint8Array, decode: () => KnownSchema): KnownSchema {
  if (header.length > SCHEMA_KEY_MAX_BYTES) return decode();
  const key = Buffer.from(header.buffer, header.byteOffset, header.byteLength).toString('latin1');
  const hit = schemas.get(key);
  if (hit) return hit;
  const made = decode(); // throws on a bad header: nothing is remembered
  if (schemas.size >= SCHEMAS_MAX) schemas.clear();
  schemas.set(key, made);
  return made;
}

const asBuffer = (u: Uint8Array): Buffer => Buffer.from(u.buffer, u.byteOffset, u.byteLength);

/** Incrementally reads the messages of one answer. */
export class AnswerReader {
  private schema?: Schema;
  private layout?: OpaqueLayout;
  private native = false;
  private readonly nativeMessages: { header: Uint8Array; body: Uint8Array[] }[] = [];
  private readonly batches: OpaqueRow[][] = [];
  private count = 0;
  private viewsReceived = false;
  private bodyBytes = 0;
  private plainBytes = 0;

  constructor(private readonly what: string) {}

  /**
   * What the answer's bytes cost to rebuild: `fresh` when every byte handed out is the codec's
   * new output (none is a view into a received message), with the received and the decompressed
   * body sizes. A fresh answer can be read again from its messages instead of being copied.
   */
  get decoding(): { fresh: boolean; receivedBytes: number; plainBytes: number } {
    return { fresh: !this.native && !this.viewsReceived, receivedBytes: this.bodyBytes, plainBytes: this.plainBytes };
  }

  get isNative(): boolean {
    return this.native;
  }

  /** Adds one message; answers the opaque rows it carried (for streaming consumers). */
  add(msg: FlightData): OpaqueRow[] {
    const index = this.count++;
    if (msg.data_header.length === 0) return [];
    if (!this.schema) {
      const known = knownSchema(msg.data_header, () => {
        const schema = schemaOf(decodeMessage(msg.data_header, `${this.what}: answer message ${index}`), `${this.what}: answer message ${index}`);
        const native = isNativeArrowSchema(schema);
        return { schema, native, layout: native ? undefined : opaqueLayout(schema) };
      });
      this.schema = known.schema;
      this.native = known.native;
      if (this.native) this.nativeMessages.push({ header: msg.data_header, body: [] });
      else this.layout = known.layout;
      return [];
    }
    const message = decodeMessage(msg.data_header, `${this.what}: answer message ${index}`);
    if (this.native) {
      this.nativeMessages.push(plainMessage(message, msg.data_header, msg.data_body, `${this.what}: answer message ${index}`));
      return [];
    }
    if (!message.isRecordBatch()) throw invalidInput(`${this.what}: answer message ${index} is not a record batch`);
    const plain = plainBatch(message, msg.data_body, `${this.what}: answer message ${index}`);
    // Only the data column's values are handed out as bytes (versions, kinds and offsets are read into numbers and strings).
    this.viewsReceived ||= plain.viewsBody[this.layout!.data.buffer + 2] !== false;
    this.bodyBytes += msg.data_body.length;
    this.plainBytes += plain.bodyLength;
    const rows = readRows(this.layout!, plain);
    this.batches.push(rows);
    return rows;
  }

  /** The answer once the stream has ended. */
  finish(): Answer {
    if (!this.schema) throw invalidInput(`${this.what}: the answer carried no schema`);
    if (this.native) {
      return { mode: 'arrow', version: cacheVersionOf(this.schema), ipc: joinParts(ipcStreamParts(this.nativeMessages)) };
    }
    const rows = this.batches.flat();
    if (rows.length === 0) return { mode: 'not-modified' };
    if (this.layout!.kind === undefined) return this.legacy();
    const baseAt = rows.findIndex((r) => r.kind === 'base');
    for (const r of rows) {
      if (r.kind !== 'base' && r.kind !== 'patch') throw invalidInput(`${this.what}: answer row of unknown kind '${r.kind}'`);
    }
    const patchRows = rows.filter((r) => r.kind === 'patch');
    for (let i = 1; i < patchRows.length; i++) {
      if (patchRows[i]!.version <= patchRows[i - 1]!.version) throw invalidInput(`${this.what}: patch rows must have increasing versions`);
    }
    const patches = patchRows.map((r) => ({ version: r.version, data: asBuffer(r.data) }));
    const version = Math.max(...rows.map((r) => r.version));
    if (baseAt < 0) return { mode: 'patches', version, patches };
    if (baseAt !== 0 || rows.filter((r) => r.kind === 'base').length !== 1) {
      throw invalidInput(`${this.what}: a full answer must start with exactly one base row`);
    }
    return { mode: 'full', version, base: asBuffer(rows[0]!.data), patches };
  }

  private legacy(): Answer {
    const [first, ...rest] = this.batches.filter((b) => b.length > 0);
    const base = first!.length === 1 ? asBuffer(first![0]!.data) : Buffer.concat(first!.map((r) => r.data));
    const patches = rest.map((b) => ({ version: b[0]!.version, data: b.length === 1 ? asBuffer(b[0]!.data) : Buffer.concat(b.map((r) => r.data)) }));
    const version = Math.max(first![0]!.version, ...patches.map((p) => p.version));
    return { mode: 'full', version, base, patches };
  }
}

/** A batch or dictionary message with its body decompressed (header re-encoded when it was compressed). */
function plainMessage(message: Message, header: Uint8Array, body: Uint8Array, what: string): { header: Uint8Array; body: Uint8Array[] } {
  if (message.isRecordBatch()) {
    const plain = plainBatch(message, body, what);
    if (!plain.wasCompressed) return { header, body: plain.body };
    return { header: encodeBatchHeader(plain.header, plain.bodyLength), body: plain.body };
  }
  if (message.isDictionaryBatch()) {
    const dict = message.header();
    const plain = decompressBatch(dict.data, body.subarray(0, message.bodyLength));
    if (!plain.wasCompressed) return { header, body: plain.body };
    const plainHeader = Message.encode(Message.from(new DictionaryBatch(plain.header, dict.id, dict.isDelta), plain.bodyLength));
    return { header: plainHeader, body: plain.body };
  }
  throw invalidInput(`${what} is not a batch`);
}
