/**
 * Every archive format and URL scheme end to end through the Instance service:
 * OnSessionEnter with application.url, then a task that calls into the
 * extracted package, the result read back from the cache.
 */
import fs from 'node:fs';
import path from 'node:path';
import { ReturnCode } from '../../src/errors';
import { gzipFile, packTar, TAR_FORMATS, writePackage, zipDir } from '../packages/archives';
import { httpServer, type TestHttpServer } from '../packages/env';
import { makeTempDir, removeDir } from '../helpers/tmp';
import { startTestInstance, type TestInstance } from '../helpers/instance';

let t: TestInstance;
let input: string;
let tarFile: string;
let http: TestHttpServer;
let seq = 0;

beforeAll(async () => {
  t = await startTestInstance();
  input = makeTempDir('flmrun-pkg-in-');
  writePackage(path.join(input, 'package'), { marker: 'through-the-service' });
  tarFile = path.join(input, 'plain.tar');
  packTar(input, 'package', tarFile);
  http = await httpServer({
    '/pkg.tgz': (_req, res) => res.end(fs.readFileSync(path.join(input, 'served.tgz'))),
    '/broken.tgz': (_req, res) => {
      res.setHeader('content-type', 'text/html');
      res.end('<!doctype html><html><body>502 Bad Gateway</body></html>');
    },
  });
  gzipFile(tarFile, path.join(input, 'served.tgz'));
});

afterAll(async () => {
  await http.close();
  await t.close();
  removeDir(input);
});

/** Enters a session on `url`, calls add(2, 3) and marker via the package, leaves. */
async function roundTrip(url: string): Promise<{ enter: number; message?: string; sum?: unknown }> {
  const sessionId = `pkg-${++seq}`;
  const entered = await t.client.enter({ session_id: sessionId, application: { name: 'pkgapp', url } });
  if (entered.return_code !== ReturnCode.Success) return { enter: entered.return_code, message: entered.message };
  try {
    const res = await t.client.invoke({ task_id: '1', session_id: sessionId, input: t.request('add', [2, 3]) });
    return { enter: 0, sum: await t.valueOf(res) };
  } finally {
    await t.client.leave();
  }
}

const FORMATS: typeof TAR_FORMATS = [
  ...TAR_FORMATS,
  ['pkg.zip', (_s, d) => zipDir(path.join(input, 'package'), d, 'package')],
  ['pkg-without-extension', gzipFile],
];

it.each(FORMATS)('%s over file:// enters and runs', async (name, make) => {
  const archive = path.join(input, name);
  await make(tarFile, archive);
  expect(await roundTrip(`file://${archive}`)).toEqual({ enter: 0, sum: 5 });
  // The session's extracted tree is gone after leave (keepExtracted is off).
  expect(fs.readdirSync(t.workDir).filter((n) => n.startsWith('extracted_'))).toEqual([]);
});

it('a directory over file:// is used in place', async () => {
  expect(await roundTrip(`file://${path.join(input, 'package')}`)).toEqual({ enter: 0, sum: 5 });
  expect(fs.existsSync(path.join(input, 'package', 'index.js'))).toBe(true);
});

it('http:// downloads, extracts and runs', async () => {
  expect(await roundTrip(`${http.url}/pkg.tgz`)).toEqual({ enter: 0, sum: 5 });
});

it('grpc:// fetches the package from the object cache', async () => {
  const ref = await t.cache.upload('pkgapp/pkg', path.join(input, 'served.tgz'));
  const endpoint = t.running.cacheEndpoint;
  expect(await roundTrip(`${endpoint}/${ref.key}`)).toEqual({ enter: 0, sum: 5 });
});

it('an HTML page named .tgz is refused at enter, saying what arrived (code 2)', async () => {
  const r = await roundTrip(`${http.url}/broken.tgz`);
  expect(r.enter).toBe(ReturnCode.InvalidInput);
  expect(r.message).toMatch(/HTML/i);
  expect(r.message).toContain('/broken.tgz');
});

it('an unreachable http server answers code 3 naming the URL', async () => {
  const r = await roundTrip('http://127.0.0.1:9/nothing-listens-here.tgz');
  expect(r.enter).toBe(ReturnCode.Unavailable);
  expect(r.message).toContain('127.0.0.1:9');
});

it('a missing cache key answers code 3 naming it', async () => {
  const r = await roundTrip(`${t.running.cacheEndpoint}/pkgapp/pkg/no-such-file.tgz`);
  expect(r.enter).toBe(ReturnCode.Unavailable);
  expect(r.message).toContain('no-such-file.tgz');
});

describe('with --keep-extracted', () => {
  let kept: TestInstance;
  beforeAll(async () => {
    kept = await startTestInstance({ keepExtracted: true });
  });
  afterAll(async () => kept.close());

  it('a warm re-entry of the same archive content does not extract again', async () => {
    const archive = path.join(input, 'warm.tgz');
    gzipFile(tarFile, archive);
    const inodes: number[] = [];
    for (const sessionId of ['warm-1', 'warm-2']) {
      const res = await kept.client.enter({ session_id: sessionId, application: { name: 'pkgapp', url: `file://${archive}` } });
      expect(res.return_code).toBe(0);
      const trees = fs.readdirSync(kept.workDir).filter((n) => n.startsWith('extracted_'));
      expect(trees).toEqual(['extracted_warm']);
      inodes.push(fs.statSync(path.join(kept.workDir, 'extracted_warm', 'package', 'index.js')).ino);
      const out = await kept.client.invoke({ task_id: '1', session_id: sessionId, input: kept.request('add', [2, 3]) });
      expect(await kept.valueOf(out)).toBe(5);
      await kept.client.leave();
    }
    // The same file, not a fresh extraction of it.
    expect(inodes[1]).toBe(inodes[0]);
  });
});
