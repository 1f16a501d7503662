/**
 * Collects one DoPut stream (docs/protocol.md §7): the first FlightData names the target
 * (PATH key or prefix, or CMD `PATCH:<key>`) and carries the Schema; each
 * following one a RecordBatch (or, for native Arrow objects, a
 * DictionaryBatch). Everything is checked as it arrives, so a bad stream fails
 * at its first bad message; nothing is committed until the stream has ended whole.
 *
 * Every message is charged to the server-wide PutBudget when it arrives. With
 * a storage directory a put (not a patch: deltas are small and stay in
 * memory) is written to its file as it arrives (put-spool.ts) and its
 * messages are released once written, except for a small put, which is also
 * kept in memory so that its first get needs no disk read.
 */
import { randomUUID } from 'node:crypto';
import { MessageHeader } from 'apache-arrow/fb/message-header';
import type { Schema } from 'apache-arrow/schema';
import { invalidInput, limitExceeded } from '../../errors';
import type { FlightData } from '../flight-data';
import { opaqueRowsFromParts, partsLength, type ReceivedFlightData } from './received-parts';
import { schemaOf, type RecordBatchHeader } from '../../wire/ipc';
import { plainBatch } from '../plain-batch';
import { parseKey, parsePutTarget, type ObjectKey } from '../../wire/keys';
import { readRows, type OpaqueLayout } from '../opaque';
import { withoutCacheVersion } from '../../wire/arrow-meta';
import { decodeHeader, schemaFacts } from './decoded-headers';
import type { ArrowMessage, ArrowValue, OpaqueValue } from './stored-object';
import type { DiskStorage } from './disk-storage';
import type { PutSpool } from './put-spool';
import { messageBytes, type PutBudget } from './put-budget';

const PATCH_PREFIX = 'PATCH:';

export type PutRequest =
  | { op: 'put'; target: ObjectKey; value: OpaqueValue | ArrowValue }
  | { op: 'put-spooled'; key: Required<ObjectKey>; spool: PutSpool; kind: 'opaque' | 'arrow'; size: number; retained?: OpaqueValue | ArrowValue }
  | { op: 'patch'; key: Required<ObjectKey>; data: Uint8Array[]; size: number };

export interface PutReceiverOptions {
  /** Refuse a put whose object grows past this many bytes (the memory limit when nothing goes to disk). */
  maxBytes: number;
  /** The server-wide bound on bytes held by unfinished puts. */
  budget: PutBudget;
  /** Stream puts into this storage. */
  storage?: DiskStorage;
  /** With storage: puts up to this size are also kept in memory. */
  retainBytes?: number;
}

export class PutReceiver {
  private target?: Target;
  private schema?: Schema;
  private layout?: OpaqueLayout;
  private native = false;
  private chunks: Uint8Array[] = [];
  private messages: ArrowMessage[] = [];
  private bytes = 0;
  private count = 0;
  /** Bytes charged to the budget and not yet released. */
  private held = 0;
  /** Of those, the bytes of messages kept for `retained`. */
  private retainedHeld = 0;
  private retaining = true;
  private spool?: PutSpool;
  private closed = false;

  constructor(private readonly opts: PutReceiverOptions) {}

  /** The target named so far (for error messages). */
  get targetText(): string | undefined {
    if (!this.target) return undefined;
    const k = this.target.key;
    return k.id === undefined ? `${k.app}/${k.session}` : `${k.app}/${k.session}/${k.id}`;
  }

