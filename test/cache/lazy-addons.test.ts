/**
 * The cache's two native addons (lz4-napi, @node-rs/xxhash) are loaded on first use, not when serve or
 * a session process starts (src/cache/compression.ts): a fresh process that loads the session runtime
 * and the cache server has neither, and decoding an LZ4 body, or checking a ZSTD frame's checksum where
 * fzstd decodes (Node < 22.15), loads the one it needs and decodes as before. The frames are made here,
 * in the test's process; the fresh one only decodes.
 */
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import zlib from 'node:zlib';
import { compressFrameSync } from 'lz4-napi';
import { checksummedFrame, rleFrame } from './zstd-frames';

const REPO = path.join(__dirname, '..', '..');
const SUCRASE = require.resolve('sucrase/register/ts');
const FZSTD_CHECKS = !('zstdDecompressSync' in zlib);

/** Runs `body` in a fresh Node process from source and answers what it printed (JSON). */
function fresh(body: string, env: NodeJS.ProcessEnv = process.env): unknown {
  const loaded =
    "const has = (m) => require.cache[require.resolve(m)] !== undefined;\n" +
    "const loaded = () => ({ lz4: has('lz4-napi'), xxhash: has('@node-rs/xxhash') });\n";
  return JSON.parse(execFileSync(process.execPath, ['-r', SUCRASE, '-e', loaded + body], { cwd: REPO, encoding: 'utf8', timeout: 60_000, env }));
}

/** In the child: decodes a one-buffer compressed batch (`frame` base64, `size` declared, `type` the codec) and reports. */
const decodeIn = (frame: Buffer, size: number, type: number): string =>
  "const { BodyCompression, BufferRegion, FieldNode, RecordBatch } = require('apache-arrow/ipc/metadata/message');\n" +
  "const { decompressBatch } = require('./src/cache/compression');\n" +
  `const p = Buffer.alloc(8); p.writeBigInt64LE(${size}n); const body = Buffer.concat([p, Buffer.from('${frame.toString('base64')}', 'base64')]);\n` +
  `const header = new RecordBatch(1, [new FieldNode(1, 0)], [new BufferRegion(0, body.length)], new BodyCompression(${type}));\n` +
  "const before = loaded(); let out, refused = '';\n" +
  'try { out = decompressBatch(header, body).buffers[0]; } catch (e) { refused = e.message; }\n' +
  'process.stdout.write(JSON.stringify({ before, after: loaded(), refused, length: out ? out.length : -1, sha: out ? require("crypto").createHash("sha256").update(out).digest("hex") : "" }));';

const sha = (b: Buffer): string => require('crypto').createHash('sha256').update(b).digest('hex') as string; // eslint-disable-line @typescript-eslint/no-require-imports

it('serve and a session process start without either addon', () => {
  const out = fresh(
    "require('./src/runner/deps'); require('./src/codecs'); require('./src/cache/client'); require('./src/cache/server/cache-server');\n" +
      'process.stdout.write(JSON.stringify(loaded()));',
  );
  expect(out).toEqual({ lz4: false, xxhash: false });
});

it('an LZ4 body loads lz4-napi and decodes', () => {
  const data = Buffer.from('flmrun '.repeat(1000));
  const out = fresh(decodeIn(compressFrameSync(data), data.length, 0 /* LZ4_FRAME */));
  expect(out).toEqual({ before: { lz4: false, xxhash: false }, after: { lz4: true, xxhash: false }, refused: '', length: data.length, sha: sha(data) });
});

(FZSTD_CHECKS ? it : it.skip)('a ZSTD frame with a checksum loads @node-rs/xxhash where fzstd decodes; a wrong checksum is refused', () => {
  const size = 17 * 1024 * 1024; // above the WebAssembly decoder's 16 MiB: fzstd decodes
  const good = fresh(decodeIn(checksummedFrame(size, 9, false), size, 1 /* ZSTD */));
  expect(good).toEqual({ before: { lz4: false, xxhash: false }, after: { lz4: false, xxhash: true }, refused: '', length: size, sha: sha(Buffer.alloc(size, 9)) });
  const bad = fresh(decodeIn(checksummedFrame(size, 9, true), size, 1)) as { refused: string };
  expect(bad.refused).toMatch(/checksum/);
});

it('an addon that cannot load fails each use as UNIMPLEMENTED (not as bad input), naming it; other codecs go on', () => {
  const data = Buffer.from('flmrun '.repeat(1000));
  const lz4Frame = compressFrameSync(data).toString('base64');
  const zstdFrame = rleFrame(200, 0x61, true).toString('base64'); // no checksum: needs neither addon
  const out = fresh(
    "const { BodyCompression, BufferRegion, FieldNode, RecordBatch } = require('apache-arrow/ipc/metadata/message');\n" +
      "const { decompressBatch } = require('./src/cache/compression');\n" +
      "const batch = (b64, size, type) => { const p = Buffer.alloc(8); p.writeBigInt64LE(BigInt(size)); const body = Buffer.concat([p, Buffer.from(b64, 'base64')]);\n" +
      '  return [new RecordBatch(1, [new FieldNode(1, 0)], [new BufferRegion(0, body.length)], new BodyCompression(type)), body]; };\n' +
      'const attempt = (args) => { try { decompressBatch(...args); return "decoded"; } catch (e) { return `${e.code}: ${e.message}`; } };\n' +
      `const lz4 = batch('${lz4Frame}', ${data.length}, 0);\n` +
      `const zstd = decompressBatch(...batch('${zstdFrame}', 200, 1)).buffers[0];\n` +
      'process.stdout.write(JSON.stringify({ first: attempt(lz4), second: attempt(lz4), zstd: zstd.length === 200 && zstd.every((b) => b === 0x61) }));',
    { ...process.env, NAPI_RS_NATIVE_LIBRARY_PATH: '/nonexistent/lz4.node' },
  ) as { first: string; second: string; zstd: boolean };
  expect(out.first).toMatch(/^UNIMPLEMENTED: decoding an LZ4_FRAME body needs lz4-napi, which cannot be loaded here: /);
  expect(out.second).toBe(out.first);
  expect(out.zstd).toBe(true);
});
