/**
 * One session child process and the typed request/response channel to it.
 *
 * The child runs in its own process group (detached), so that ending it also
 * ends whatever user code spawned. Requests carry ids; each is answered by
 * its reply or, if the child ends first, by `{ type: 'gone' }` with the
 * child's typed end. The channel never throws for anything the child does.
 *
 * Messages travel as frames (src/runner/frames.ts) on a socketpair that is
 * the child's fd 3, not over Node's IPC channel: a small task's round trip
 * is two frames, each one write and one read, with no serializer round.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import type { Socket } from 'node:net';
import path from 'node:path';
import readline from 'node:readline';
import type { ChildEnd, KillReason } from './child-end';
import { encodeFrame, FrameReader, FrameTooLarge } from './frames';
import { CHANNEL_ENV, CHANNEL_FD, isReply, type ChildInit, type FromChild, type Notice, type Reply, type ReplyTo, type Request, type ToChild } from './protocol';

/** How long the channel waits, once the child has exited, for the frames it wrote last (an `uncaught` notice) to be read. */
const DRAIN_AFTER_EXIT_MS = 1000;

export interface Gone {
  type: 'gone';
  end: ChildEnd;
}

interface Pending {
  settle(reply: Reply | Gone): void;
}

let liveChildren = 0;
/** Session child processes started and not yet ended (for leak checks). */
export function liveSessionChildren(): number {
  return liveChildren;
}

/** V8 flags of every session process (see childCommand); bench/cache.ts gives its client processes the same. */
export const YOUNG_GENERATION: readonly string[] = ['--max-semi-space-size=8', '--min-semi-space-size=8'];

/**
 * The child's script: the built one, or, when this module itself runs from
 * source (the unit test tier under ts-jest), the TypeScript source through
 * sucrase's require hook, so that tests never run a stale build.
 */
function childCommand(heapMb: number | undefined): { script: string; execArgv: string[] } {
  // The young generation at one fixed size, 8 MiB per semi-space. Left to V8, it starts at 1 MiB and is
  // resized as collections go: Node 20's V8 only grows it, to 16 MiB, which under small tasks took some
  // 50,000 of them, so RSS climbed long after warm-up; Node 22+'s grows it to 32 or 64 MiB and keeps the
  // pages of a busy process (docs/node24-memory.md). Fixed at 8, RSS is flat from the first thousands of
  // tasks on every line, at the same CPU per task; 16 cost Node 24 some 20 MiB more per busy session
  // process (docs/benchmarks.md, section 6). Its pages are touched only as objects are made: a spare
  // session process holds about 2 MiB more than with V8's start (VmRSS, median of five starts).
  const heap = [...YOUNG_GENERATION, ...(heapMb === undefined ? [] : [`--max-old-space-size=${heapMb}`])];
  if (path.extname(__filename) === '.ts') {
    return { script: path.join(__dirname, 'child-entry.ts'), execArgv: [...heap, '--require', require.resolve('sucrase/register/ts')] };
  }
  return { script: path.join(__dirname, 'child-entry.js'), execArgv: heap };
}

/**
 * glibc's malloc told to ask for transparent huge pages (glibc >= 2.35; older glibc and other C libraries
 * ignore it), in the session process, where large results and inputs are made and read: a fresh buffer
 * of tens of MiB, and with 4 KiB pages faulting it in is most of its cost. Measured on a 64 MiB Buffer
 * allocated and filled (THP in `madvise` mode, the common default): 64-71 ms of CPU per buffer, 34-35 ms
 * with it. Not in serve itself: its cold enter (extraction) is slower with it (docs/extraction.md,
 * "Serve without huge pages").
 */
export const SESSION_GLIBC_TUNABLES = 'glibc.malloc.hugetlb=1';

/** Serve's environment variable for the session processes' GLIBC_TUNABLES alone (README, "Large buffers"). */
const SESSION_TUNABLES_ENV = 'FLMRUN_SESSION_GLIBC_TUNABLES';

