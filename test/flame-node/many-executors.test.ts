/**
 * Issue 10: many flmrun-js processes on one working directory, driven the way
 * Flame's executor manager drives them. N processes start at the same moment,
 * each connected to exactly once as soon as its socket exists; their sessions
 * enter the same package (with an npm dependency) at once; tasks read their
 * package's files while other processes start, leave and exit; one process is
 * killed with SIGKILL mid-task and a new one starts on its socket path and the
 * same directory. No timing assertions: deadlines are hang guards only.
 */
import fs from 'node:fs';
import path from 'node:path';
import { CacheServer } from '../../src/cache/server/cache-server';
import { CacheClient } from '../../src/cache/client';
import { decodeObjectRef } from '../../src/wire/object-ref';
import { decodeValue, encodeRunnerRequest } from '../../src/codecs';
import { ReturnCode } from '../../src/errors';
import { gzipFile, packTar } from '../packages/archives';
import { makeTempDir, removeDir } from '../helpers/tmp';
import { CLI, countLogLines, killAll, HANG_GUARD_MS, startExecutor, stop, waitForFile, waitForSocket, type Executor } from './harness';

const N = 6;
const DATA_FILES = 24;
const FILE_BYTES = 8192;
const EXPECTED = DATA_FILES * FILE_BYTES + 1; // + localdep's 1

jest.setTimeout(HANG_GUARD_MS * 3);

let base: string;
let cache: CacheServer;
let cacheClient: CacheClient;

beforeAll(async () => {
  if (!fs.existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` first`);
  base = makeTempDir('flmrun-node-');
  cache = new CacheServer({ host: '127.0.0.1', port: 0 });
  await cache.start();
  cacheClient = new CacheClient({ endpoint: cache.endpoint });
});

afterAll(async () => {
  killAll();
  cacheClient?.close();
  await cache?.close();
  if (base) removeDir(base);
});

/** A package that reads every one of its data files in each task, and needs an npm dependency (file:, offline). */
function makePackage(): string {
  const src = path.join(base, 'src');
  const dep = path.join(base, 'localdep');
  fs.mkdirSync(dep, { recursive: true });
  fs.writeFileSync(path.join(dep, 'package.json'), JSON.stringify({ name: 'localdep', version: '1.0.0', main: 'i.js' }));
  fs.writeFileSync(path.join(dep, 'i.js'), 'module.exports = () => 1;');
  const pkg = path.join(src, 'package');
  fs.mkdirSync(path.join(pkg, 'data'), { recursive: true });
  for (let i = 0; i < DATA_FILES; i++) fs.writeFileSync(path.join(pkg, 'data', `f${i}.bin`), Buffer.alloc(FILE_BYTES, i));
  fs.writeFileSync(path.join(pkg, 'package.json'), JSON.stringify({ name: 'shared', version: '1.0.0', main: 'index.js', dependencies: { localdep: `file:${dep}` } }));
  fs.writeFileSync(path.join(pkg, 'index.js'), `
const fs = require('fs');
const path = require('path');
const one = require('localdep');
const dir = path.join(__dirname, 'data');
const names = ${JSON.stringify(Array.from({ length: DATA_FILES }, (_, i) => `f${i}.bin`))};
exports.readAll = () => names.reduce((n, f) => n + fs.readFileSync(path.join(dir, f)).length, 0) + one();
// Reads its files until 'stop' appears (or ms pass); announces itself in 'started' first.
exports.readUntil = async (started, stopFile, ms) => {
  fs.writeFileSync(started, String(process.pid));
  const end = Date.now() + ms;
  let rounds = 0;
  while (Date.now() < end && !fs.existsSync(stopFile)) {
    if (exports.readAll() !== ${EXPECTED}) throw new Error('a package file changed under a running task');
    rounds++;
    await new Promise((r) => setTimeout(r, 10));
  }
  return rounds;
};
`);
  packTar(src, 'package', path.join(base, 'p.tar'));
  const archive = path.join(base, 'shared.tgz');
  gzipFile(path.join(base, 'p.tar'), archive);
  return `file://${archive}`;
}

