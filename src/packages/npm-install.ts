/**
 * Production dependencies of a package root, installed with npm when they are
 * declared and `node_modules` is missing (docs/protocol.md §6). `npm ci` with a lockfile,
 * `npm install` otherwise; `--install-links` so that `file:` dependencies are
 * copied in rather than linked to a directory outside the tree; scripts off
 * unless allowed (see PackageOptions.allowInstallScripts).
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { describeThrown, invalidInput, limitExceeded } from '../errors';
import type { Logger } from '../log';

export interface NpmOptions {
  npmCommand: string;
  installTimeoutMs: number;
  allowInstallScripts: boolean;
  logger: Logger;
}

const TAIL_LINES = 15;

/** Reads `package.json` of a package root; errors name the file as `shownAs` (default its path). */
export async function readManifest(root: string, where: string, shownAs?: string): Promise<Record<string, unknown>> {
  const file = path.join(root, 'package.json');
  const shown = shownAs ?? file;
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch {
    throw invalidInput(`${where}: the package has no package.json (looked for ${shown})`);
  }
  try {
    const json: unknown = JSON.parse(text);
    if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new Error('not an object');
    return json as Record<string, unknown>;
  } catch (err) {
    throw invalidInput(`${where}: ${shown} is not valid JSON (${describeThrown(err)})`, err);
  }
}

export function declaresProductionDeps(manifest: Record<string, unknown>): boolean {
  return ['dependencies', 'optionalDependencies'].some((k) => {
    const v = manifest[k];
    return typeof v === 'object' && v !== null && Object.keys(v).length > 0;
  });
}

/** Returns whether npm ran. */
export async function installDependencies(root: string, manifest: Record<string, unknown>, o: NpmOptions, where: string): Promise<boolean> {
  if (!declaresProductionDeps(manifest)) return false;
  if (await exists(path.join(root, 'node_modules'))) return false;
  const lock = (await exists(path.join(root, 'package-lock.json'))) || (await exists(path.join(root, 'npm-shrinkwrap.json')));
  const args = [lock ? 'ci' : 'install', '--omit=dev', '--install-links', '--no-audit', '--no-fund', '--no-update-notifier'];
  if (!o.allowInstallScripts) args.push('--ignore-scripts');
  const step = `npm ${args.join(' ')}`;
  o.logger.info({ root, step }, 'installing production dependencies');
  await run(o.npmCommand, args, root, o, `${where}: ${step}`);
  return true;
}

function run(cmd: string, args: string[], cwd: string, o: NpmOptions, what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    // Own process group, so that a deadline ends npm and everything it started.
    const child = spawn(cmd, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'], detached: true, env: { ...process.env, npm_config_loglevel: 'warn' } });
    const tail: string[] = [];
    const onLines = (stream: 'stdout' | 'stderr') => (buf: Buffer): void => {
      for (const line of buf.toString('utf8').split('\n')) {
        if (!line.trim()) continue;
        o.logger.info({ npm: stream }, line);
        if (stream === 'stderr') {
          tail.push(line);
          if (tail.length > TAIL_LINES) tail.shift();
        }
      }
    };
    child.stdout.on('data', onLines('stdout'));
    child.stderr.on('data', onLines('stderr'));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      try { process.kill(-child.pid!, 'SIGKILL'); } catch { child.kill('SIGKILL'); }
    }, o.installTimeoutMs);
    timer.unref();
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(invalidInput(`${what} could not start: ${err.message}`, err));
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (timedOut) reject(limitExceeded(`${what} took longer than ${o.installTimeoutMs} ms (limit installTimeoutMs)`));
      else if (code === 0) resolve();
      else reject(invalidInput(`${what} failed (${code !== null ? `exit code ${code}` : `signal ${String(signal)}`})${tail.length ? `:\n${tail.join('\n')}` : ''}`));
    });
  });
}

async function exists(p: string): Promise<boolean> {
  return fs.lstat(p).then(() => true, () => false);
}
