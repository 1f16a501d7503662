/**
 * Entry of a session's child process (forked by SessionSupervisor). Enters
 * the session when asked, then answers the supervisor's requests one at a
 * time. User code runs here, in its own process and process group: what it
 * can do wrong (exhaust its heap, exit, abort, throw from a timer) ends this
 * process at worst, never the instance.
 */
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import pino from 'pino';
import { FlmError, ErrorCode } from '../errors';
import { preloadArrow } from '../codecs/arrow-values';
import { createRuntimeDeps, type RuntimeDeps } from './deps';
import { installModuleAlias } from './module-alias';
import { nativeImport } from './loader';
import { CHANNEL_ENV, CHANNEL_FD, type ChildInit, type FromChild, type ToChild } from './protocol';
import { encodeFrame, FrameReader } from './frames';
import { SessionRuntime } from './session-runtime';
import { describeUserError } from './user-stack';
import { guardProcess } from './process-guard';

if (process.env[CHANNEL_ENV] !== String(CHANNEL_FD)) {
  throw new Error('the flmrun-js session child must be started by its supervisor (with its channel on fd 3)');
}
// User code and what it spawns have no use for it.
delete process.env[CHANNEL_ENV];
const channel = new net.Socket({ fd: CHANNEL_FD, readable: true, writable: true });

const send = (msg: FromChild, then?: () => void): void => {
  if (!channel.writable) return then?.();
  const parts = encodeFrame(msg);
  if (parts.length === 1) {
    channel.write(parts[0]!, then && (() => then()));
    return;
  }
  const last = parts.pop()!;
  channel.cork();
  for (const part of parts) channel.write(part);
  channel.write(last, then && (() => then()));
  channel.uncork();
};

let init: ChildInit | undefined;
let logger: pino.Logger = pino({ level: 'silent' });
let runtime: SessionRuntime | undefined;
let deps: RuntimeDeps | undefined;
/** The invoke request being served (the supervisor sends one at a time), and its settling. */
let running: number | undefined;
let settling: Promise<void> | undefined;

// The supervisor gone (the instance ended or closed the channel): nothing to serve any more.
channel.on('end', () => process.exit(0));
channel.on('error', () => process.exit(0));

process.on('uncaughtException', (err) => {
  const root = init ? (init.spec.packageRoot ?? init.spec.workDir) : process.cwd();
  send({ type: 'uncaught', message: describeUserError(err, root) }, () => process.exit(70));
});

const reader = new FrameReader();
channel.on('data', (d: Buffer) => reader.push(d, (m) => onMessage(m as ToChild)));

// At boot, not at enter: on Node 20 module.register() starts the loader's hooks thread and waits for it
// (~0.1 s, more on a loaded machine), which would come after the package is installed instead of while it is.
const entry = publicEntry();
installModuleAlias(entry);
// The user's module is loaded by import(): its first use sets up the ES module loader, the first request to the
// hooks thread and the CommonJS export lexer. A small CommonJS file of our own, that user code imports anyway, does it now.
nativeImport(pathToFileURL(entry).href).catch(() => undefined);

function onMessage(msg: ToChild): void {
  switch (msg.type) {
    case 'enter':
      void enter(msg.id, msg.init);
      break;
    case 'invoke':
      settling = invoke(msg.id, msg.taskId, msg.input);
      break;
    case 'abort':
      if (running === msg.id) runtime?.abort(msg.reason);
      break;
    case 'leave':
      void (async () => {
        await runtime?.leave(msg.reason);
        // The running task saw its signal: let it answer before its cache client closes
        // (the supervisor bounds the wait with closeTimeoutMs).
        await settling;
        await deps?.close();
      })().finally(() => send({ type: 'left', id: msg.id }));
      break;
  }
}

async function enter(id: number, childInit: ChildInit): Promise<void> {
  init = childInit;
  // Lines go to the supervisor, which writes them to its own logger's destination.
  logger = pino(
    { level: init.logLevel, base: { pid: process.pid } },
    { write: (line: string) => send({ type: 'log', line }) },
  ).child({ sessionId: init.spec.sessionId, ...init.logBindings });
  guardProcess();
  deps = createRuntimeDeps(init, logger);
  try {
    runtime = await SessionRuntime.enter({
      spec: init.spec,
      cache: deps.cache,
      cacheEndpoint: init.cacheEndpoint,
      codecs: deps.codecs,
      logger,
      refConcurrency: init.refConcurrency,
      state: init.state,
    });
  } catch (err) {
    const e = FlmError.from(err, ErrorCode.Internal);
    send({ type: 'enter-failed', id, error: e.toData() });
    return;
  }
  send({ type: 'entered', id });
  // The whole of apache-arrow loads on the first Arrow value (codecs/arrow-values.ts): a package that depends
  // on it is likely to make one, so it is loaded now, between the enter and the first task, instead of in it.
  if (listsArrow(init.spec.packageRoot ?? init.spec.workDir)) {
    setImmediate(() => {
      try {
        preloadArrow();
      } catch {
        // Nothing is lost: the first Arrow value loads it again and says what went wrong.
      }
    });
  }
}

/** Whether the package at `root` lists apache-arrow among its dependencies (any kind); false when unreadable. */
function listsArrow(root: string): boolean {
  try {
    const m = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as Record<string, unknown>;
    return ['dependencies', 'devDependencies', 'peerDependencies', 'optionalDependencies'].some((k) => {
      const deps = m[k];
      return typeof deps === 'object' && deps !== null && Object.hasOwn(deps, 'apache-arrow');
    });
  } catch {
    return false;
  }
}

async function invoke(id: number, taskId: string, input: Uint8Array | undefined): Promise<void> {
  if (!runtime || running !== undefined) {
    send({ type: 'done', id, returnCode: 1, message: 'internal: the session child got a task while not ready for one' });
    return;
  }
  running = id;
  try {
    const r = await runtime.runTask(taskId, input);
    send({ type: 'done', id, returnCode: r.returnCode, message: r.message, error: r.error, output: r.output, state: r.state });
  } finally {
    running = undefined;
  }
}

/**
 * The file `flmrun-js` resolves to in user code: the built index.js; from
 * source (the unit test tier), a generated CommonJS file that names each
 * export, because Node finds the named exports an ESM import sees by reading
 * the file, and it cannot read them from TypeScript.
 */
function publicEntry(): string {
  const built = path.resolve(__dirname, '..', 'index.js');
  if (path.extname(__filename) !== '.ts') return built;
  const source = path.resolve(__dirname, '..', 'index.ts');
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- the names of the source's exports, at run time
  const names = Object.keys(require(source) as object);
  const shim = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'flmrun-source-entry-')), 'index.cjs');
  const lines = [`const m = require(${JSON.stringify(source)});`, ...names.map((n) => `exports.${n} = m.${n};`)];
  fs.writeFileSync(shim, lines.join('\n') + '\n');
  process.on('exit', () => fs.rmSync(path.dirname(shim), { recursive: true, force: true }));
  return shim;
}
