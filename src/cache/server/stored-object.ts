/** What the embedded cache server keeps per object (in memory and on disk). */
import type { Schema } from 'apache-arrow/schema';

/** Opaque bytes, kept as the chunks they arrived in (never joined). */
export interface OpaqueValue {
  kind: 'opaque';
  chunks: Uint8Array[];
  size: number;
}

/** One stored IPC message of a native Arrow object (header flatbuffer + body as received). */
export interface ArrowMessage {
  kind: 'batch' | 'dictionary';
  header: Uint8Array;
  body: Uint8Array[];
}

/** A native Arrow object: its schema (without flame.cache.version) and its messages. */
export interface ArrowValue {
  kind: 'arrow';
  schema: Schema;
  messages: ArrowMessage[];
  size: number;
}

export interface Delta {
  version: number;
  data: Uint8Array;
}

/** Immutable: updates make a new StoredObject, so an answer being streamed keeps a consistent snapshot. */
export interface StoredObject {
  key: string;
  baseVersion: number;
  /** The current version: the base's or the last delta's. */
  version: number;
  value: OpaqueValue | ArrowValue;
  deltas: readonly Delta[];
  /** Bytes held: value plus deltas. */
  size: number;
}

export function objectSize(value: OpaqueValue | ArrowValue, deltas: readonly Delta[]): number {
  let size = value.size;
  for (const d of deltas) size += d.data.length;
  return size;
}
