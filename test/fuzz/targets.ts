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
import { fromFrames } from './mutate';

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
} satisfies Record<string, (input: Buffer) => unknown>;

export type TargetName = keyof typeof TARGETS;

/** Targets that need a live server or a file system; their own test files replay their corpus. */
export const EXTERNAL_TARGETS = ['server-doput', 'server-doget-ticket', 'archive-extract'] as const;
