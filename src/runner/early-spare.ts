/**
 * `flmrun-js serve` forks its spare session process (spare-process.ts) before
 * it loads anything else: the spare then boots (~0.2–0.35 s of CPU on Node 20) while serve
 * loads its own modules and binds its socket, which Flame waits for before it
 * enters the first session, instead of while that session's package is
 * installed. This module is the first one the command line loads; it reads
 * only the flags that shape the process (`--worker-heap-mb`, `--no-spare-process`):
 * serve adopts the early spare only when its resolved options agree, and
 * ends it otherwise.
 *
 * Until adopted, the spare does not hold the event loop: a serve that fails
 * to start still exits, and the spare exits with it (its channel closes).
 */
import { ChildChannel } from './child-channel';

let early: { child: ChildChannel; heapMb: number | undefined; stderr: string[] } | undefined;

/** The heap limit a flag asks for: undefined for Node's default, null when the flag is not a plain number (no early spare then). */
function heapFlag(args: string[]): number | undefined | null {
  let text: string | undefined;
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--worker-heap-mb') text = args[i + 1] ?? '';
    else if (a.startsWith('--worker-heap-mb=')) text = a.slice('--worker-heap-mb='.length);
  }
  if (text === undefined) return undefined;
  if (!/^\d+$/.test(text)) return null;
  const mb = Number(text);
  return mb === 0 ? undefined : mb;
}

/** Forks the spare when `argv` (after the node and script names) is a `serve` that keeps one. */
export function forkEarlySpare(argv: string[]): void {
  const [command, ...rest] = argv;
  if (command !== 'serve' || rest.some((a) => a === '--no-spare-process' || a === '--help' || a === '-h')) return;
  const heapMb = heapFlag(rest);
  if (heapMb === null) return;
  const stderr: string[] = [];
  const child = new ChildChannel(heapMb, () => undefined, (line) => {
    if (stderr.length < 20) stderr.push(line);
  });
  child.holdsLoop(false);
  early = { child, heapMb, stderr };
}

/**
 * The early spare for serve's SpareProcess, if there is one, it is alive and
 * was started with `heapMb`; one that does not match is ended. Taken once.
 * `stderr`: what it wrote before (Node's own complaints; user code has not run).
 */
export function takeEarlySpare(heapMb: number | undefined): { child: ChildChannel; stderr: string[] } | undefined {
  const e = early;
  early = undefined;
  if (!e) return undefined;
  if (e.heapMb !== heapMb || !e.child.usable) {
    void e.child.kill({ kind: 'leave', reason: 'serve was started with other options' });
    return undefined;
  }
  e.child.holdsLoop(true);
  return { child: e.child, stderr: e.stderr };
}
