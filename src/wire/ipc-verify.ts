/**
 * Bounds check of an Arrow IPC `Message` flatbuffer before apache-arrow reads it.
 *
 * apache-arrow (through the flatbuffers runtime, which has no verifier in
 * JavaScript) trusts vector lengths: reads past the end answer 0 instead of
 * failing, so a 700-byte header declaring 2^31 schema fields or batch buffers
 * makes it loop for minutes and fill the heap (found by test/fuzz; the cases
 * are in test/fuzz/corpus/). This walks the parts of Message.fbs/Schema.fbs
 * that apache-arrow iterates over (schema fields and their children, custom
 * metadata, features, batch nodes, buffers and variadic counts) and checks
 * that every table and vector lies inside the buffer, that nesting is bounded
 * and that the total number of tables visited is bounded by the buffer size
 * (so shared sub-tables cannot multiply the work). Scalars are not checked:
 * apache-arrow reads them in constant time, and the decoders validate values.
 *
 * Written by hand because no maintained JavaScript flatbuffers verifier exists.
 */
import { invalidInput } from '../errors';

const MAX_DEPTH = 64;
// MessageHeader union (Message.fbs).
const SCHEMA = 1;
const DICTIONARY_BATCH = 2;
const RECORD_BATCH = 3;

class Verifier {
  private readonly view: DataView;
  private budget: number;

  constructor(private readonly buf: Uint8Array, private readonly what: string) {
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    this.budget = Math.ceil(buf.length / 4) + 1;
  }

  fail(why: string): never {
    throw invalidInput(`${this.what} is not a valid Arrow IPC message: ${why}`);
  }

  private u32(pos: number): number {
    if (pos < 0 || pos + 4 > this.buf.length) this.fail(`offset ${pos} lies outside the ${this.buf.length}-byte header`);
    return this.view.getUint32(pos, true);
  }

  root(): number {
    return this.table(this.u32(0));
  }

  /** Position of a table, checked with its vtable. */
  table(pos: number): number {
    if (--this.budget < 0) this.fail('too many tables for its size');
    const vtable = pos - this.view.getInt32(this.checkRange(pos, 4), true);
    this.checkRange(vtable, 4);
    const vtableSize = this.view.getUint16(vtable, true);
    const tableSize = this.view.getUint16(vtable + 2, true);
    if (vtableSize < 4 || vtableSize % 2 !== 0) this.fail(`table at ${pos} has a bad vtable`);
    this.checkRange(vtable, vtableSize);
    this.checkRange(pos, tableSize);
    return pos;
  }

  /** Position of field `index` of the table at `table`, or undefined when absent. */
  field(table: number, index: number): number | undefined {
    const vtable = table - this.view.getInt32(table, true);
    const vtableSize = this.view.getUint16(vtable, true);
    const at = 4 + 2 * index;
    if (at + 2 > vtableSize) return undefined;
    const offset = this.view.getUint16(vtable + at, true);
    return offset === 0 ? undefined : table + offset;
  }

  /** The table an offset field points to. */
  child(table: number, index: number): number | undefined {
    const at = this.field(table, index);
    return at === undefined ? undefined : this.table(at + this.u32(at));
  }

  /** A vector field: its element positions' start and length, checked against the buffer. */
  vector(table: number, index: number, stride: number): { start: number; length: number } | undefined {
    const at = this.field(table, index);
    if (at === undefined) return undefined;
    const pos = at + this.u32(at);
    const length = this.u32(pos);
    if (length > (this.buf.length - pos - 4) / stride) this.fail(`a vector at ${pos} declares ${length} elements`);
    return { start: pos + 4, length };
  }

  /** Each table of a vector of tables. */
  tables(table: number, index: number, each: (t: number) => void): void {
    const v = this.vector(table, index, 4);
    if (!v) return;
    for (let i = 0; i < v.length; i++) {
      const at = v.start + 4 * i;
      each(this.table(at + this.u32(at)));
    }
  }

  private checkRange(pos: number, length: number): number {
    if (pos < 0 || pos + length > this.buf.length) this.fail(`offset ${pos} lies outside the ${this.buf.length}-byte header`);
    return pos;
  }
}

/** Throws FlmError(InvalidInput) unless the Message flatbuffer is safe to hand to apache-arrow. */
export function verifyArrowMessage(header: Uint8Array, what: string): void {
  const v = new Verifier(header, what);
  const root = v.root();
  const keyValues = (): void => undefined; // KeyValue tables: checked as tables; their strings are bounded reads
  v.tables(root, 4, () => undefined); // Message.custom_metadata: KeyValue tables
  const typeAt = v.field(root, 1);
  const type = typeAt === undefined ? 0 : header[typeAt];
  const body = v.child(root, 2);
  if (body === undefined) return;
  const recordBatch = (t: number): void => {
    v.vector(t, 1, 16); // nodes: FieldNode structs
    v.vector(t, 2, 16); // buffers: Buffer structs
    v.child(t, 3); // compression
    v.vector(t, 4, 8); // variadicBufferCounts
  };
  const field = (t: number, depth: number): void => {
    if (depth > MAX_DEPTH) v.fail(`fields nested deeper than ${MAX_DEPTH}`);
    v.child(t, 3); // type
    const dictionary = v.child(t, 4);
    if (dictionary !== undefined) v.child(dictionary, 1); // indexType
    v.tables(t, 5, (c) => field(c, depth + 1)); // children
    v.tables(t, 6, keyValues);
  };
  if (type === SCHEMA) {
    v.tables(body, 1, (f) => field(f, 0));
    v.tables(body, 2, keyValues);
    v.vector(body, 3, 8); // features
  } else if (type === RECORD_BATCH) {
    recordBatch(body);
  } else if (type === DICTIONARY_BATCH) {
    const data = v.child(body, 1);
    if (data !== undefined) recordBatch(data);
  }
}
