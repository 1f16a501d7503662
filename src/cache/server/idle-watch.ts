/**
 * The idle deadlines of the DoPut streams of one server, on one timer.
 *
 * Each put armed a timer of its own and re-armed it at every message; in a
 * CPU profile of 1,500 small puts the timers' list upkeep (setTimeout,
 * refresh, clearTimeout) was ~45 ms, a tenth of the handlers' own time. Here
 * a put only notes the current tick when it hears from its client, and one
 * interval, running while puts are watched (it stops at its first tick with
 * none), ends those that have been silent for `idleMs`. A silent put is
 * ended between `idleMs` and 1.25 × `idleMs` after its last message, never
 * sooner.
 */
const TICKS = 4;
const MAX_TIMER_MS = 2 ** 31 - 1;

export interface IdleWatched {
  /** The client was heard from: the idle time starts again. */
  touch(): void;
  /** Watching ends (the put finished or is waiting for the disk, which is not the client's idleness). */
  stop(): void;
}

interface Entry {
  last: number;
  onIdle: () => void;
}

export class IdleWatch {
  private readonly entries = new Set<Entry>();
  private timer?: NodeJS.Timeout;
  private tick = 0;
  /** The interval's period: idleMs / TICKS, at most what a Node timer can wait (longer ones fire after 1 ms). */
  private readonly period: number;
  /** Ticks after a put's last message before it is ended: TICKS, more when the period is capped. */
  private readonly ticks: number;

  constructor(idleMs: number) {
    this.period = Math.min(MAX_TIMER_MS, Math.max(1, idleMs / TICKS));
    this.ticks = Math.max(TICKS, Math.ceil(idleMs / this.period));
  }

  /** Starts watching; `onIdle` is called once, when the put has been silent for `idleMs`. */
  watch(onIdle: () => void): IdleWatched {
    const entry: Entry = { last: this.tick, onIdle };
    this.add(entry);
    return {
      touch: () => {
        entry.last = this.tick;
        if (!this.entries.has(entry)) this.add(entry);
      },
      stop: () => this.remove(entry),
    };
  }

  private add(entry: Entry): void {
    this.entries.add(entry);
    if (this.timer) return;
    this.timer = setInterval(() => this.sweep(), this.period);
    this.timer.unref();
  }

  private remove(entry: Entry): void {
    this.entries.delete(entry);
  }

  private sweep(): void {
    if (this.entries.size === 0) {
      // Stopped here rather than when the last put left: one put after another would start and clear it each time.
      clearInterval(this.timer);
      this.timer = undefined;
      return;
    }
    this.tick++;
    // Noted at tick `last`, the last message came at most one period before tick `last` + 1 ended: TICKS + 1
    // ticks later, at least TICKS periods (idleMs) have passed since it.
    for (const entry of this.entries) {
      if (this.tick - entry.last <= this.ticks) continue;
      this.remove(entry);
      entry.onIdle();
    }
  }
}