it('N executors on one working directory: no failed bind, no failed task, one extraction and one npm run, all cleaned', async () => {
  const url = makePackage();
  const work = path.join(base, 'work');
  const sockets = path.join(base, 'sockets');
  fs.mkdirSync(work);
  fs.mkdirSync(sockets);
  // FLAME_LOG as the executor manager passes it: its own RUST_LOG, in Rust filter syntax.
  const env = { FLAME_CACHE_ENDPOINT: cache.endpoint, FLAME_LOG: 'info,h2=warn,tonic=info' };
  const failedBinds: string[] = [];
  const failedTasks: string[] = [];
  let sessions = 0;

  const session = async (e: Executor): Promise<string | undefined> => {
    const sessionId = `ssn-${++sessions}`;
    const r = await e.client!.enter({ session_id: sessionId, application: { name: 'jsapp', url } }, HANG_GUARD_MS);
    if (r.return_code !== ReturnCode.Success) {
      failedTasks.push(`${e.id} enter: ${r.return_code} ${r.message ?? ''}`);
      return undefined;
    }
    return sessionId;
  };
  /** Starts an executor and connects once as soon as its socket exists; the first call is the session enter. */
  const launch = async (id: string, socketName = id): Promise<{ e: Executor; sessionId?: string }> => {
    const e = startExecutor(id, work, sockets, env, socketName);
    try {
      await waitForSocket(e);
      return { e, sessionId: await session(e) };
    } catch (err) {
      failedBinds.push(`${id}: ${String(err)}`);
      return { e };
    }
  };
  const task = async (e: Executor, sessionId: string, method: string, args: unknown[] = []): Promise<unknown> => {
    const input = encodeRunnerRequest({ method, args, kwargs: null });
    const res = await e.client!.invoke({ task_id: `${method}-${sessions}`, session_id: sessionId, input }, HANG_GUARD_MS);
    if (res.return_code !== ReturnCode.Success) {
      failedTasks.push(`${e.id} ${method}: ${res.return_code} ${res.message ?? ''}`);
      return undefined;
    }
    return decodeValue(await cacheClient.get(decodeObjectRef(res.output!)));
  };
  const readAll = async (e: Executor, sessionId: string, times: number): Promise<void> => {
    for (let i = 0; i < times; i++) {
      const v = await task(e, sessionId, 'readAll');
      if (v !== undefined && v !== EXPECTED) failedTasks.push(`${e.id} readAll answered ${String(v)}`);
    }
  };

  // 1. N processes at the same moment, their sessions entering the same package at once.
  const first = await Promise.all(Array.from({ length: N }, (_, i) => launch(`e${i}`)));
  expect(failedBinds).toEqual([]);
  expect(failedTasks).toEqual([]);
  const live = first.map(({ e, sessionId }) => ({ e, sessionId: sessionId! }));

  // 2. Tasks everywhere while processes start (late joiners), leave and exit, and one is killed mid-task.
  const victim = live[3]!;
  const started = path.join(base, 'victim-started');
  const stopFile = path.join(base, 'stop');
  const victimCall = task(victim.e, victim.sessionId, 'readUntil', [started, stopFile, HANG_GUARD_MS]).catch(() => 'killed');
  const longReaders = [live[0]!, live[1]!].map((x, i) =>
    task(x.e, x.sessionId, 'readUntil', [path.join(base, `reader-${i}`), stopFile, HANG_GUARD_MS]));
  const joiners = Promise.all(['e6', 'e7'].map((id) => launch(id)));
  const leavers = Promise.all([live[4]!, live[5]!].map(async (x) => {
    await readAll(x.e, x.sessionId, 3);
    await x.e.client!.leave(HANG_GUARD_MS);
    const exit = await stop(x.e);
    if (exit.code !== 0) failedTasks.push(`${x.e.id} exited with ${String(exit.code ?? exit.signal)}`);
  }));
  await waitForFile(started);
  const killed = await stop(victim.e, 'SIGKILL');
  expect(killed.signal).toBe('SIGKILL');
  // The executor manager releases the dead executor (its socket file goes) and starts a new one on the same directory.
  fs.rmSync(victim.e.socket, { force: true });
  const replacement = await launch('e8');
  const late = await joiners;
  await leavers;
  const rest = [live[2]!, replacement, ...late].filter((x): x is { e: Executor; sessionId: string } => x.sessionId !== undefined);
  await Promise.all(rest.map((x) => readAll(x.e, x.sessionId, 3)));
  fs.writeFileSync(stopFile, '');
  const rounds = await Promise.all(longReaders);
  expect(await victimCall).toBe('killed');
  expect(failedBinds).toEqual([]);
  expect(failedTasks).toEqual([]);
  for (const r of rounds) expect(r).toBeGreaterThan(0);

  // 3. Everyone leaves and exits.
  for (const x of [live[0]!, live[1]!, ...rest]) {
    await x.e.client!.leave(HANG_GUARD_MS);
    const exit = await stop(x.e);
    expect(exit).toEqual({ code: 0, signal: null });
  }

  // Extracted once and npm once, across all processes (someone used the package throughout).
  expect(countLogLines(work, 'package extracted')).toBe(1);
  expect(countLogLines(work, 'installing production dependencies')).toBe(1);
  expect(countLogLines(work, 'socket bind failed')).toBe(0);
  // Nothing left but Flame's own log files; no socket left behind.
  const left = fs.readdirSync(work).filter((n) => !/^e\d+\.(out|err)$/.test(n));
  expect(left).toEqual([]);
  expect(fs.readdirSync(sockets)).toEqual([]);
});
