/**
 * A TCP proxy on loopback that holds every chunk for `delayMs` before passing
 * it on (both directions), or forever with `delayMs: Infinity` (a cache that
 * accepts connections and never answers). Written here because no library
 * does "delay each chunk" on a raw TCP stream; it is a test tool, 60 lines.
 */
import net from 'node:net';

export class SlowProxy {
  private readonly server: net.Server;
  private readonly sockets = new Set<net.Socket>();
  private readonly timers = new Set<NodeJS.Timeout>();
  port = 0;

  constructor(
    private readonly upstreamPort: number,
    private delayMs: number,
  ) {
    this.server = net.createServer((client) => this.accept(client));
  }

  get endpoint(): string {
    return `grpc://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as net.AddressInfo).port;
  }

  /** Changes the delay; open connections are cut (bytes held under the old delay would arrive out of turn). */
  setDelay(ms: number): void {
    this.delayMs = ms;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    for (const s of this.sockets) s.destroy();
  }

  private accept(client: net.Socket): void {
    const upstream = net.connect(this.upstreamPort, '127.0.0.1');
    for (const s of [client, upstream]) {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
      s.on('error', () => s.destroy());
    }
    this.pipe(client, upstream);
    this.pipe(upstream, client);
  }

  private pipe(from: net.Socket, to: net.Socket): void {
    let lastRelease = 0; // keeps the byte order: a chunk never overtakes an earlier one
    from.on('data', (chunk) => {
      if (!Number.isFinite(this.delayMs)) return; // a black hole
      lastRelease = Math.max(Date.now() + this.delayMs, lastRelease);
      const timer = setTimeout(() => {
        this.timers.delete(timer);
        if (!to.destroyed) to.write(chunk);
      }, lastRelease - Date.now());
      this.timers.add(timer);
    });
    from.on('close', () => to.destroy());
  }

  async close(): Promise<void> {
    for (const t of this.timers) clearTimeout(t);
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
