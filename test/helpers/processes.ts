/** Whether a process is alive, from /proc (a zombie nobody reaped yet counts as ended). */
import fs from 'node:fs';

export function processAlive(pid: number): boolean {
  let stat: string;
  try {
    stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return false;
  }
  // Fields after the parenthesised command name: state is the first.
  const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
  return state !== 'Z' && state !== 'X';
}

/** Polls `cond` until it holds; `ms` is only a hang guard. */
export async function eventually(cond: () => boolean, ms = 30_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met before the hang guard');
    await new Promise((r) => setTimeout(r, 20));
  }
}
