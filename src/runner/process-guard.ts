/**
 * What user code's `process` may not do to the instance. The session child
 * runs as the same OS user as the instance, so the operating system would let
 * it signal its parent: `process.kill` refuses the instance's pid, its
 * negation and -1 (every process of the user). `process.abort()` ends the
 * child with a reserved exit code instead of SIGABRT, which the supervisor
 * reads as V8 running out of memory. A subprocess or native addon is not
 * stopped by this; the README says so.
 */
import { ABORT_EXIT_CODE } from './child-end';

export function guardProcess(): void {
  const instance = process.ppid;
  const kill = process.kill.bind(process);
  process.kill = (pid: number, signal?: string | number): true => {
    if (pid === instance || pid === -instance || pid === -1) {
      throw Object.assign(new Error(`kill ${pid}: user code may not signal the flmrun-js instance`), { code: 'EPERM', syscall: 'kill' });
    }
    return kill(pid, signal);
  };
  process.abort = (): never => process.exit(ABORT_EXIT_CODE);
}
