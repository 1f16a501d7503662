/** The bench's Python: $FLMRUN_BENCH_PYTHON, else the venv bench/venv.sh makes (flamepy 0.6.0 and friends, pinned). */
import path from 'node:path';
import { run } from './procs';

export const HELPER = path.join(__dirname, 'py', 'helper.py');

export async function benchPython(): Promise<string> {
  if (process.env.FLMRUN_BENCH_PYTHON) return process.env.FLMRUN_BENCH_PYTHON;
  return (await run('bash', [path.join(__dirname, 'venv.sh')])).trim();
}
