/**
 * The in-process fuzz targets: each takes raw bytes from outside and runs
 * them through one decoder the way flmrun-js does. Message sequences (DoPut
 * streams, DoGet answers) arrive as length-prefixed frames (mutate.ts).
 * The same functions replay the corpus, so a kept case always means the same thing.
 */
import {
  decodeCommonData, decodeContextObject, decodeObjectRef, decodeRunnerRequest, decodeValue, readPickle,
  tryDecodeObjectRef,
} from '../../src/codecs';
import { decodeFlightData, decodeFlightDataLenient } from '../../src/cache/flight-data';
import { readIpcMessages, schemaOf } from '../../src/wire/ipc';
import { plainBatch } from '../../src/cache/plain-batch';
import { parseKey, parsePath, parsePrefix, parsePutTarget } from '../../src/wire/keys';
import { PutReceiver } from '../../src/cache/server/put-receiver';
import { PutBudget } from '../../src/cache/server/put-budget';
import { AnswerReader } from '../../src/cache/answer';
import { HpackDecoder, HpackError } from '../../src/cache/h2/hpack';
import { invalidInput } from '../../src/errors';
import { fromFrames } from './mutate';
import type { H2Target } from './h2-target';

// hpack.js (a devDependency, as in test/cache/h2/hpack.test.ts): the oracle of the hpack-block target.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const hpackJs = require('hpack.js') as { decompressor: { create(o: { table: { maxSize: number } }): HpackJsDecompressor } };
interface HpackJsDecompressor {
  /** Writable's implementation hook: hands a block to the decoder. */
  _write(block: Buffer, encoding: string, done: () => void): void;
  /** Decodes what was written, pushing each header; throws (an 'error' event without listener) on a bad block. */
  execute(): void;
  push(header: { name: string; value: string }): boolean;
}

/**
 * hpack.js's decompressor driven as a plain decoder: blocks in through its Writable hook, headers out
 * through `push`. Not through write() and read(): the stream layer queues process.nextTick callbacks
 * that the fuzz worker's synchronous loop never runs, so a long run held every decompressor (1 GB of
 * heap at 300,000 inputs).
 */
class HpackOracle {
  private readonly decompressor = hpackJs.decompressor.create({ table: { maxSize: 4096 } });
  private headers: string[] = [];

  constructor() {
    this.decompressor.push = (h) => this.headers.push(h.name, h.value) > 0;
  }

  /** The block's headers as [name, value, ...]; undefined when hpack.js refuses it. */
  decode(block: Buffer): string[] | undefined {
    this.headers = [];
    try {
      this.decompressor._write(block, 'buffer', () => undefined);
      this.decompressor.execute();
      return this.headers;
    } catch {
      return undefined;
    }
  }
}

/** A put may carry this much in the in-process target: small, so that length edits hit the limit too. */
const PUT_LIMIT_BYTES = 1 << 20;

function expect(cond: boolean, what: string): void {
  // Not jest's expect: a broken invariant must be a plain Error so the harness reports it as a failure.
  if (!cond) throw new Error(`invariant broken: ${what}`);
}

