/**
 * Schema metadata of native Arrow objects (docs/protocol.md §7: flame.cache.format,
 * flame.cache.version, flame.cache.logical_type): the one place that sets and
 * reads the cache's tags, for the value codecs, the client and the server.
 */
import { Schema } from 'apache-arrow/schema';

/** Schema metadata keys used by Flame's cache (docs/protocol.md §7). */
export const CACHE_FORMAT_KEY = 'flame.cache.format';
export const CACHE_VERSION_KEY = 'flame.cache.version';
export const CACHE_LOGICAL_TYPE_KEY = 'flame.cache.logical_type';
export const CACHE_FORMAT_ARROW_TABLE = 'arrow-table-v1';
const CACHE_METADATA_PREFIX = 'flame.cache.';

/**
 * Metadata tagged as a native Arrow object: `flame.cache.format` set, and the
 * version and logical type when given (a value being stored sets both; a raw
 * IPC payload put as it is only gets the format).
 */
export function arrowTableMetadata(metadata: ReadonlyMap<string, string>, extra: { version?: number; logicalType?: string } = {}): Map<string, string> {
  const out = new Map(metadata);
  out.set(CACHE_FORMAT_KEY, CACHE_FORMAT_ARROW_TABLE);
  if (extra.version !== undefined) out.set(CACHE_VERSION_KEY, String(extra.version));
  if (extra.logicalType !== undefined) out.set(CACHE_LOGICAL_TYPE_KEY, extra.logicalType);
  return out;
}

/** The user's own metadata: every `flame.cache.*` tag removed. */
export function withoutCacheMetadata(metadata: ReadonlyMap<string, string>): Map<string, string> {
  return new Map([...metadata].filter(([k]) => !k.startsWith(CACHE_METADATA_PREFIX)));
}

export function isNativeArrowSchema(schema: Schema): boolean {
  return schema.metadata.get(CACHE_FORMAT_KEY) === CACHE_FORMAT_ARROW_TABLE;
}

/** The version in `flame.cache.version`, 0 when absent or not a number. */
export function cacheVersionOf(schema: Schema): number {
  const text = schema.metadata.get(CACHE_VERSION_KEY);
  const n = text !== undefined && /^\d+$/.test(text) ? Number(text) : 0;
  return Number.isSafeInteger(n) ? n : 0;
}

function withMetadata(schema: Schema, metadata: Map<string, string>): Schema {
  return new Schema(schema.fields, metadata, schema.dictionaries, schema.metadataVersion);
}

export function withCacheVersion(schema: Schema, version: number): Schema {
  const metadata = new Map(schema.metadata);
  metadata.set(CACHE_VERSION_KEY, String(version));
  return withMetadata(schema, metadata);
}

export function withoutCacheVersion(schema: Schema): Schema {
  const metadata = new Map(schema.metadata);
  metadata.delete(CACHE_VERSION_KEY);
  return withMetadata(schema, metadata);
}
