/** The object cache: client, embedded server, and their shared vocabulary (SPEC 3, 7). */
export { CacheClient, DEFAULT_ENDPOINT, type CacheClientOptions, type CacheInfo } from './client';
export { CacheServer, type CacheServerOptions } from './server';
export { parseEndpoint, DEFAULT_CACHE_PORT, type CacheEndpoint } from './endpoint';
export { parseKey, parsePath, parsePrefix, parsePutTarget, formatKey, matchesKey, WILDCARD_SESSION, type ObjectKey } from '../wire/keys';
export * from '../wire/cache-types';
