/**
 * `npm start`'s demo (issue 12, point 7) runs the TypeScript example package
 * examples/hello-ts end to end through a live `flmrun-js serve --demo`.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';

const CLI = path.resolve(__dirname, '../../dist/cli.js');

it('serve --demo runs examples/hello-ts and prints its results', async () => {
  const child = spawn(process.execPath, [CLI, 'serve', '--demo', '--log-level', 'warn'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  try {
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        if (out.includes('keeps serving')) resolve();
      });
      child.once('exit', (code) => reject(new Error(`serve --demo exited (${code}) before finishing: ${out}\n${err}`)));
    });
  } finally {
    child.kill('SIGTERM');
  }
  expect(out).toContain('examples/hello-ts');
  expect(out).toMatch(/greet\('Flame', \{ excited: true \}\)\s+-> 'Hello, Flame!'/);
  expect(out).toMatch(/combine\(\[ 1, 2, 3 \], \{ mode: 'product', times: 2 \}\) -> 12/);
  expect(out).toMatch(/stamp\(\)\s+-> \{ total: 12, at: \d{4}-\d\d-\d\dT/);
  expect(out).toMatch(/increment\(5\)\s+-> 16/);
  expect(err).not.toContain('MODULE_TYPELESS_PACKAGE_JSON');
});
