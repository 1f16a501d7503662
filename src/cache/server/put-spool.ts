/**
 * A put on its way to the storage directory: the base file is written as the
 * stream arrives, so a stored put holds one message in memory, not the object.
 *
 * The file is the Arrow IPC file the storage keeps (disk-storage.ts), written
 * under a temporary name beside its final one and renamed when the put
 * commits. Two things are known only at the end: the version (set under the
 * key's lock at commit) and, for an opaque object, the length of its one row.
 * They live in the schema message (native Arrow: `flame.cache.version`) and the
 * row's batch header, so those are given a reserved slot when the file is
 * opened and written last. A slot may be longer than its flatbuffer: the IPC
 * format lets the metadata length include padding, and every reader parses the
 * flatbuffer from its root offset.
 */
import fs from 'node:fs/promises';
import type { Schema } from 'apache-arrow/schema';
import { Footer, FileBlock } from 'apache-arrow/ipc/metadata/file';
import { BufferRegion, FieldNode, RecordBatch as RecordBatchHeader } from 'apache-arrow/ipc/metadata/message';
import { MetadataVersion } from 'apache-arrow/enum';
import { ErrorCode, FlmError, limitExceeded } from '../../errors';
import { encodeBatchHeader, encodeSchema, framePrefix, IPC_EOS } from '../../wire/ipc';
import { PUT_SCHEMA, PUT_SCHEMA_HEADER } from '../opaque';
import { withCacheVersion } from '../../wire/arrow-meta';

const MAGIC = Buffer.from('ARROW1\0\0', 'latin1');
const MAX_BINARY = 0x7fffffff;
/** Room for the digits of any version in the native schema's metadata (and flatbuffer alignment). */
const VERSION_SLACK = 32;

/** The flatbuffer header of the one-row `{version, data}` batch whose data has `n` bytes (layout of opaque.ts). */
export function opaqueRowHeader(n: number): { header: Uint8Array; bodyLength: number } {
  const padded = Math.ceil(n / 8) * 8;
  const nodes = [new FieldNode(1, 0), new FieldNode(1, 0)];
  const regions = [new BufferRegion(0, 0), new BufferRegion(0, 8), new BufferRegion(8, 0), new BufferRegion(8, 8), new BufferRegion(16, n)];
  const bodyLength = 16 + padded;
  return { header: encodeBatchHeader(new RecordBatchHeader(1, nodes, regions, null), bodyLength), bodyLength };
}

/** A framed metadata block of exactly `size` bytes: continuation, length, flatbuffer, zero padding. */
function slot(header: Uint8Array, size: number, what: string): Buffer {
  if (header.length + 8 > size) throw new FlmError(ErrorCode.Internal, `${what} of ${header.length} bytes outgrew its ${size}-byte slot`);
  const out = Buffer.alloc(size);
  out.writeUInt32LE(0xffffffff, 0);
  out.writeInt32LE(size - 8, 4);
  out.set(header, 8);
  return out;
}

function framedLength(header: Uint8Array): number {
  return framePrefix(header).reduce((n, p) => n + p.length, 0);
}

type Block = { kind: 'batch' | 'dictionary'; block: FileBlock };

export class PutSpool {
  private pos = 0;
  private dataBytes = 0;
  private readonly blocks: Block[] = [];
  private closed = false;
  /** Opaque: where the row's batch slot starts and how long it is. */
  private rowAt = 0;
  private rowSlot = 0;
  private schemaSlot = 0;

  private constructor(
    private readonly fh: fs.FileHandle,
    readonly tmpPath: string,
    private readonly kind: 'opaque' | 'arrow',
    private readonly schema: Schema,
  ) {}

  /** Creates `tmpPath` and writes what comes before the first data byte. */
  static async open(tmpPath: string, kind: 'opaque' | 'arrow', schema: Schema): Promise<PutSpool> {
    const fh = await fs.open(tmpPath, 'wx');
    const spool = new PutSpool(fh, tmpPath, kind, schema);
    try {
      await spool.writeStart();
    } catch (err) {
      await spool.abort();
      throw err;
    }
    return spool;
  }

  /** Bytes of object data written so far (the opaque row's data, or native messages' headers and bodies). */
  get size(): number {
    return this.dataBytes;
  }

