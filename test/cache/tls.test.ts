/** grpcs:// and grpc+tls:// endpoints with a CA file (certificates made by the test with openssl). */
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { CacheClient } from '../../src/cache/client';
import { ErrorCode } from '../../src/errors';
import { makeTempDir, removeDir } from '../helpers/tmp';
import { startServer } from './helpers';

const haveOpenssl = spawnSync('openssl', ['version']).status === 0;

(haveOpenssl ? test : test.skip)('TLS: the server says grpc+tls, the client verifies it with caFile', async () => {
  const dir = makeTempDir('flm-tls-');
  const key = path.join(dir, 'key.pem');
  const cert = path.join(dir, 'cert.pem');
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1',
    '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1',
  ], { stdio: 'ignore' });
  const { server, endpoint } = await startServer({ tls: { certChain: fs.readFileSync(cert), privateKey: fs.readFileSync(key) } });
  const port = endpoint.split(':').pop();
  const trusted = new CacheClient({ endpoint: `grpcs://127.0.0.1:${port}`, caFile: cert });
  const untrusted = new CacheClient({ endpoint: `grpcs://127.0.0.1:${port}`, retries: 0 });
  const missingCa = new CacheClient({ endpoint: `grpcs://127.0.0.1:${port}`, caFile: path.join(dir, 'nope.pem') });
  try {
    expect(endpoint).toBe(`grpc+tls://127.0.0.1:${port}`);
    const ref = await trusted.put('tls/s', Buffer.from('secret'));
    expect(ref.endpoint).toBe(endpoint);
    const obj = await trusted.get(ref);
    expect(obj.kind === 'opaque' && obj.base.toString()).toBe('secret');
    await expect(untrusted.put('tls/s', Buffer.from('x'))).rejects.toMatchObject({ code: ErrorCode.Unavailable });
    await expect(missingCa.put('tls/s', Buffer.from('x'))).rejects.toMatchObject({ code: ErrorCode.InvalidInput, message: expect.stringContaining('nope.pem') });
  } finally {
    trusted.close();
    untrusted.close();
    missingCa.close();
    await server.close();
    removeDir(dir);
  }
});
