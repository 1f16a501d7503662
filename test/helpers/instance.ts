/** Starts a real flmrun-js instance (embedded cache, temp socket and work dir) for a test. */
import fs from 'node:fs';
import path from 'node:path';
import { resolveServeOptions, type ServeOptions } from '../../src/config';
import { silentLogger, type Logger } from '../../src/log';
import { startInstance, type RunningInstance } from '../../src/service/server';
import { connectInstance, type InstanceClient, type TaskResult } from '../../src/service/protos';
import { CacheClient } from '../../src/cache/client';
import { decodeObjectRef } from '../../src/wire/object-ref';
import { decodeValue, encodeRunnerRequest } from '../../src/codecs';
import { makeTempDir, removeDir, tempSocketPath } from './tmp';

export interface TestInstance {
  running: RunningInstance;
  client: InstanceClient;
  cache: CacheClient;
  socketPath: string;
  workDir: string;
  /** BSON runner request bytes. */
  request(method: string | null, args?: unknown[], kwargs?: Record<string, unknown> | null): Buffer;
  /** Decodes a successful TaskResult's ObjectRef and fetches its value. */
  valueOf(res: TaskResult): Promise<unknown>;
  close(): Promise<void>;
}

export async function startTestInstance(overrides: Partial<ServeOptions> = {}, logger: Logger = silentLogger): Promise<TestInstance> {
  const { dir, socket } = tempSocketPath();
  const workDir = makeTempDir('flmrun-work-');
  const opts = resolveServeOptions({ socketPath: socket, workDir, shutdownGraceMs: 5000, ...overrides });
  const running = await startInstance(opts, logger);
  const client = connectInstance(`unix://${socket}`);
  const cache = new CacheClient({ endpoint: running.cacheEndpoint });
  return {
    running,
    client,
    cache,
    socketPath: socket,
    workDir,
    request: (method, args = [], kwargs = null) => encodeRunnerRequest({ method, args, kwargs }),
    async valueOf(res) {
      if (res.return_code !== 0) throw new Error(`task failed: code ${res.return_code}: ${res.message}`);
      return decodeValue(await cache.get(decodeObjectRef(res.output!)));
    },
    async close() {
      client.close();
      cache.close();
      await running.close();
      removeDir(dir);
      removeDir(workDir);
    },
  };
}

export const FIXTURES = path.join(__dirname, '..', 'service', 'fixtures');

export function fixtureUrl(name: string): string {
  const p = path.join(FIXTURES, name);
  if (!fs.existsSync(p)) throw new Error(`no fixture ${name}`);
  return `file://${p}`;
}
