/** Schema metadata of native Arrow objects (SPEC 7: flame.cache.format / flame.cache.version). */
import { Schema } from 'apache-arrow';
import { CACHE_FORMAT_ARROW_TABLE, CACHE_FORMAT_KEY, CACHE_VERSION_KEY } from './types';

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
