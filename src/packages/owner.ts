/**
 * Which process owns a file in a shared working directory, and whether that
 * process is still alive. Several flmrun-js processes share one working
 * directory (every executor of an application, docs/protocol.md §1), so "stale" can only
 * mean "left by a process that is gone": an owner is a pid plus the process's
 * start time (from /proc on Linux), so a recycled pid is not mistaken for it.
 */
import fs from 'node:fs';
import { errnoOf } from '../util/errno';

export interface Owner { pid: number; start: string }

/** `<pid>-<start>`: safe in file names; `start` is digits. */
export function ownerTag(o: Owner): string {
  return `${o.pid}-${o.start}`;
}

export function parseOwnerTag(tag: string): Owner | undefined {
  const m = /^(\d+)-(\d+)$/.exec(tag);
  return m ? { pid: Number(m[1]), start: m[2]! } : undefined;
}

/** The start time of a process in clock ticks since boot, or undefined (no /proc, or no such process). */
function procStart(pid: number): { start: string; zombie: boolean } | undefined {
  let stat: string;
  try {
    stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // The command name (field 2) may hold spaces and parentheses: fields are counted after its last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const start = fields[19];
  return start && /^\d+$/.test(start) ? { start, zombie: fields[0] === 'Z' } : undefined;
}

/** The owner of a running process, or undefined when it does not exist. */
export function ownerOf(pid: number): Owner | undefined {
  const st = procStart(pid);
  return st && !st.zombie ? { pid, start: st.start } : undefined;
}

let self: Owner | undefined;

export function currentOwner(): Owner {
  // Without /proc the start time cannot be read for other processes either; 0 then means "pid only".
  self ??= { pid: process.pid, start: procStart(process.pid)?.start ?? '0' };
  return self;
}

/** True unless the owner is known to be gone. */
export function isAlive(o: Owner): boolean {
  if (o.pid === process.pid) return o.start === currentOwner().start;
  const st = procStart(o.pid);
  if (st) return !st.zombie && (o.start === '0' || st.start === o.start);
  // No /proc entry to compare (no /proc, or hidden): the pid alone decides; unsure means alive.
  try {
    process.kill(o.pid, 0);
    return true;
  } catch (err) {
    return errnoOf(err) === 'EPERM';
  }
}
