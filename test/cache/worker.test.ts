/** The runner uses the client inside worker_threads: it must work there (loaded from dist/). */
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { startServer } from './helpers';
import { CacheClient } from '../../src/cache/client';

const dist = path.resolve(__dirname, '..', '..', 'dist', 'cache', 'client.js');

test('CacheClient puts and gets from a worker thread', async () => {
  const { server, endpoint } = await startServer();
  const client = new CacheClient({ endpoint });
  try {
    const code = `
      const { parentPort, workerData } = require('node:worker_threads');
      const { CacheClient } = require(workerData.dist);
      (async () => {
        const c = new CacheClient({ endpoint: workerData.endpoint });
        const ref = await c.put('worker/s', Buffer.from('from a worker'));
        const obj = await c.get(ref);
        c.close();
        parentPort.postMessage({ ref, text: obj.base.toString() });
      })().catch((e) => parentPort.postMessage({ error: String(e && e.stack || e) }));`;
    const worker = new Worker(code, { eval: true, workerData: { dist, endpoint } });
    const result = await new Promise<{ ref?: { key: string; version: number; endpoint: string }; text?: string; error?: string }>((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
    });
    await worker.terminate();
    expect(result.error).toBeUndefined();
    expect(result.text).toBe('from a worker');
    const back = await client.get({ ...result.ref!, version: 0 });
    expect(back.kind === 'opaque' && back.base.toString()).toBe('from a worker');
  } finally {
    client.close();
    await server.close();
  }
});
