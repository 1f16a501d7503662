/**
 * Collects one DoPut stream (SPEC 7): the first FlightData names the target
 * (PATH key or prefix, or CMD `PATCH:<key>`) and carries the Schema; each
 * following one a RecordBatch (or, for native Arrow objects, a
 * DictionaryBatch). Everything is checked as it arrives, so a bad stream fails
 * at its first bad message; nothing is stored until the stream has ended whole.
 */
import { MessageHeader, type Schema } from 'apache-arrow';
import { invalidInput, limitExceeded } from '../errors';
import type { FlightData } from './flight-data';
import { decodeMessage, schemaOf } from '../wire/ipc';
import { plainBatch } from './plain-batch';
import { parseKey, parsePutTarget, type ObjectKey } from '../wire/keys';
import { opaqueLayout, readRows, type OpaqueLayout } from './opaque';
import { isNativeArrowSchema, withoutCacheVersion } from '../wire/arrow-meta';
import type { ArrowMessage, ArrowValue, OpaqueValue } from './stored';

const PATCH_PREFIX = 'PATCH:';

export type PutRequest =
  | { op: 'put'; target: ObjectKey; value: OpaqueValue | ArrowValue }
  | { op: 'patch'; key: Required<ObjectKey>; data: Uint8Array[]; size: number };

export class PutReceiver {
  private target?: Target;
  private schema?: Schema;
  private layout?: OpaqueLayout;
  private native = false;
  private readonly chunks: Uint8Array[] = [];
  private readonly messages: ArrowMessage[] = [];
  private bytes = 0;
  private count = 0;

  /** `maxBytes`: refuse a stream past this many body bytes (the memory limit when nothing spills to disk). */
  constructor(private readonly maxBytes: number) {}

  /** The target named so far (for error messages). */
  get targetText(): string | undefined {
    if (!this.target) return undefined;
    const k = this.target.key;
    return k.id === undefined ? `${k.app}/${k.session}` : `${k.app}/${k.session}/${k.id}`;
  }

  add(msg: FlightData): void {
    const index = this.count++;
    if (msg.decode_error) throw invalidInput(`DoPut message ${index} is not a FlightData: ${msg.decode_error}`);
    if (!this.target) {
      if (!msg.flight_descriptor) throw invalidInput('DoPut: the first FlightData must carry a FlightDescriptor naming the key');
      this.target = parseTarget(msg.flight_descriptor);
    }
    const target = this.target;
    if (msg.data_header.length === 0) {
      if (msg.data_body.length > 0) throw invalidInput(`DoPut message ${index} has a body but no data_header`);
      return; // metadata-only message
    }
    const message = decodeMessage(msg.data_header, `DoPut message ${index} data_header`);
    if (!this.schema) {
      if (!message.isSchema()) {
        throw invalidInput(`DoPut message ${index} is a ${MessageHeader[message.headerType]} before any Schema message`);
      }
      this.schema = schemaOf(message, `DoPut message ${index}`);
      this.native = isNativeArrowSchema(this.schema);
      if (this.native && target.op === 'patch') throw invalidInput('PATCH takes an opaque delta, not a native Arrow table');
      if (!this.native) this.layout = opaqueLayout(this.schema);
      return;
    }
    if (message.isSchema()) throw invalidInput(`DoPut message ${index} is a second Schema message`);
    this.bytes += msg.data_body.length;
    if (this.bytes > this.maxBytes) {
      throw limitExceeded(`DoPut to ${this.targetText}: the object exceeds the cache limit of ${this.maxBytes} bytes`);
    }
    if (this.native) {
      let regions: { buffers: { offset: number; length: number }[] };
      try {
        if (message.isDictionaryBatch()) regions = message.header().data;
        else if (message.isRecordBatch()) regions = message.header();
        else throw new Error('not a batch');
      } catch (err) {
        throw invalidInput(`DoPut message ${index}: undecodable batch header: ${(err as Error).message}`, err);
      }
      checkRegions(regions, msg.data_body, message.bodyLength, index);
      this.messages.push({
        kind: message.isDictionaryBatch() ? 'dictionary' : 'batch',
        header: msg.data_header,
        body: [msg.data_body.subarray(0, message.bodyLength)],
      });
      return;
    }
    if (!message.isRecordBatch()) throw invalidInput(`DoPut message ${index}: an opaque object takes RecordBatch messages only`);
    const rows = readRows(this.layout!, plainBatch(message, msg.data_body, `DoPut message ${index}`));
    for (const row of rows) if (row.data.length > 0) this.chunks.push(row.data);
  }

  /** The complete request; throws when the stream carried no target or no schema. */
  finish(): PutRequest {
    if (!this.target) throw invalidInput('DoPut stream was empty: no FlightDescriptor, no schema');
    if (!this.schema) throw invalidInput(`DoPut to ${this.targetText} carried no Schema message`);
    const size = this.chunks.reduce((n, c) => n + c.length, 0);
    if (this.target.op === 'patch') return { op: 'patch', key: this.target.key, data: this.chunks, size };
    if (this.native) {
      let total = 0;
      for (const m of this.messages) total += m.header.length + (m.body[0]?.length ?? 0);
      return {
        op: 'put',
        target: this.target.key,
        value: { kind: 'arrow', schema: withoutCacheVersion(this.schema), messages: this.messages, size: total },
      };
    }
    return { op: 'put', target: this.target.key, value: { kind: 'opaque', chunks: this.chunks, size } };
  }
}

type Target = { op: 'put'; key: ObjectKey } | { op: 'patch'; key: Required<ObjectKey> };

function parseTarget(d: NonNullable<FlightData['flight_descriptor']>): Target {
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