  /** Takes one message; a promise when it is being written to disk (take the next one after it settles). */
  add(msg: ReceivedFlightData): void | Promise<void> {
    const index = this.count++;
    // A large message's body comes as the chunks it arrived in (received-parts.ts).
    const parts = msg.body_parts;
    const bodySize = parts ? partsLength(parts) : msg.data_body.length;
    const charge = messageBytes(msg) + (parts ? bodySize : 0);
    this.opts.budget.take(charge, () => `DoPut to ${this.targetText ?? 'a new object'}, message ${index}`);
    this.held += charge;
    if (msg.decode_error) throw invalidInput(`DoPut message ${index} is not a FlightData: ${msg.decode_error}`);
    if (!this.target) {
      if (!msg.flight_descriptor) throw invalidInput('DoPut: the first FlightData must carry a FlightDescriptor naming the key');
      this.target = parseTarget(msg.flight_descriptor);
    }
    const target = this.target;
    if (msg.data_header.length === 0) {
      if (bodySize > 0) throw invalidInput(`DoPut message ${index} has a body but no data_header`);
      this.release(charge); // metadata-only message: nothing of it is kept
      return;
    }
    const message = decodeHeader(msg.data_header, `DoPut message ${index} data_header`);
    if (!this.schema) {
      if (!message.isSchema()) {
        throw invalidInput(`DoPut message ${index} is a ${MessageHeader[message.headerType]} before any Schema message`);
      }
      const schema = schemaOf(message, `DoPut message ${index}`);
      this.schema = schema;
      const facts = schemaFacts(schema);
      this.native = facts.native;
      if (this.native && target.op === 'patch') throw invalidInput('PATCH takes an opaque delta, not a native Arrow table');
      this.layout = facts.layout;
      this.release(charge); // the schema is kept decoded, not as the received bytes
      const storage = this.opts.storage;
      if (!storage || target.op !== 'put') return;
      const key: Required<ObjectKey> = { ...target.key, id: target.key.id ?? randomUUID() };
      this.target = { op: 'put', key };
      return storage.openSpool(key, this.native ? 'arrow' : 'opaque', withoutCacheVersion(schema)).then(async (spool) => {
        if (this.closed) await spool.abort();
        else this.spool = spool;
      });
    }
    if (message.isSchema()) throw invalidInput(`DoPut message ${index} is a second Schema message`);
    this.bytes += bodySize;
    if (this.bytes > this.opts.maxBytes) {
      throw limitExceeded(`DoPut to ${this.targetText}: the object exceeds the cache limit of ${this.opts.maxBytes} bytes`);
    }
    if (this.native) {
      const whole = parts ? Buffer.concat(parts, bodySize) : msg.data_body;
      let regions: { buffers: { offset: number; length: number }[] };
      try {
        if (message.isDictionaryBatch()) regions = message.header().data;
        else if (message.isRecordBatch()) regions = message.header();
        else throw invalidInput('not a batch');
      } catch (err) {
        throw invalidInput(`DoPut message ${index}: undecodable batch header`, err);
      }
      checkRegions(regions, whole, message.bodyLength, index);
      const kind = message.isDictionaryBatch() ? 'dictionary' : 'batch';
      const body = whole.subarray(0, message.bodyLength);
      if (this.retaining) this.messages.push({ kind, header: msg.data_header, body: [body] });
      return this.spooled(charge, this.spool?.appendMessage(kind, msg.data_header, body));
    }
    if (!message.isRecordBatch()) throw invalidInput(`DoPut message ${index}: an opaque object takes RecordBatch messages only`);
    const what = `DoPut message ${index}`;
    let data: Uint8Array[];
    // decodeHeader decoded the header already: this reads it, it cannot throw.
    const header = message.header() as RecordBatchHeader;
    if (!header.compression && !this.layout!.kind) {
      // Uncompressed (every put from pyarrow or flamepy): the rows are read off the body's parts by position,
      // without apache-arrow's batch decoding (plainBatch), which was a good part of a small put's cost.
      data = [];
      // A loop, not .flat().filter(): Array.prototype.flat alone was a tenth of a small put's own time.
      for (const row of opaqueRowsFromParts(this.layout!, header, parts ?? [msg.data_body], message.bodyLength, what)) {
        for (const d of row) if (d.length > 0) data.push(d);
      }
    } else {
      const body = parts ? Buffer.concat(parts, bodySize) : msg.data_body;
      data = readRows(this.layout!, plainBatch(message, body, what))
        .map((r) => r.data)
        .filter((d) => d.length > 0);
    }
    data = mergeSmallRuns(data);
    // A loop, not push(...data): spreading a few hundred thousand views overflows the stack.
    if (this.retaining) for (const d of data) this.chunks.push(d);
    const spool = this.spool;
    if (!spool) return;
    return this.spooled(
      charge,
      data.reduce((p, d) => p.then(() => spool.appendData(d)), Promise.resolve()),
    );
  }

  /** After a message went to disk: keep its bytes charged while the put is small enough to retain, else release them. */
  private spooled(charge: number, written: Promise<void> | undefined): Promise<void> | undefined {
    if (!written || !this.spool) return undefined;
    const spool = this.spool;
    return written.then(() => {
      if (this.retaining && spool.size <= (this.opts.retainBytes ?? 0)) {
        this.retainedHeld += charge;
        return;
      }
      if (this.retaining) {
        this.retaining = false;
        this.chunks = [];
        this.messages = [];
        this.release(this.retainedHeld);
        this.retainedHeld = 0;
      }
      this.release(charge);
    });
  }

  private release(n: number): void {
    const r = Math.min(n, this.held);
    this.held -= r;
    this.opts.budget.release(r);
  }