  private async writeStart(): Promise<void> {
    if (this.kind === 'opaque') {
      const schema = Buffer.concat(framePrefix(PUT_SCHEMA_HEADER));
      this.rowAt = MAGIC.length + schema.length;
      this.rowSlot = framedLength(opaqueRowHeader(1).header);
      // The slot and the row's first 16 body bytes (version, offsets) are filled at commit.
      await this.write([MAGIC, schema, Buffer.alloc(this.rowSlot + 16)]);
    } else {
      this.schemaSlot = framedLength(encodeSchema(withCacheVersion(this.schema, 0))) + VERSION_SLACK;
      await this.write([MAGIC, Buffer.alloc(this.schemaSlot)]);
    }
  }

  private async write(parts: Uint8Array[]): Promise<void> {
    // writev takes at most IOV_MAX buffers per call on some platforms; go in slices.
    for (let i = 0; i < parts.length; i += 512) {
      const slice = parts.slice(i, i + 512);
      const { bytesWritten } = await this.fh.writev(slice, this.pos);
      const expected = slice.reduce((n, p) => n + p.length, 0);
      if (bytesWritten !== expected) throw new FlmError(ErrorCode.Internal, `short write to a cache spool file (${bytesWritten} of ${expected} bytes)`);
      this.pos += expected;
    }
  }

  /** Appends opaque data (the values of the put's rows, in order). */
  async appendData(data: Uint8Array): Promise<void> {
    if (this.dataBytes + data.length > MAX_BINARY) {
      throw limitExceeded(`an opaque object holds at most ${MAX_BINARY} bytes (one Binary value); this put is larger`);
    }
    await this.write([data]);
    this.dataBytes += data.length;
  }

  /** Appends one native Arrow batch or dictionary message as received. */
  async appendMessage(kind: 'batch' | 'dictionary', header: Uint8Array, body: Uint8Array): Promise<void> {
    const prefix = framePrefix(header);
    const metaLength = prefix.reduce((n, p) => n + p.length, 0);
    this.blocks.push({ kind, block: new FileBlock(metaLength, body.length, this.pos) });
    await this.write([...prefix, body]);
    this.dataBytes += header.length + body.length;
  }

  /** Fills the reserved slots for `version`, writes the footer and renames the file to `target`. */
  async commit(version: number, target: string): Promise<void> {
    let schema: Schema;
    if (this.kind === 'opaque') {
      const n = this.dataBytes;
      const row = opaqueRowHeader(n);
      const head = Buffer.alloc(16);
      head.writeBigUInt64LE(BigInt(version), 0);
      head.writeInt32LE(n, 12); // offsets [0, n]
      await this.fh.write(Buffer.concat([slot(row.header, this.rowSlot, 'opaque row header'), head]), 0, this.rowSlot + 16, this.rowAt);
      const pad = row.bodyLength - 16 - n;
      if (pad > 0) await this.write([Buffer.alloc(pad)]);
      this.blocks.push({ kind: 'batch', block: new FileBlock(this.rowSlot, row.bodyLength, this.rowAt) });
      schema = PUT_SCHEMA;
    } else {
      schema = withCacheVersion(this.schema, version);
      await this.fh.write(slot(encodeSchema(schema), this.schemaSlot, 'native schema'), 0, this.schemaSlot, MAGIC.length);
    }
    const batches = this.blocks.filter((b) => b.kind === 'batch').map((b) => b.block);
    const dictionaries = this.blocks.filter((b) => b.kind === 'dictionary').map((b) => b.block);
    const footer = Footer.encode(new Footer(schema, MetadataVersion.V5, batches, dictionaries));
    const tail = Buffer.alloc(4);
    tail.writeInt32LE(footer.length, 0);
    await this.write([IPC_EOS, footer, tail, MAGIC.subarray(0, 6)]);
    await this.fh.close();
    this.closed = true;
    await fs.rename(this.tmpPath, target);
  }

  /** Closes and deletes the temporary file; safe to call more than once. */
  async abort(): Promise<void> {
    if (!this.closed) {
      this.closed = true;
      await this.fh.close().catch(() => undefined);
    }
    await fs.rm(this.tmpPath, { force: true });
  }
}
