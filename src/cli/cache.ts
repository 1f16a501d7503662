/** `flmrun-js cache`: the embedded object cache server, standalone. */
import type { Logger } from '../log';
import { parseHostPort } from '../options/values';
import type { CACHE_OPTIONS } from '../options/cache';
import type { OptionsOf } from '../options/spec';
import { CacheServer } from '../cache/server/cache-server';
import { onShutdownSignal } from './signals';

export type CacheCommandOptions = OptionsOf<typeof CACHE_OPTIONS>;

export async function runCache(opts: CacheCommandOptions, logger: Logger): Promise<number> {
  const { host, port } = parseHostPort(opts.listen, '--listen');
  const server = new CacheServer({
    host,
    port,
    storageDir: opts.storageDir,
    maxMemoryBytes: opts.maxMemoryBytes,
    publicEndpoint: opts.publicEndpoint,
    idleTimeoutMs: opts.idleTimeoutMs,
    logger: logger.child({ component: 'cache-server' }),
  });
  const endpoint = await server.start();
  logger.info({ endpoint, storage: opts.storageDir ?? null }, 'object cache serving');
  await onShutdownSignal();
  await server.close();
  return 0;
}
