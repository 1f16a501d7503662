/** What the numbers were measured on, read from the OS. */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';

export interface Machine {
  os: string;
  kernel: string;
  cpu: string;
  nproc: number;
  memGiB: number;
  node: string;
  python: string;
  flamepy: string;
  pyarrow: string;
  grpcio: string;
}

function osName(): string {
  try {
    return /^PRETTY_NAME="?([^"\n]+)"?/m.exec(fs.readFileSync('/etc/os-release', 'utf8'))?.[1] ?? os.type();
  } catch {
    return os.type();
  }
}

function cpuModel(): string {
  try {
    return /^model name\s*:\s*(.+)$/m.exec(fs.readFileSync('/proc/cpuinfo', 'utf8'))?.[1]?.trim() ?? os.cpus()[0]?.model ?? 'unknown';
  } catch {
    return os.cpus()[0]?.model ?? 'unknown';
  }
}

export function describeMachine(python: string): Machine {
  const py = JSON.parse(
    execFileSync(python, ['-c', 'import sys,json,importlib.metadata as m; print(json.dumps([sys.version.split()[0]]+[m.version(p) for p in ("flamepy","pyarrow","grpcio")]))'], { encoding: 'utf8' }),
  ) as string[];
  let nproc = os.availableParallelism?.() ?? os.cpus().length;
  try {
    nproc = Number(execFileSync('nproc', { encoding: 'utf8' }).trim()) || nproc;
  } catch {
    // nproc is coreutils; os.availableParallelism() is the same figure where it is missing.
  }
  return {
    os: osName(),
    kernel: `${os.type()} ${os.release()} ${os.arch()}`,
    cpu: cpuModel(),
    nproc,
    memGiB: os.totalmem() / 1024 ** 3,
    node: process.version,
    python: py[0] ?? '?',
    flamepy: py[1] ?? '?',
    pyarrow: py[2] ?? '?',
    grpcio: py[3] ?? '?',
  };
}

export function loadAverage(): number[] {
  return os.loadavg().map((x) => Math.round(x * 100) / 100);
}