/**
 * The session process's environment: the instance's, plus the channel's fd, plus its GLIBC_TUNABLES: serve's
 * FLMRUN_SESSION_GLIBC_TUNABLES when set, else serve's own GLIBC_TUNABLES when set, else
 * SESSION_GLIBC_TUNABLES (a value set, even empty, is the user's and is kept as it is).
 */
function childEnv(): NodeJS.ProcessEnv {
  const tunables = process.env[SESSION_TUNABLES_ENV] ?? process.env.GLIBC_TUNABLES ?? SESSION_GLIBC_TUNABLES;
  return { ...process.env, GLIBC_TUNABLES: tunables, [CHANNEL_ENV]: String(CHANNEL_FD) };
}

export class ChildChannel {
  /** The child's end, once it has ended. */
  end: ChildEnd | undefined;
  readonly ended: Promise<ChildEnd>;
  private readonly proc: ChildProcess;
  private readonly pipe: Socket;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private killedFor: KillReason | { kind: 'timeout'; ms: number } | undefined;
  private uncaught: string | undefined;
  private onNotice: (n: Notice) => void;
  private onStderr: (line: string) => void;

  /** onStderr: each line the child writes to stderr (V8's out-of-memory report among them). */
  constructor(heapMb: number | undefined, onNotice: (n: Notice) => void, onStderr: (line: string) => void) {
    this.onNotice = onNotice;
    this.onStderr = onStderr;
    const { script, execArgv } = childCommand(heapMb);
    // execArgv is set in full: the child must not inherit the instance's own flags (--inspect, a test runner's).
    // stderr is read here, not inherited: it becomes log lines instead of raw text in the instance's own stderr.
    const stdio: ('ignore' | 'inherit' | 'pipe')[] = ['ignore', 'inherit', 'pipe', 'pipe'];
    this.proc = spawn(process.execPath, [...execArgv, script], { env: childEnv(), detached: true, stdio });
    liveChildren++;
    if (this.proc.stderr) readline.createInterface({ input: this.proc.stderr, crlfDelay: Infinity }).on('line', (line) => this.onStderr(line));
    this.pipe = this.proc.stdio[CHANNEL_FD] as Socket;
    const reader = new FrameReader();
    const onMessage = (m: unknown): void => {
      const msg = m as FromChild;
      if (isReply(msg)) {
        const p = this.pending.get(msg.id);
        this.pending.delete(msg.id);
        p?.settle(msg);
        return;
      }
      if (msg.type === 'uncaught') this.uncaught = msg.message;
      this.onNotice(msg);
    };
    this.pipe.on('data', (d: Buffer) => reader.push(d, onMessage));
    // A failed write (the child already gone) is answered by 'exit' below.
    this.pipe.on('error', () => undefined);
    const pipeClosed = new Promise<void>((resolve) => this.pipe.once('close', () => resolve()));
    this.proc.on('error', () => undefined);
    this.ended = new Promise<ChildEnd>((resolve) => {
      this.proc.once('exit', (code, signal) => {
        liveChildren--;
        // What user code spawned into the group outlives the child otherwise.
        this.killGroup();
        // The child's last frames (an uncaught error's notice) may still be unread; a process that
        // escaped the group and holds the socket open does not hold the answer for long.
        let bound: NodeJS.Timeout | undefined;
        const drained = new Promise<void>((r) => (bound = setTimeout(r, DRAIN_AFTER_EXIT_MS)));
        void Promise.race([pipeClosed, drained]).then(() => {
          clearTimeout(bound);
          this.pipe.destroy();
          const end = this.classify(code, signal);
          this.end = end;
          for (const p of this.pending.values()) p.settle({ type: 'gone', end });
          this.pending.clear();
          resolve(end);
        });
      });
    });
  }

  get pid(): number | undefined {
    return this.proc.pid;
  }

  /** Whether the child may still answer: not ended, not exited, not being killed. */
  get usable(): boolean {
    return this.end === undefined && !this.exited && this.killedFor === undefined && this.pipe.writable;
  }

