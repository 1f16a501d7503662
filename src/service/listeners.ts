/**
 * Binds the Instance server's listeners: the Unix socket Flame names and an
 * optional TCP address (plain or TLS).
 *
 * Flame's executor manager polls until the socket path exists and connects
 * once; a failed connect loses the executor (docs/protocol.md §1). So the path must appear
 * only when the socket already listens with its final mode: bind under a
 * temporary name in the same directory, chmod, then hard-link it to the real
 * name (link fails when the name exists, so a live socket is never replaced
 * by accident) and drop the temporary name.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { describeThrown, invalidInput, unavailable } from '../errors';
import { parseHostPort } from '../config';
import type { Logger } from '../log';
import { errnoOf } from '../util/errno';

function bind(server: grpc.Server, address: string, creds: grpc.ServerCredentials): Promise<number> {
  return new Promise((resolve, reject) => server.bindAsync(address, creds, (err, port) => (err ? reject(err) : resolve(port))));
}

export interface UnixListener {
  path: string;
  /** Removes the socket path if it is still ours (not replaced or removed by someone else). */
  unlink(): void;
}

/** How long a probe of an existing socket may take before it counts as live (a listener too busy to accept). */
const PROBE_TIMEOUT_MS = 2_000;

/** Listens on a Unix socket with mode 0600 that appears at `socketPath` only once it accepts connections. */
export async function bindUnixSocket(server: grpc.Server, socketPath: string, log: Logger): Promise<UnixListener> {
  const dir = path.dirname(socketPath);
  const fail = (what: string, err: unknown): Error => unavailable(`cannot listen on unix socket ${socketPath}: ${what}: ${describeThrown(err)}`, err);
  await refuseLiveSocket(socketPath);
  try {
    fs.mkdirSync(dir, { recursive: true });
  } catch (err) {
    throw fail(`cannot create its directory ${dir}`, err);
  }
  // Short, so that it fits sun_path whenever the real name does (or nearly).
  const tmp = path.join(dir, `.${process.pid.toString(36)}${randomBytes(3).toString('hex')}.sk`);
  // The socket is created with the umask: tighten it for the bind so that it is never reachable by others.
  const previous = process.umask(0o177);
  try {
    await bind(server, `unix://${tmp}`, grpc.ServerCredentials.createInsecure());
  } catch (err) {
    throw fail('bind', err);
  } finally {
    process.umask(previous);
  }
  try {
    fs.chmodSync(tmp, 0o600);
    await placeSocket(tmp, socketPath);
  } finally {
    fs.rmSync(tmp, { force: true });
  }
  let ino: number | undefined;
  try {
    ino = fs.lstatSync(socketPath).ino;
  } catch (err) {
    // Removed the moment it appeared (the executor manager does so after a failed connect): keep serving, say so.
    log.warn({ socket: socketPath, err }, 'the socket path was removed right after it was created; still serving on the open socket');
  }
  return {
    path: socketPath,
    unlink: () => {
      try {
        if (ino !== undefined && fs.lstatSync(socketPath).ino === ino) fs.unlinkSync(socketPath);
      } catch (err) {
        if (errnoOf(err) !== 'ENOENT') log.warn({ socket: socketPath, err }, 'could not remove the socket path');
      }
    },
  };
}

/** Hard-links the listening socket to its real name; a dead socket file there is replaced, a live one never. */
async function placeSocket(tmp: string, socketPath: string): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      fs.linkSync(tmp, socketPath);
      return;
    } catch (err) {
      if (errnoOf(err) !== 'EEXIST' || attempt >= 3) {
        throw unavailable(`cannot listen on unix socket ${socketPath}: cannot put the socket in place: ${describeThrown(err)}`, err);
      }
    }
    // Someone else's file appeared under the name: replace it only if it is a dead socket.
    await refuseLiveSocket(socketPath);
  }
}

/** Throws when `socketPath` is a live socket or not a socket at all; removes a dead socket file. */
async function refuseLiveSocket(socketPath: string): Promise<void> {
  let st: fs.Stats;
  try {
    st = fs.lstatSync(socketPath);
  } catch {
    return;
  }
  if (!st.isSocket()) throw invalidInput(`${socketPath} exists and is not a socket; refusing to replace it`);
  const state = await probe(socketPath);
  if (state === 'live') {
    throw unavailable(`the socket ${socketPath} is in use: another process is listening on it (refusing to replace a live socket)`);
  }
  if (state === 'dead') {
    try {
      fs.unlinkSync(socketPath);
    } catch (err) {
      if (errnoOf(err) !== 'ENOENT') throw unavailable(`cannot remove the dead socket file ${socketPath}: ${describeThrown(err)}`, err);
    }
  }
}

function probe(socketPath: string): Promise<'live' | 'dead' | 'gone'> {
  return new Promise((resolve) => {
    const conn = net.createConnection(socketPath);
    const done = (state: 'live' | 'dead' | 'gone'): void => {
      clearTimeout(timer);
      conn.destroy();
      resolve(state);
    };
    const timer = setTimeout(() => done('live'), PROBE_TIMEOUT_MS);
    conn.once('connect', () => done('live'));
    conn.once('error', (err) => {
      const code = errnoOf(err);
      // Anything but "nobody listens" (e.g. EACCES: someone else's socket) leaves the file alone.
      done(code === 'ECONNREFUSED' ? 'dead' : code === 'ENOENT' ? 'gone' : 'live');
    });
  });
}

/** Listens on host:port; answers the bound port (useful with port 0). */
export async function bindTcp(
  server: grpc.Server,
  listen: string,
  tls?: { certFile: string; keyFile: string },
): Promise<number> {
  const { host, port } = parseHostPort(listen, '--listen');
  const creds = tls
    ? grpc.ServerCredentials.createSsl(null, [
        { cert_chain: fs.readFileSync(tls.certFile), private_key: fs.readFileSync(tls.keyFile) },
      ])
    : grpc.ServerCredentials.createInsecure();
  const address = host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
  try {
    return await bind(server, address, creds);
  } catch (err) {
    throw unavailable(`cannot listen on ${address}: ${describeThrown(err)}`, err);
  }
}
