/** The Python of the test-owned virtual environment (scripts/test-venv.sh). */
import { execFileSync } from 'node:child_process';
import path from 'node:path';

let cached: string | undefined;

export function testPython(): string {
  if (process.env.FLMRUN_TEST_PYTHON) return process.env.FLMRUN_TEST_PYTHON;
  if (!cached) {
    const script = path.join(__dirname, '..', '..', 'scripts', 'test-venv.sh');
    cached = execFileSync('bash', [script], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).trim();
  }
  return cached;
}

/** Runs a Python snippet in the test venv; returns stdout. Input goes to stdin. */
export function runPython(code: string, input?: Uint8Array, env?: NodeJS.ProcessEnv): Buffer {
  return execFileSync(testPython(), ['-c', code], {
    input,
    env: { ...process.env, ...env },
    maxBuffer: 1 << 30,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
}
