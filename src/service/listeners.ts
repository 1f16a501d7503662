/**
 * Binds the Instance server's listeners: the Unix socket Flame names (owner-only,
 * a stale socket file replaced) and an optional TCP address (plain or TLS).
 */
import fs from 'node:fs';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { describeThrown, invalidInput, unavailable } from '../errors';
import { parseHostPort } from '../config';

function bind(server: grpc.Server, address: string, creds: grpc.ServerCredentials): Promise<number> {
  return new Promise((resolve, reject) => server.bindAsync(address, creds, (err, port) => (err ? reject(err) : resolve(port))));
}

/** Listens on a Unix socket created with mode 0600. */
export async function bindUnixSocket(server: grpc.Server, socketPath: string): Promise<void> {
  fs.mkdirSync(path.dirname(socketPath), { recursive: true });
  removeStaleSocket(socketPath);
  // The socket inherits the umask: tighten it for the bind so there is no window
  // in which the socket is reachable by others, then make sure with chmod.
  const previous = process.umask(0o177);
  try {
    await bind(server, `unix://${socketPath}`, grpc.ServerCredentials.createInsecure());
  } catch (err) {
    throw unavailable(`cannot listen on unix socket ${socketPath}: ${describeThrown(err)}`, err);
  } finally {
    process.umask(previous);
  }
  fs.chmodSync(socketPath, 0o600);
}

function removeStaleSocket(socketPath: string): void {
  let st: fs.Stats;
  try {
    st = fs.lstatSync(socketPath);
  } catch {
    return;
  }
  if (!st.isSocket()) throw invalidInput(`${socketPath} exists and is not a socket; refusing to replace it`);
  fs.unlinkSync(socketPath);
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
