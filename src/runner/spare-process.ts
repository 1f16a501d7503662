/**
 * One session process booted ahead of the next session enter.
 *
 * Starting a session process costs about 0.2–0.35 s of CPU on Node 20 (Node, then the
 * runner and its cache client: docs/extraction.md). `flmrun-js serve` starts
 * one when it starts and another once a session has left, so that an enter
 * finds it booted, or at least well on its way, instead of paying for it
 * while the package is installed. The spare knows nothing of any session
 * until it is handed one: it reads nothing before its enter request, and the
 * request carries the session, the package root and the log level.
 *
 * A spare that ends while it waits (killed, out of memory) is replaced, up to
 * MAX_IDLE_DEATHS in a row; an enter never waits on a spare that is gone: it
 * is handed a fresh process then, as without a spare. close() ends the spare,
 * so nothing outlives the instance (the spare also exits by itself when the
 * instance's end of its channel closes, as every session process does).
 */
import type { Logger } from '../log';
import { ChildChannel } from './child-channel';
import { takeEarlySpare } from './early-spare';
import type { Notice } from './protocol';

/** Spares that ended while idle, in a row, after which no more are started until a session has used one. */
const MAX_IDLE_DEATHS = 3;

let idleSpares = 0;
/** Spare processes waiting for a session, across instances in this process (leak checks subtract them from the session processes). */
export function idleSpareProcesses(): number {
  return idleSpares;
}

export class SpareProcess {
  private spare: ChildChannel | undefined;
  private idleDeaths = 0;
  private closed = false;

  constructor(
    private readonly heapMb: number | undefined,
    private readonly log: Logger,
  ) {}

  /** The spare's pid, while there is one (for tests and the benchmark). */
  get pid(): number | undefined {
    return this.spare?.pid;
  }

  /**
   * A session process for a session about to be entered: the spare when it is
   * alive, a newly forked one otherwise. No new spare is started here: that
   * one would boot while this session's package is installed, on the same CPUs.
   * `spare`: whether it is the spare, which may have died a moment before
   * without its end being noticed yet (the caller then tries a fresh one).
   */
  take(onNotice: (n: Notice) => void, onStderr: (line: string) => void): { child: ChildChannel; spare: boolean } {
    const spare = this.spare;
    this.hold(undefined);
    this.idleDeaths = 0;
    if (spare?.usable) {
      spare.adopt(onNotice, onStderr);
      return { child: spare, spare: true };
    }
    // Not usable: it is ending already; the kill makes sure of it (and of its process group).
    if (spare) void spare.kill({ kind: 'abandoned' });
    return { child: new ChildChannel(this.heapMb, onNotice, onStderr), spare: false };
  }

  /**
   * Starts a spare unless there is one (at serve start, and when a session has left or could not be entered).
   * At serve start, the one the command line forked before loading serve (early-spare.ts) is used when it fits.
   */
  refill(): void {
    if (this.closed || this.spare || this.idleDeaths >= MAX_IDLE_DEATHS) return;
    // It writes nothing to its channel before it is handed a session; stderr is Node's own (a bad flag, a crash).
    const onStderr = (line: string): void => this.log.warn({ stderr: line }, 'the spare session process wrote to stderr');
    const early = takeEarlySpare(this.heapMb);
    for (const line of early?.stderr ?? []) onStderr(line);
    early?.child.adopt(() => undefined, onStderr);
    const child = early?.child ?? new ChildChannel(this.heapMb, () => undefined, onStderr);
    this.hold(child);
    void child.ended.then((end) => {
      if (this.spare !== child) return;
      this.hold(undefined);
      if (this.closed) return;
      this.idleDeaths++;
      const again = this.idleDeaths < MAX_IDLE_DEATHS;
      this.log.warn({ reason: end.kind, replaced: again }, 'the spare session process ended while idle');
      if (again) this.refill();
    });
  }

  /** Ends the spare and starts no other; idempotent. */
  async close(): Promise<void> {
    this.closed = true;
    const spare = this.spare;
    this.hold(undefined);
    await spare?.kill({ kind: 'leave', reason: 'the instance is closing' });
  }

  private hold(child: ChildChannel | undefined): void {
    if (this.spare) idleSpares--;
    if (child) idleSpares++;
    this.spare = child;
  }
}
