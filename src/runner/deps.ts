/**
 * The real cache client and codecs, wired for the session runtime (child side).
 */
import type { Logger } from 'pino';
import { CacheClient, keepaliveOptions } from '../cache/client';
import { argumentRef, decodeCommonData, decodeContextObject, decodeRunnerRequest, decodeValue, encodeContextPayload, encodeValue } from '../codecs';
import type { ChildInit } from './protocol';
import type { RuntimeCache, RuntimeCodecs } from './session-runtime';

export interface RuntimeDeps {
  cache: RuntimeCache;
  codecs: RuntimeCodecs;
  close(): Promise<void>;
}

export function createRuntimeDeps(init: ChildInit, logger: Logger): RuntimeDeps {
  const client = new CacheClient({
    endpoint: init.cacheEndpoint,
    caFile: init.caFile,
    deadlineMs: init.cacheDeadlineMs,
    ...keepaliveOptions(init.cacheKeepaliveMs),
    logger: logger.child({ component: 'cache-client' }),
  });
  const codecs: RuntimeCodecs = {
    decodeCommonData,
    decodeContextObject,
    encodeContextPayload,
    decodeRunnerRequest,
    argumentRef,
    encodeValue,
    decodeValue,
  };
  return {
    cache: client,
    codecs,
    close: async () => {
      await client.close();
    },
  };
}
