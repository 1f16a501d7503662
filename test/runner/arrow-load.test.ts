/**
 * apache-arrow is loaded in part at start (the IPC metadata, schema and enums
 * the object cache needs), whole only when a session meets an Arrow value,
 * or right after the enter of a package that depends on it. The deep paths
 * must be the very modules the package's root re-exports, or classes and
 * enums would differ between the two.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import * as root from 'apache-arrow';
import { tableFromArrays, tableToIPC } from 'apache-arrow';
import { isArrowTabular } from '../../src/codecs/arrow-values';
import { startTestInstance, type TestInstance } from '../helpers/instance';
import { makeTempDir, removeDir } from '../helpers/tmp';

const REPO = path.join(__dirname, '..', '..');
const SUCRASE = require.resolve('sucrase/register/ts');
const ROOT_FILE = /apache-arrow[\\/]Arrow(\.node|\.dom)?\.js$/;

/** Runs `body` in a fresh Node process from source (as the session process's modules load) and returns its stdout. */
function fresh(body: string): string {
  return execFileSync(process.execPath, ['-r', SUCRASE, '-e', body], { cwd: REPO, encoding: 'utf8', timeout: 60_000 });
}

const loadedReport =
  "const loaded = Object.keys(require.cache).filter((f) => f.includes('apache-arrow'));\n" +
  `const report = () => JSON.stringify({ root: loaded.some((f) => ${ROOT_FILE.toString()}.test(f)), table: loaded.some((f) => /apache-arrow[\\\\/]table\\.js$/.test(f)), some: loaded.length > 0 });\n`;

describe('at start', () => {
  it('the session runtime and the cache server load the metadata only, not the whole library', () => {
    const out = fresh(
      "require('./src/runner/deps'); require('./src/codecs'); require('./src/cache/server/cache-server');\n" +
        loadedReport + 'process.stdout.write(report());',
    );
    expect(JSON.parse(out)).toEqual({ root: false, table: false, some: true });
  });

  it('the whole library is loaded when an Arrow value is met', () => {
    const ipc = Buffer.from(tableToIPC(tableFromArrays({ a: Int32Array.from([7]) }), 'stream')).toString('base64');
    const out = fresh(
      "const { decodeValue } = require('./src/codecs/values');\n" +
        `const t = decodeValue({ kind: 'arrow', version: 4, ipc: Buffer.from('${ipc}', 'base64') });\n` +
        loadedReport + "process.stdout.write(JSON.stringify({ value: t.getChild('a').get(0), loaded: JSON.parse(report()) }));",
    );
    expect(JSON.parse(out)).toEqual({ value: 7, loaded: { root: true, table: true, some: true } });
  });
});

it('the deep paths are the modules the root re-exports (same classes and enums)', () => {
  /* eslint-disable @typescript-eslint/no-require-imports -- the deep paths themselves, as src imports them */
  const deep: Array<[string, Record<string, unknown>]> = [
    ['apache-arrow/schema', require('apache-arrow/schema') as Record<string, unknown>],
    ['apache-arrow/enum', require('apache-arrow/enum') as Record<string, unknown>],
    ['apache-arrow/type', require('apache-arrow/type') as Record<string, unknown>],
    ['apache-arrow/fb/message-header', require('apache-arrow/fb/message-header') as Record<string, unknown>],
    ['apache-arrow/fb/compression-type', require('apache-arrow/fb/compression-type') as Record<string, unknown>],
    ['apache-arrow/ipc/metadata/message', require('apache-arrow/ipc/metadata/message') as Record<string, unknown>],
  ];
  /* eslint-enable @typescript-eslint/no-require-imports */
  const names: Record<string, string[]> = {
    'apache-arrow/schema': ['Schema', 'Field'],
    'apache-arrow/enum': ['Type', 'MetadataVersion'],
    'apache-arrow/type': ['Binary', 'LargeBinary', 'LargeUtf8', 'Utf8', 'Uint64', 'DataType'],
    'apache-arrow/fb/message-header': ['MessageHeader'],
    'apache-arrow/fb/compression-type': ['CompressionType'],
    'apache-arrow/ipc/metadata/message': ['Message'],
  };
  const rootExports = root as unknown as Record<string, unknown>;
  for (const [where, mod] of deep) {
    for (const name of names[where]!) {
      expect(mod[name]).toBeDefined();
      expect({ where, name, same: mod[name] === rootExports[name] }).toEqual({ where, name, same: true });
    }
  }
});

it('tells Tables and RecordBatches by the marks apache-arrow puts on them, whichever copy made them', () => {
  const t = tableFromArrays({ a: Int32Array.from([1, 2]) });
  expect(isArrowTabular(t)).toBe(true);
  expect(isArrowTabular(t.batches[0])).toBe(true);
  // What another copy of the library makes: only the global marks are shared (as its own instanceof accepts).
  expect(isArrowTabular({ [Symbol.for('apache-arrow/Table')]: true })).toBe(true);
  for (const v of [null, undefined, 0, 'Table', {}, [], { schema: {}, batches: [] }, { [Symbol.for('apache-arrow/Table')]: 'yes' }, Symbol.for('apache-arrow/Table')]) {
    expect(isArrowTabular(v)).toBe(false);
  }
});

describe('in a session process', () => {
  let t: TestInstance;
  let base: string;
  beforeAll(async () => {
    t = await startTestInstance();
    base = makeTempDir('flmrun-arrow-load-');
  });
  afterAll(async () => {
    await t.close();
    removeDir(base);
  });

  /** A package whose `loaded()` says whether the runner's whole apache-arrow is loaded in its session process. */
  function pkg(name: string, manifest: Record<string, unknown>): string {
    const dir = path.join(base, name);
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name, main: 'index.js', ...manifest }));
    fs.writeFileSync(
      path.join(dir, 'index.js'),
      `exports.loaded = () => Object.keys(require.cache).some((f) => ${ROOT_FILE.toString()}.test(f));\n`,
    );
    return `file://${dir}`;
  }

  async function loadedAfterEnter(url: string, session: string): Promise<boolean> {
    const entered = await t.client.enter({ session_id: session, application: { name: 'arrow-load', url } });
    expect(entered.return_code).toBe(0);
    // The preload runs right after the enter's answer: ask until it shows, for a while (never on time alone).
    let loaded = false;
    for (let i = 0; i < 50 && !loaded; i++) {
      loaded = (await t.valueOf(await t.client.invoke({ task_id: `${i}`, session_id: session, input: t.request('loaded') }))) === true;
      if (!loaded) await new Promise((r) => setTimeout(r, 100));
    }
    await t.client.leave();
    return loaded;
  }

  it('loads it right after the enter when the package depends on apache-arrow, and not otherwise', async () => {
    expect(await loadedAfterEnter(pkg('with-arrow', { devDependencies: { 'apache-arrow': '*' } }), 'with')).toBe(true);
    const without = pkg('without-arrow', {});
    const entered = await t.client.enter({ session_id: 'without', application: { name: 'arrow-load', url: without } });
    expect(entered.return_code).toBe(0);
    for (let i = 0; i < 3; i++) {
      expect(await t.valueOf(await t.client.invoke({ task_id: `w${i}`, session_id: 'without', input: t.request('loaded') }))).toBe(false);
    }
    await t.client.leave();
  });
});