  /** The complete request; throws when the stream carried no target or no schema. */
  finish(): PutRequest {
    if (!this.target) throw invalidInput('DoPut stream was empty: no FlightDescriptor, no schema');
    if (!this.schema) throw invalidInput(`DoPut to ${this.targetText} carried no Schema message`);
    const size = this.chunks.reduce((n, c) => n + c.length, 0);
    if (this.target.op === 'patch') return { op: 'patch', key: this.target.key, data: this.chunks, size };
    const kind = this.native ? 'arrow' : 'opaque';
    let value: OpaqueValue | ArrowValue | undefined;
    if (this.retaining) {
      if (this.native) {
        let total = 0;
        for (const m of this.messages) total += m.header.length + (m.body[0]?.length ?? 0);
        value = { kind: 'arrow', schema: withoutCacheVersion(this.schema), messages: this.messages, size: total };
      } else {
        value = { kind: 'opaque', chunks: this.chunks, size };
      }
    }
    if (this.spool) {
      const spool = this.spool;
      this.spool = undefined; // the object table owns it now
      return { op: 'put-spooled', key: this.target.key as Required<ObjectKey>, spool, kind, size: spool.size, retained: value };
    }
    return { op: 'put', target: this.target.key, value: value! };
  }

  /**
   * Releases everything the stream holds; deletes a spool file that was not committed (the promise, when
   * there is one: most puts have none, and end without a promise of their own). Idempotent.
   */
  close(): Promise<void> | undefined {
    this.closed = true;
    this.release(this.held);
    this.chunks = [];
    this.messages = [];
    const spool = this.spool;
    this.spool = undefined;
    return spool?.abort();
  }
}

/** Views shorter than this are copied together with their neighbours rather than kept one by one. */
const KEEP_VIEW_FROM = 1024;

/**
 * The views with each run of short ones joined into one buffer. An opaque object is its rows' bytes in order, so
 * this changes nothing but what is held: a kept view costs ~100 bytes of heap that the put budget (which charges
 * the received bytes) does not see, and a message of 100,000 one-byte rows would otherwise hold 100,000 views
 * (and write them to a spool file one by one). A lone short view (a small put's one row) is kept as it is.
 */
export function mergeSmallRuns(views: Uint8Array[]): Uint8Array[] {
  if (views.length <= 1) return views;
  const out: Uint8Array[] = [];
  let start = 0;
  let runBytes = 0;
  for (let i = 0; i <= views.length; i++) {
    const v = views[i];
    if (v && v.length < KEEP_VIEW_FROM) {
      runBytes += v.length;
      continue;
    }
    if (i - start === 1) out.push(views[start]!);
    else if (i - start > 1) out.push(Buffer.concat(views.slice(start, i), runBytes));
    if (v) out.push(v);
    start = i + 1;
    runBytes = 0;
  }
  return out;
}

type Target = { op: 'put'; key: ObjectKey } | { op: 'patch'; key: Required<ObjectKey> };

/** Put targets parsed lately, by path: a client puts under the same `<app>/<session>` again and again. */
const parsedTargets = new Map<string, Target>();
const MAX_PARSED_TARGETS = 256;
/** Longer paths are parsed each time, not kept (a hostile client's megabyte keys would be held here). */
const MAX_KEPT_PATH_CHARS = 256;

function parseTarget(d: NonNullable<FlightData['flight_descriptor']>): Target {
  if (d.type !== 'CMD' && d.path.length > 0) {
    const path = d.path.length === 1 ? d.path[0]! : d.path.join('/');
    if (path.length > MAX_KEPT_PATH_CHARS) return { op: 'put', key: parsePutTarget(path) };
    let target = parsedTargets.get(path);
    if (!target) {
      // Frozen: the same target object is every such put's (a full key's id is then taken as it is).
      target = Object.freeze({ op: 'put', key: Object.freeze(parsePutTarget(path)) });
      if (parsedTargets.size >= MAX_PARSED_TARGETS) parsedTargets.clear();
      parsedTargets.set(path, target);
    }
    return target;
  }
  if (d.type === 'CMD' || (d.cmd.length > 0 && d.path.length === 0)) {
    const cmd = d.cmd.toString('utf8');
    if (!cmd.startsWith(PATCH_PREFIX)) throw invalidInput(`DoPut: unknown command '${cmd.slice(0, 100)}' (expected 'PATCH:<key>')`);
    return { op: 'patch', key: parseKey(cmd.slice(PATCH_PREFIX.length)) };
  }
  if (d.path.length === 0) throw invalidInput('DoPut: the FlightDescriptor has neither a path nor a command');
  return { op: 'put', key: parsePutTarget(d.path.join('/')) };
}

function checkRegions(header: { buffers: { offset: number; length: number }[] }, body: Uint8Array, bodyLength: number, index: number): void {
  if (body.length < bodyLength) throw invalidInput(`DoPut message ${index} declares a ${bodyLength}-byte body but carries ${body.length}`);
  for (const [i, b] of header.buffers.entries()) {
    if (b.offset < 0 || b.length < 0 || b.offset + b.length > bodyLength) {
      throw invalidInput(`DoPut message ${index}: buffer ${i} lies outside the ${bodyLength}-byte body`);
    }
  }
}
