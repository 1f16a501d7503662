/**
 * `flmrun-js upload <dir|archive>`: ships a package into the object cache and
 * prints the URL to register as the application's `url` (docs/protocol.md §1: the url
 * belongs to the application). The JavaScript counterpart of how flamepy's
 * Runner ships a working directory: the archive goes to the key
 * `<app>/pkg/<file>` in 1 MiB chunks (the cache client's upload), and
 * flmrun-js fetches it from `grpc://host:port/<app>/pkg/<file>` at session enter.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import * as tar from 'tar';
import { CacheClient } from '../cache/client';
import { describeThrown, invalidInput } from '../errors';
import { detectKind } from '../packages/archive-kind';

/** Left out of a packed directory: VCS data, and installed dependencies (flmrun-js installs them from package.json). */
const SKIPPED = new Set(['.git', 'node_modules']);

export async function runUpload(argv: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    strict: true,
    allowPositionals: true,
    options: {
      app: { type: 'string' },
      cache: { type: 'string' },
      'ca-file': { type: 'string' },
      'with-node-modules': { type: 'boolean' },
    },
  });
  if (positionals.length !== 1) throw invalidInput('usage: flmrun-js upload <dir|archive> [--app NAME] [--cache grpc://host:port]');
  const source = path.resolve(positionals[0]!);
  const endpoint = values.cache ?? env.FLAME_CACHE_ENDPOINT;
  if (!endpoint) throw invalidInput('no object cache: pass --cache grpc://host:port or set FLAME_CACHE_ENDPOINT');
  let st: fs.Stats;
  try {
    st = fs.statSync(source);
  } catch (err) {
    throw invalidInput(`cannot read ${source}: ${describeThrown(err)}`);
  }
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'flmrun-upload-'));
  try {
    let file: string;
    let app = values.app;
    if (st.isDirectory()) {
      app ??= appNameOf(source);
      file = path.join(tmp, `${app}.tar.gz`);
      await packDirectory(source, file, values['with-node-modules'] === true);
    } else {
      // An archive as it is; refused here already when flmrun-js could not unpack it.
      await detectKind(source, path.basename(source), source);
      app ??= appNameOf(source);
      file = source;
    }
    const key = `${app}/pkg/${path.basename(file)}`;
    const client = new CacheClient({ endpoint, caFile: values['ca-file'] ?? env.FLAME_CA_FILE });
    try {
      const ref = await client.upload(key, file);
      const url = `${ref.endpoint}/${ref.key.split('/').map(encodeURIComponent).join('/')}`;
      process.stdout.write(`${url}\n`);
      process.stderr.write(`uploaded ${fs.statSync(file).size} bytes; register the application with\n  url: ${url}\n`);
    } finally {
      client.close();
    }
    return 0;
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

/** The application name: --app, else the package.json name, else the file or directory name, as a cache key part. */
function appNameOf(source: string): string {
  let name: string | undefined;
  try {
    const manifest = JSON.parse(fs.readFileSync(path.join(source, 'package.json'), 'utf8')) as { name?: unknown };
    if (typeof manifest.name === 'string') name = manifest.name;
  } catch {
    // not a directory with a package.json
  }
  name ??= path.basename(source).split('.')[0];
  const safe = (name ?? '').replace(/^@/, '').replace(/[^A-Za-z0-9_-]/g, '-');
  if (!safe) throw invalidInput(`cannot derive an application name from ${source}: pass --app NAME`);
  return safe;
}

/** A gzip tar with the directory's contents under `package/` (the layout of `npm pack`). */
async function packDirectory(dir: string, dest: string, withNodeModules: boolean): Promise<void> {
  if (!fs.existsSync(path.join(dir, 'package.json'))) throw invalidInput(`${dir} has no package.json: it is not a package`);
  const entries = fs.readdirSync(dir).filter((n) => withNodeModules || !SKIPPED.has(n)).filter((n) => n !== '.git');
  const staging = path.join(path.dirname(dest), 'package');
  // A symlink named `package` to the directory packs its contents under `package/` without copying them.
  fs.symlinkSync(dir, staging, 'dir');
  await tar.c({ gzip: true, cwd: path.dirname(dest), file: dest, portable: true, follow: false }, entries.map((n) => `package/${n}`));
}
