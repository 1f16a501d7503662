/**
 * The loader runs in worker threads (native import() of user modules), so it
 * is exercised here from a real worker running the built dist/ code.
 */
import path from 'node:path';
import { Worker } from 'node:worker_threads';

const DIST = path.resolve(__dirname, '../../dist/runner');
const APP = path.resolve(__dirname, '../fixtures/runner-app');

interface LoadResult {
  ok: boolean;
  kind?: string;
  label?: string;
  call?: unknown;
  code?: string;
  message?: string;
}

/** Loads `module`/`exportPath` from the fixture app in a fresh worker and calls `method` with `args`. */
function loadInWorker(spec: { module?: string; exportPath?: string; initArgs?: unknown[]; method?: string | null; args?: unknown[] }): Promise<LoadResult> {
  const code = `
    const { parentPort, workerData: d } = require('node:worker_threads');
    const { installModuleAlias } = require(d.dist + '/module-alias.js');
    const { loadTarget, instantiate } = require(d.dist + '/loader.js');
    const { bindMethod } = require(d.dist + '/invoke.js');
    installModuleAlias();
    (async () => {
      try {
        const t = await loadTarget({ root: d.root, module: d.module, exportPath: d.exportPath });
        const obj = instantiate(t, d.initArgs, d.root);
        let call;
        if (d.method !== undefined) call = await bindMethod(obj, t.kind, d.method, t.label).call(d.args || []);
        parentPort.postMessage({ ok: true, kind: t.kind, label: t.label, call });
      } catch (e) {
        parentPort.postMessage({ ok: false, code: e.code, message: e.message });
      }
    })();`;
  return new Promise((resolve, reject) => {
    const w = new Worker(code, { eval: true, workerData: { dist: DIST, root: APP, ...spec } });
    w.once('message', (m: LoadResult) => {
      resolve(m);
      void w.terminate();
    });
    w.once('error', reject);
  });
}

describe('loader (in a worker thread)', () => {
  it('loads the package main export (CommonJS function)', async () => {
    expect(await loadInWorker({ method: null, args: [2, 3] })).toMatchObject({ ok: true, kind: 'function', call: 5, label: 'index.js default export' });
  });

  it('instantiates a class with init_args', async () => {
    expect(await loadInWorker({ module: 'calc', initArgs: [10], method: 'add', args: [1, 2] })).toMatchObject({ kind: 'class', call: 13 });
  });

  it('loads ES modules ("type": "module" and .mjs), their default and named exports', async () => {
    expect(await loadInWorker({ module: 'esm/index.js', initArgs: ['yo'], method: 'greet', args: ['ann'] })).toMatchObject({
      kind: 'class',
      call: 'yo ann (task undefined)',
    });
    expect(await loadInWorker({ module: 'esm/tools.mjs', method: 'double', args: [4] })).toMatchObject({ kind: 'object', call: 8 });
  });

  it('follows dotted export paths, into CommonJS exports too', async () => {
    expect(await loadInWorker({ module: 'esm', exportPath: 'handlers.math.add', method: null, args: [1, 2] })).toMatchObject({ kind: 'function', call: 3 });
    expect(await loadInWorker({ module: 'complex', exportPath: 'sumArray', method: null, args: [[1, 2, 3]] })).toMatchObject({ call: 6 });
    expect(await loadInWorker({ module: 'esm', exportPath: 'handlers..add' })).toMatchObject({ ok: false, code: 'INVALID_INPUT', message: expect.stringContaining('not a valid export path') });
  });

  it('makes require("flmrun-js") work for a package that does not depend on it', async () => {
    expect(await loadInWorker({ module: 'faulty', method: 'ok' })).toMatchObject({ ok: true, call: 'ok' });
  });

  it('classifies load errors', async () => {
    const cases: [Parameters<typeof loadInWorker>[0], RegExp][] = [
      [{ module: 'nope/missing.js' }, /^module not found: 'nope\/missing.js'/],
      [{ module: 'broken/syntax.js' }, /^syntax error in broken\/syntax.js:\d+: Unexpected/],
      [{ module: 'broken/throws.js' }, /^module broken\/throws.js threw while loading: Error: cannot start: missing config\n {4}at init \(broken\/throws.js:2:9\)/],
      [{ module: 'broken/missing-dep.js' }, /^module not found while loading broken\/missing-dep.js: Cannot find module 'definitely-not-installed-pkg'/],
      [{ module: 'broken/number.js' }, /^broken\/number.js default export is a number, not a function, class or object$/],
      [{ module: 'esm/tools.mjs', exportPath: 'triple' }, /^export 'triple' not found: esm\/tools.mjs has no 'triple' \(it has: double, notAFunction\)$/],
      [{ module: 'esm/tools.mjs', exportPath: 'notAFunction' }, /^esm\/tools.mjs export 'notAFunction' is a number, not a function, class or object$/],
      [{ module: 'arrow', initArgs: [1] }, /^init_args given, but arrow.js default export is a function, not a class$/],
    ];
    for (const [spec, message] of cases) {
      const r = await loadInWorker(spec);
      expect(r).toMatchObject({ ok: false, code: 'INVALID_INPUT' });
      expect(r.message).toMatch(message);
    }
  });

  it('uses a nested plain object as the execution object', async () => {
    const r = await loadInWorker({ module: 'esm', exportPath: 'handlers.math', method: 'add', args: [1, 1] });
    expect(r).toMatchObject({ ok: true, kind: 'object', call: 2 });
  });

  it('reports a constructor that throws as a user error with its frames', async () => {
    const r = await loadInWorker({ module: 'broken/ctor-throws.js', initArgs: ['x'] });
    expect(r).toMatchObject({ ok: false, code: 'USER_ERROR' });
    expect(r.message).toMatch(/^constructor of broken\/ctor-throws.js default export threw: TypeError: limit must be a number, got string\n {4}at new Picky \(broken\/ctor-throws.js:3:/);
  });
});
