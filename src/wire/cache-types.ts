/**
 * The object cache's vocabulary, shared by the client, the embedded server,
 * the value codecs and the runner. See docs/protocol.md §3 and §7.
 */

/** Names one object in the cache (docs/protocol.md §3). `version` 0 means "unknown, fetch fresh". */
export interface ObjectRef {
  endpoint: string;
  key: string;
  version: number;
}

/**
 * What is put into the cache.
 * - `opaque`: bytes, sent as rows of the `{version: UInt64, data: Binary}` schema;
 *   the object's bytes are the chunks concatenated in order.
 * - `arrow`: a native Arrow object, given as an Arrow IPC stream (schema + batches)
 *   whose schema metadata carries `flame.cache.format = arrow-table-v1`.
 */
export type CachePayload =
  | { kind: 'opaque'; chunks: Uint8Array[] }
  | { kind: 'arrow'; ipc: Uint8Array };

/**
 * What is read from the cache.
 * - `opaque`: the `base` bytes and the `patch` deltas in version order.
 * - `arrow`: a native Arrow object as an Arrow IPC stream (schema + batches).
 */
export type CacheObject =
  | { kind: 'opaque'; version: number; base: Buffer; patches: Buffer[] }
  | { kind: 'arrow'; version: number; ipc: Uint8Array };
