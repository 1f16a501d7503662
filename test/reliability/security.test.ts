/**
 * Issue 6.5: who can reach the service and what a request or package can
 * make it do. (The Unix socket's 0600 mode is tested in test/service.)
 */
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { Writable } from 'node:stream';
import * as grpc from '@grpc/grpc-js';
import pino from 'pino';
import { resolveServeOptions } from '../../src/config';
import { encodeRunnerContext, encodeRunnerRequest } from '../../src/codecs';
import { startInstance } from '../../src/service/server';
import { connectInstance } from '../../src/service/protos';
import { startTestInstance, fixtureUrl as serviceFixtureUrl, type TestInstance } from '../helpers/instance';
import { makeTempDir, removeDir, tempSocketPath } from '../helpers/tmp';
import { fixtureUrl } from './helpers';

const ctx = (c: Record<string, unknown>) => encodeRunnerContext({ stateful: false, autoscale: false, warmup: 0, ...c });

/** A self-signed certificate for 127.0.0.1/localhost, made by openssl for this test run. */
function makeCert(dir: string, name: string): { cert: string; key: string } {
  const cert = path.join(dir, `${name}.crt`);
  const key = path.join(dir, `${name}.key`);
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1',
    '-subj', `/CN=${name}`, '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost',
    '-keyout', key, '-out', cert,
  ], { stdio: 'ignore' });
  return { cert, key };
}

describe('listeners', () => {
  it('no TCP listener unless --listen is given', async () => {
    expect(resolveServeOptions({ socketPath: '/tmp/x.sock' }).listen).toBeUndefined();
    const t = await startTestInstance();
    try {
      expect(t.running.tcpPort).toBeUndefined();
    } finally {
      await t.close();
    }
  });

  describe('TLS on the TCP listener', () => {
    let dir: string;
    let t: TestInstance;
    let certs: { cert: string; key: string };
    beforeAll(async () => {
      dir = makeTempDir('flmrun-tls-');
      certs = makeCert(dir, 'flmrun-test');
      t = await startTestInstance({ listen: '127.0.0.1:0', tlsCertFile: certs.cert, tlsKeyFile: certs.key });
    });
    afterAll(async () => {
      await t?.close();
      if (dir) removeDir(dir);
    });

    it('a client that trusts the certificate runs a session over TLS', async () => {
      const client = connectInstance(`127.0.0.1:${t.running.tcpPort}`, grpc.credentials.createSsl(fs.readFileSync(certs.cert)));
      try {
        expect((await client.enter({ session_id: 'tls', application: { name: 'app', url: serviceFixtureUrl('calc') } })).return_code).toBe(0);
        const res = await client.invoke({ task_id: '1', session_id: 'tls', input: t.request('sum', [40, 2]) });
        expect(await t.valueOf(res)).toBe(42);
        expect((await client.leave()).return_code).toBe(0);
      } finally {
        client.close();
      }
    });

    it('a plain-text client is refused', async () => {
      const client = connectInstance(`127.0.0.1:${t.running.tcpPort}`);
      try {
        await expect(client.leave(3000)).rejects.toMatchObject({ code: expect.any(Number) });
      } finally {
        client.close();
      }
    });

    it('a client that does not trust the certificate is refused', async () => {
      const other = makeCert(dir, 'someone-else');
      const client = connectInstance(`127.0.0.1:${t.running.tcpPort}`, grpc.credentials.createSsl(fs.readFileSync(other.cert)));
      try {
        await expect(client.leave(3000)).rejects.toMatchObject({ code: grpc.status.UNAVAILABLE });
      } finally {
        client.close();
      }
    });

    it('the Unix socket keeps serving alongside', async () => {
      expect((await t.client.leave()).return_code).toBe(0);
    });
  });
});

