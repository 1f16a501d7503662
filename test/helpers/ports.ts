/** Loopback ports for servers a test starts in another process. */
import type { ChildProcess } from 'node:child_process';
import net from 'node:net';

/** A free loopback port (bound and released; the caller binds it again right away). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

/**
 * Resolves once 127.0.0.1:port accepts a connection; rejects as soon as `child` has exited.
 * `tries` × 50 ms is only a hang guard for a process that neither listens nor exits.
 */
export async function accepting(port: number, child: ChildProcess, what: string, tries = 600): Promise<void> {
  for (let i = 0; i < tries; i++) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`${what} exited (${child.exitCode ?? child.signalCode}) before listening`);
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1');
      s.once('connect', () => (s.destroy(), resolve(true)));
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${what} did not listen on 127.0.0.1:${port}`);
}
