/**
 * Runs the built loader (dist/) in a fresh Node process on a package written
 * by the test, so each case gets real module loading, Node's hooks thread
 * and its stderr, under whichever Node runs jest.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { makeTempDir } from '../helpers/tmp';

export const DIST = path.resolve(__dirname, '../../dist');

export interface Call {
  method: string | null;
  args?: unknown[];
}

export interface LoadOutcome {
  ok: boolean;
  kind?: string;
  label?: string;
  results?: { ok: boolean; value?: unknown; message?: string }[];
  code?: string;
  message?: string;
  stderr: string;
}

export function writePackage(files: Record<string, string>, dir = makeTempDir('flmrun-ts-')): string {
  for (const [name, text] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    fs.writeFileSync(path.join(dir, name), text);
  }
  return dir;
}

const SCRIPT = `
const d = JSON.parse(process.argv[1]);
const { installModuleAlias } = require(d.dist + '/runner/module-alias.js');
const { loadTarget, instantiate } = require(d.dist + '/runner/loader.js');
const { bindMethod } = require(d.dist + '/runner/invoke.js');
const { describeUserError } = require(d.dist + '/runner/user-stack.js');
installModuleAlias();
(async () => {
  let out;
  try {
    const t = await loadTarget({ root: d.root, workDir: d.workDir, module: d.module, exportPath: d.exportPath, typescriptCacheDir: d.cacheDir });
    const obj = instantiate(t, d.initArgs, d.root);
    const results = [];
    for (const c of d.calls) {
      try {
        const value = await bindMethod(obj, t.kind, c.method, t.label).call(c.args || []);
        results.push({ ok: true, value });
      } catch (e) {
        results.push({ ok: false, message: e && e.code === 'INVALID_INPUT' ? e.message : describeUserError(e, d.root) });
      }
    }
    out = { ok: true, kind: t.kind, label: t.label, results };
  } catch (e) {
    out = { ok: false, code: e.code, message: e.message };
  }
  process.stdout.write(JSON.stringify(out));
})();`;

export function loadPackage(
  root: string,
  spec: { module?: string; exportPath?: string; initArgs?: unknown[]; calls?: Call[]; cacheDir?: string; workDir?: string } = {},
): Promise<LoadOutcome> {
  const data = JSON.stringify({ dist: DIST, root, calls: [], ...spec });
  return new Promise((resolve, reject) => {
    execFile(process.execPath, ['-e', SCRIPT, data], { cwd: root }, (err, stdout, stderr) => {
      if (err && !stdout) return reject(new Error(`loader process failed: ${stderr}`));
      try {
        resolve({ ...(JSON.parse(stdout) as Omit<LoadOutcome, 'stderr'>), stderr });
      } catch {
        reject(new Error(`loader process printed no result: ${stdout} ${stderr}`));
      }
    });
  });
}
