/**
 * Module interop (issue 12, point 3): __esModule defaults, named exports
 * beside a default export, and the Lambda-style "file.export" handler. The
 * CommonJS cases are real tsc output (transpileModule) of real TypeScript.
 */
import ts from 'typescript';
import { removeDir } from '../helpers/tmp';
import { loadPackage, writePackage } from './load-helper';

const dirs: string[] = [];
afterAll(() => dirs.forEach(removeDir));
function pkg(files: Record<string, string>): string {
  const dir = writePackage(files);
  dirs.push(dir);
  return dir;
}

function tscCommonJs(source: string): string {
  return ts.transpileModule(source, { compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2020 } }).outputText;
}

const ACC = `
export default class Acc {
  constructor(private total: number) {}
  add(n: number): number { return (this.total += n); }
}
export function helper(): string { return 'named'; }
`;

describe('__esModule interop (tsc-compiled CommonJS)', () => {
  let root: string;
  beforeAll(() => {
    root = pkg({ 'package.json': JSON.stringify({ name: 'acc', main: 'dist/index.js' }), 'dist/index.js': tscCommonJs(ACC) });
  });

  it('resolves context export "default" to the class tsc compiled, with init_args', async () => {
    const r = await loadPackage(root, { exportPath: 'default', initArgs: [10], calls: [{ method: 'add', args: [5] }] });
    expect(r).toMatchObject({ ok: true, kind: 'class', label: "dist/index.js export 'default'" });
    expect(r.results).toEqual([{ ok: true, value: 15 }]);
  });

  it('takes the default export with no context export, and reaches the named exports too', async () => {
    const r = await loadPackage(root, { initArgs: [1], calls: [{ method: 'add', args: [1] }, { method: 'helper' }] });
    expect(r).toMatchObject({ ok: true, kind: 'class', label: 'dist/index.js default export' });
    expect(r.results).toEqual([{ ok: true, value: 2 }, { ok: true, value: 'named' }]);
  });

  it('also for the same source compiled by the runner itself (.ts, CommonJS)', async () => {
    const ts = pkg({ 'package.json': JSON.stringify({ name: 'acc', type: 'commonjs' }), 'index.ts': ACC });
    const r = await loadPackage(ts, { exportPath: 'default', initArgs: [10], calls: [{ method: 'add', args: [5] }] });
    expect(r.results).toEqual([{ ok: true, value: 15 }]);
  });
});

describe('named exports beside a default export', () => {
  let root: string;
  beforeAll(() => {
    root = pkg({
      'package.json': JSON.stringify({ name: 'h', type: 'module' }),
      'index.ts': `
export default function handler(x: number): string { return 'handled ' + x; }
export function add(a: number, b: number): number { return a + b; }
export const limit = 3;
`,
      'clash.ts': `
export default { add: (a: number, b: number): number => a + b + 1000 };
export function add(a: number, b: number): number { return a + b; }
`,
    });
  });

  it('calls the default function with method null or its name, and a named export by its name', async () => {
    const r = await loadPackage(root, {
      calls: [{ method: null, args: [1] }, { method: 'handler', args: [2] }, { method: 'add', args: [2, 3] }, { method: 'limit' }, { method: 'nope' }],
    });
    expect(r.results?.slice(0, 3)).toEqual([
      { ok: true, value: 'handled 1' },
      { ok: true, value: 'handled 2' },
      { ok: true, value: 5 },
    ]);
    expect(r.results?.[3]).toEqual({ ok: false, message: "named export 'limit' of index.ts is a number, not a function" });
    expect(r.results?.[4]?.message).toMatch(/^unknown method 'nope': .*add \(named export\)/);
  });

  it('answers a name that is both a named export and a member of the default with a clear message', async () => {
    const r = await loadPackage(root, { module: 'clash.ts', calls: [{ method: 'add', args: [1, 2] }] });
    expect(r.results?.[0]?.ok).toBe(false);
    expect(r.results?.[0]?.message).toMatch(/^ambiguous method 'add': it is both a named export of the module and a member of its clash\.ts default export/);
    const named = await loadPackage(root, { module: 'clash.ts', exportPath: 'add', calls: [{ method: null, args: [1, 2] }] });
    expect(named.results).toEqual([{ ok: true, value: 3 }]);
  });
});

describe('Lambda-style "file.export" in the context module', () => {
  it('loads the export of the file when the module names no file itself', async () => {
    const root = pkg({
      'package.json': JSON.stringify({ name: 'l' }),
      'src/app.ts': 'export const handler = (event: { n: number }): number => event.n * 2;\n',
    });
    const r = await loadPackage(root, { module: 'src/app.handler', calls: [{ method: null, args: [{ n: 4 }] }] });
    expect(r).toMatchObject({ ok: true, kind: 'function', label: "src/app.ts export 'handler'" });
    expect(r.results).toEqual([{ ok: true, value: 8 }]);
  });

  it('still reports the module as not found when neither reading applies', async () => {
    const root = pkg({ 'package.json': JSON.stringify({ name: 'l' }), 'index.ts': 'export const x = 1;\n' });
    const r = await loadPackage(root, { module: 'src/app.handler' });
    expect(r).toMatchObject({ ok: false, code: 'INVALID_INPUT' });
    expect(r.message).toContain("module not found: 'src/app.handler'");
  });
});