describe('hostile names and paths', () => {
  let t: TestInstance;
  let dir: string;
  beforeAll(async () => {
    t = await startTestInstance();
    dir = makeTempDir('flmrun-hostile-');
  });
  afterAll(async () => {
    await t?.close();
    if (dir) removeDir(dir);
  });

  const ESCAPES = ['..', '../x', 'x/..', 'a/b', '/abs', 'a\\b', '..\\x', 'x..y/..'];

  it.each(ESCAPES)('session id %j is refused at enter with code 2', async (id) => {
    const res = await t.client.enter({ session_id: id, application: { name: 'app', url: serviceFixtureUrl('calc') } });
    expect(res.return_code).toBe(2);
    expect(res.message).toContain(id);
    expect(t.running.service.sessionId).toBeUndefined();
  });

  it.each(ESCAPES)('application name %j is refused at enter with code 2', async (name) => {
    const res = await t.client.enter({ session_id: 's', application: { name, url: serviceFixtureUrl('calc') } });
    expect(res.return_code).toBe(2);
    expect(res.message).toContain(name);
    expect(t.running.service.sessionId).toBeUndefined();
  });

  it.each([
    ['../../etc/passwd', /'\.\.' may not leave the package root/],
    ['lib/../../../etc/passwd', /'\.\.' may not leave the package root/],
    ['..\\..\\etc\\passwd', /'\.\.' may not leave the package root/],
    ['/etc/passwd', /must be relative to the package root/],
    ['file:///etc/passwd', /must be relative to the package root/],
  ])('context module %j is refused at enter with code 2', async (module, message) => {
    const res = await t.client.enter({ session_id: 'm', application: { name: 'app', url: serviceFixtureUrl('calc') }, common_data: ctx({ module }) });
    expect(res.return_code).toBe(2);
    expect(res.message).toMatch(message);
  });

  /** A directory package (file:// URL, used in place) with the given package.json and files. */
  function pkgDir(name: string, packageJson: object, files: Record<string, string> = {}): string {
    const root = path.join(dir, name);
    fs.mkdirSync(root, { recursive: true });
    fs.writeFileSync(path.join(root, 'package.json'), JSON.stringify(packageJson));
    for (const [f, text] of Object.entries(files)) {
      fs.mkdirSync(path.dirname(path.join(root, f)), { recursive: true });
      fs.writeFileSync(path.join(root, f), text);
    }
    return root;
  }
  // A module outside every package root: loading it would print nothing, so the test asks for the refusal itself.
  const outside = (): string => {
    const f = path.join(dir, 'outside.js');
    fs.writeFileSync(f, 'module.exports = { sum: (a, b) => a + b };');
    return f;
  };

  it.each([
    ['package.json main pointing outside', () => pkgDir('main-out', { main: '../outside.js' })],
    ['package.json exports pointing outside', () => pkgDir('exports-out', { exports: { '.': './../outside.js' } })],
    [
      'a symbolic link in the package pointing outside',
      () => {
        const root = pkgDir('link-out', { main: 'index.js' });
        fs.symlinkSync(outside(), path.join(root, 'index.js'));
        return root;
      },
    ],
  ])('%s: session enter is refused with code 2', async (_name, make) => {
    outside();
    const root = make();
    const res = await t.client.enter({ session_id: 'p', application: { name: 'app', url: `file://${root}` } });
    expect(res.return_code).toBe(2);
    expect(res.message).toMatch(/outside the package root/);
    expect(res.message).toContain(path.join(dir, 'outside.js'));
  });

  it('a context module that is a link to a directory outside is refused', async () => {
    const root = pkgDir('dirlink-out', { main: 'index.js' }, { 'index.js': 'module.exports = {}' });
    fs.symlinkSync('/etc', path.join(root, 'etc'));
    const res = await t.client.enter({ session_id: 'p', application: { name: 'app', url: `file://${root}` }, common_data: ctx({ module: 'etc/hostname' }) });
    expect(res.return_code).toBe(2);
    expect(res.message).toMatch(/not found|outside the package root/);
  });

  it('a link inside the package to a file inside it is fine', async () => {
    const root = pkgDir('link-in', { main: 'entry.js' }, { 'real/impl.js': 'module.exports = { sum: (a, b) => a + b };' });
    fs.symlinkSync(path.join(root, 'real', 'impl.js'), path.join(root, 'entry.js'));
    expect((await t.client.enter({ session_id: 'in', application: { name: 'app', url: `file://${root}` } })).return_code).toBe(0);
    expect(await t.valueOf(await t.client.invoke({ task_id: '1', session_id: 'in', input: t.request('sum', [1, 2]) }))).toBe(3);
    expect((await t.client.leave()).return_code).toBe(0);
  });
});

describe('logs at info never print task payloads', () => {
  const PAYLOAD = 'PAYLOAD-7f3a9c-do-not-log';
  let lines: string[];
  let dir: { dir: string; socket: string };
  let workDir: string;

  it('a session full of payloads, failures included: the payload is in no info line', async () => {
    lines = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, cb) {
        lines.push(...chunk.toString().split('\n').filter(Boolean));
        cb();
      },
    });
    const logger = pino({ level: 'info' }, sink);
    dir = tempSocketPath();
    workDir = makeTempDir('flmrun-logs-');
    const running = await startInstance(resolveServeOptions({ socketPath: dir.socket, workDir, taskTimeoutMs: 2000 }), logger);
    const client = connectInstance(`unix://${dir.socket}`);
    try {
      const app = { name: 'log-app', url: fixtureUrl('faulty') };
      // init_args carry the payload; a constructor that quotes it in its error fails enter.
      const refused = await client.enter({ session_id: 'l0', application: app, common_data: ctx({ export: 'Greeter', initArgs: [`reject:${PAYLOAD}`] }) });
      expect(refused.return_code).not.toBe(0);
      expect(refused.message).toContain(PAYLOAD); // the client is told; the log is not
      expect((await client.enter({ session_id: 'l1', application: app, common_data: ctx({ export: 'Greeter', initArgs: [PAYLOAD] }) })).return_code).toBe(0);
      const run = (method: string, args: unknown[], kwargs: Record<string, unknown> | null = null) =>
        client.invoke({ task_id: 't', session_id: 'l1', input: encodeRunnerRequest({ method, args, kwargs }) });
      expect((await run('greet', [PAYLOAD], { note: PAYLOAD })).return_code).toBe(0);
      expect((await run('greet', [Buffer.from(PAYLOAD)])).return_code).toBe(0);
      expect((await run(`missing-${PAYLOAD}`, [PAYLOAD])).return_code).toBe(2);
      expect((await client.leave()).return_code).toBe(0);

      expect((await client.enter({ session_id: 'l2', application: app })).return_code).toBe(0);
      const thrown = await client.invoke({ task_id: 'u', session_id: 'l2', input: encodeRunnerRequest({ method: 'failsWith', args: [PAYLOAD], kwargs: null }) });
      expect(thrown.return_code).toBe(1);
      expect(thrown.message).toContain(PAYLOAD);
      expect((await client.leave()).return_code).toBe(0);
    } finally {
      client.close();
      await running.close();
      removeDir(dir.dir);
      removeDir(workDir);
    }
    const text = lines.join('\n');
    // The capture works: the session's life and its failures are logged at info...
    expect(text).toContain('session enter');
    expect(text).toContain('"msg":"task failed"');
    expect(text).toContain('"msg":"session enter failed"');
    // ...and the payload is in none of it.
    expect(text).not.toContain(PAYLOAD);
  });
});
