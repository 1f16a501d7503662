/**
 * A RecordBatch message's header and its body decompressed: the step between
 * the IPC framing (src/wire/ipc.ts) and the cache's row layout, kept here
 * because decompression is the cache's (compression.ts).
 */
import { MessageHeader } from 'apache-arrow/fb/message-header';
import type { Message } from 'apache-arrow/ipc/metadata/message';
import { describeThrown, invalidInput } from '../errors';
import { RecordBatchHeader } from '../wire/ipc';
import { decompressBatch, type PlainBatch } from './compression';

/** The record batch header of a RecordBatch message, with its body decompressed. */
export function plainBatch(message: Message, body: Uint8Array, what = 'record batch'): PlainBatch {
  if (!message.isRecordBatch()) throw invalidInput(`${what} is a ${MessageHeader[message.headerType]} message`);
  if (body.length < message.bodyLength) {
    throw invalidInput(`${what} declares a ${message.bodyLength}-byte body but carries ${body.length} bytes`);
  }
  let header: RecordBatchHeader;
  try {
    header = message.header();
  } catch (err) {
    throw invalidInput(`${what} header cannot be decoded: ${describeThrown(err)}`, err);
  }
  return decompressBatch(header, body.subarray(0, message.bodyLength));
}