export const TARGETS = {
  'read-pickle': (b: Buffer) => readPickle(b),
  'runner-request': (b: Buffer) => {
    const req = decodeRunnerRequest(b);
    expect(req.method === null || typeof req.method === 'string', 'method is a string or null');
    expect(Array.isArray(req.args), 'args is an array');
  },
  'common-data': (b: Buffer) => decodeCommonData(b),
  'context-object': (b: Buffer) => decodeContextObject({ kind: 'opaque', version: 1, base: b, patches: [] }),
  'value-opaque': (b: Buffer) => decodeValue({ kind: 'opaque', version: 1, base: b, patches: [] }),
  'value-arrow': (b: Buffer) => decodeValue({ kind: 'arrow', version: 1, ipc: b }),
  'object-ref': (b: Buffer) => {
    const soft = tryDecodeObjectRef(b);
    let hard: unknown;
    try {
      hard = decodeObjectRef(b);
    } catch (err) {
      expect(soft === undefined, 'decodeObjectRef refuses only what tryDecodeObjectRef refuses');
      throw err;
    }
    expect(soft !== undefined && JSON.stringify(hard) === JSON.stringify(soft), 'both decoders agree');
    expect(Number.isSafeInteger(soft!.version) && soft!.version >= 0, 'version is a non-negative safe integer');
  },
  'object-key': (b: Buffer) => {
    const text = b.toString('utf8');
    const parsers = [parsePath, parseKey, parsePrefix, parsePutTarget];
    let accepted = 0;
    let refusal: unknown;
    for (const parse of parsers) {
      try {
        const key = parse(text);
        accepted++;
        for (const part of [key.app, key.session, key.id ?? 'x']) {
          expect(part !== '' && part !== '.' && !part.includes('..') && !part.includes('\\') && !part.includes('/') && !part.includes('\0'), `no path tricks in '${part}'`);
        }
      } catch (err) {
        refusal = err;
      }
    }
    if (accepted === 0) throw refusal;
  },
  'flight-data': (b: Buffer) => {
    const msg = decodeFlightData(b);
    for (const f of [msg.data_header, msg.data_body, msg.app_metadata]) expect(f.length === 0 || f.buffer === b.buffer, 'byte fields are views');
  },
  'ipc-messages': (b: Buffer) => {
    for (const m of readIpcMessages(b, 'fuzz input')) {
      if (m.message.isSchema()) schemaOf(m.message);
      else if (m.message.isRecordBatch()) plainBatch(m.message, m.body[0]!);
    }
  },
  'put-stream': (b: Buffer) => {
    const receiver = new PutReceiver({ maxBytes: PUT_LIMIT_BYTES, budget: new PutBudget(4 * PUT_LIMIT_BYTES) });
    for (const m of fromFrames(b)) {
      // Without storage add() stays synchronous; a promise here would go unawaited, so it fails the target.
      if (receiver.add(decodeFlightDataLenient(m)) !== undefined) throw new Error('put-stream: PutReceiver.add returned a promise without storage');
    }
    return receiver.finish();
  },
  'answer-stream': (b: Buffer) => {
    const reader = new AnswerReader('fuzz answer');
    for (const m of fromFrames(b)) reader.add(decodeFlightData(m));
    return reader.finish();
  },
  'hpack-block': (b: Buffer) => {
    // One connection's header blocks, in order, through one decoder (its dynamic table carries over, as
    // H2Connection's does). The decoder refuses with HpackError (the connection turns it into
    // COMPRESSION_ERROR): that is this target's refusal, anything else thrown is a failure. hpack.js
    // decodes the same blocks alongside, and where it does, both must read the same headers. (In the
    // long runs it refused nothing ours took; it takes a size update after a header field, which RFC
    // 7541 §4.2 forbids and ours refuses.) Should it refuse a block ours took, the tables may differ
    // from there, and the comparison stops.
    const decoder = new HpackDecoder();
    let oracle: HpackOracle | undefined = new HpackOracle();
    for (const block of fromFrames(b)) {
      let list: string[];
      try {
        list = decoder.decode(block);
      } catch (err) {
        if (err instanceof HpackError) throw invalidInput(`hpack: ${err.message}`, err);
        throw err;
      }
      expect(list.length % 2 === 0 && list.every((s) => typeof s === 'string'), 'names and values alternate, all strings');
      let size = 0;
      for (const [name, value] of decoder.entries) size += name.length + value.length + 32;
      expect(size === decoder.tableSize && size <= 4096, `the dynamic table's size (${decoder.tableSize}) is its entries' and within the 4096 allowed`);
      const theirs = oracle?.decode(block);
      if (theirs === undefined) oracle = undefined;
      else expect(JSON.stringify(theirs) === JSON.stringify(list), `the headers are hpack.js's: ${JSON.stringify(theirs).slice(0, 200)}, not ${JSON.stringify(list).slice(0, 200)}`);
    }
  },
} satisfies Record<string, (input: Buffer) => unknown>;

export type TargetName = keyof typeof TARGETS;

/**
 * Targets that need a server of their own, fuzzed in the worker too (so that an exception thrown out
 * of a socket event kills the worker and the input is kept): set up once, then one async call per input.
 */
export const ASYNC_TARGETS = {
  'h2-server-bytes': async (): Promise<H2Target> => (await import('./h2-target')).startH2ServerBytes(),
  'h2-upload': async (): Promise<H2Target> => {
    const { H2_UPLOAD, startH2ServerBytes } = await import('./h2-target');
    return startH2ServerBytes(H2_UPLOAD);
  },
} satisfies Record<string, () => Promise<{ run(input: Buffer): Promise<unknown>; close(): Promise<void> }>>;

export type AsyncTargetName = keyof typeof ASYNC_TARGETS;

/** Targets that need a live server or a file system; their own test files replay their corpus. */
export const EXTERNAL_TARGETS = ['server-doput', 'server-doget-ticket', 'archive-extract'] as const;
