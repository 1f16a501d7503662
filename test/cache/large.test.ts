/** 0-byte and 256 MiB objects through client and server (files streamed, hashes compared). */
import fs from 'node:fs';
import path from 'node:path';
import { createHash, randomBytes } from 'node:crypto';
import { CacheClient } from '../../src/cache/client';
import { makeTempDir, removeDir } from '../helpers/tmp';
import { startServer } from './helpers';

const MiB = 1024 * 1024;

async function sha256(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of fs.createReadStream(file, { highWaterMark: 4 * MiB })) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

test('0-byte and 256 MiB objects', async () => {
  const dir = makeTempDir('flm-large-');
  const { server, endpoint } = await startServer({ maxMemoryBytes: 512 * MiB });
  const client = new CacheClient({ endpoint, deadlineMs: 120_000, lruEntries: 0 });
  try {
    // 0 bytes: put/get, and upload/download of an empty file
    const empty = await client.put('big/s', new Uint8Array(0));
    const e = await client.get(empty);
    expect(e.kind === 'opaque' && [e.base.length, e.patches.length]).toEqual([0, 0]);
    fs.writeFileSync(path.join(dir, 'empty'), '');
    const up0 = await client.upload('big/s/empty', path.join(dir, 'empty'));
    await client.download(up0, path.join(dir, 'empty.back'));
    expect(fs.statSync(path.join(dir, 'empty.back')).size).toBe(0);

    // 256 MiB: written 1 MiB at a time, each MiB different, so order and content are checked
    const src = path.join(dir, 'src.bin');
    const fd = fs.openSync(src, 'w');
    const block = randomBytes(MiB);
    for (let i = 0; i < 256; i++) {
      block.writeUInt32LE(i, 0);
      fs.writeSync(fd, block);
    }
    fs.closeSync(fd);
    const ref = await client.upload('big/s', src);
    expect(ref.version).toBe(1);
    expect((await client.info(ref.key)).totalBytes).toBe(256 * MiB);
    const dest = path.join(dir, 'nested', 'back.bin');
    await client.download(ref, dest);
    expect(fs.statSync(dest).size).toBe(256 * MiB);
    expect(await sha256(dest)).toBe(await sha256(src));
    expect(fs.readdirSync(path.dirname(dest))).toEqual(['back.bin']); // no temp file left
  } finally {
    client.close();
    await server.close();
    removeDir(dir);
  }
}, 300_000);