  /** A spare child (spare-process.ts) handed to a session: its notices and stderr go to the session's handlers from now on. */
  adopt(onNotice: (n: Notice) => void, onStderr: (line: string) => void): void {
    this.onNotice = onNotice;
    this.onStderr = onStderr;
  }

  /**
   * Whether the child (its process, channel and stderr) keeps this process's event loop alive. An early spare
   * (early-spare.ts) does not until serve adopts it: a `serve` that fails to start must still exit.
   */
  holdsLoop(hold: boolean): void {
    // stdio 'pipe' streams are sockets.
    const handles = [this.proc, this.pipe, this.proc.stderr as Socket | null];
    for (const h of handles) {
      if (hold) h?.ref();
      else h?.unref();
    }
  }

  /** Enters the session; resolves with the reply, or `gone` if the child ends first. */
  enter(init: ChildInit): Promise<ReplyTo['enter'] | Gone> {
    return this.request<ReplyTo['enter']>((id) => ({ type: 'enter', id, init })).reply;
  }

  /** Runs a task; `id` is the one to abort it by. */
  invoke(taskId: string, input: Uint8Array | undefined): { id: number; reply: Promise<ReplyTo['invoke'] | Gone> } {
    return this.request<ReplyTo['invoke']>((id) => ({ type: 'invoke', id, taskId, input }));
  }

  /** Fires the running task's signal and disposes the execution object. */
  leave(reason: string): Promise<ReplyTo['leave'] | Gone> {
    return this.request<ReplyTo['leave']>((id) => ({ type: 'leave', id, reason })).reply;
  }

  private request<R extends Reply>(make: (id: number) => Request): { id: number; reply: Promise<R | Gone> } {
    const id = this.nextId++;
    const reply = new Promise<R | Gone>((resolve) => {
      if (this.end) return resolve({ type: 'gone', end: this.end });
      // Replies are matched by id; the child answers an id with the reply type of its request.
      this.pending.set(id, { settle: (r) => resolve(r as R | Gone) });
      try {
        this.send(make(id));
      } catch (err) {
        if (!(err instanceof FrameTooLarge)) throw err;
        // Not reached for task inputs (the supervisor refuses those first); the child cannot be told, so it goes.
        void this.kill({ kind: 'too-large', bytes: err.bytes });
      }
    });
    return { id, reply };
  }

  /** Fires the AbortSignal of the running invoke request `id`. */
  abort(id: number, reason: string): void {
    this.send({ type: 'abort', id, reason });
  }

  /** Ends the child and its process group now (SIGKILL); the first reason given is the one kept. */
  kill(why: KillReason | { kind: 'timeout'; ms: number }): Promise<ChildEnd> {
    this.killedFor ??= why;
    this.killGroup();
    return this.ended;
  }

  private send(msg: ToChild): void {
    if (this.end || this.exited || !this.pipe.writable) return;
    const parts = encodeFrame(msg);
    if (parts.length === 1) {
      this.pipe.write(parts[0]!);
      return;
    }
    this.pipe.cork();
    for (const part of parts) this.pipe.write(part);
    this.pipe.uncork();
  }

  private get exited(): boolean {
    return this.proc.exitCode !== null || this.proc.signalCode !== null;
  }

  private killGroup(): void {
    const pid = this.proc.pid;
    if (pid === undefined) return;
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      // ESRCH: the group is already empty (a group we created is always ours to signal).
    }
  }

  private classify(code: number | null, signal: NodeJS.Signals | null): ChildEnd {
    const killed = this.killedFor;
    if (killed) return killed.kind === 'timeout' ? killed : { kind: 'killed', for: killed };
    if (this.uncaught !== undefined) return { kind: 'uncaught', message: this.uncaught };
    if (signal === 'SIGABRT') return { kind: 'oom' };
    if (signal) return { kind: 'signal', signal };
    return { kind: 'exit', code: code ?? 0 };
  }
}
