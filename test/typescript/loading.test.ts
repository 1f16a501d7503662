/**
 * TypeScript packages run as written (issue 12, point 1 and 2): every case
 * is real TypeScript compiled when the package loads, in a fresh Node process.
 */
import fs from 'node:fs';
import path from 'node:path';
import { removeDir } from '../helpers/tmp';
import { loadPackage, writePackage } from './load-helper';

const dirs: string[] = [];
afterAll(() => dirs.forEach(removeDir));
function pkg(files: Record<string, string>): string {
  const dir = writePackage(files);
  dirs.push(dir);
  return dir;
}

const UTIL = `
export enum Color { Red = 'red', Green = 'green' }
export enum Level { Low, High }
export namespace Geo { export const origin = 100; export function shift(n: number) { return n + origin; } }
export function twice(n: number): number { return n * 2; }
export type Pair = [number, number];
`;

const ACC = `
import { Color, Geo, Level, twice, type Pair } from './util';
import { twice as viaJs } from './util.js';
import * as helpers from './helpers';

export default class Acc {
  constructor(private total: number, public readonly name: string = 'acc') {}
  add(n: number, opts?: { times?: number }): number { this.total += twice(n) * (opts?.times ?? 1); return this.total; }
  async later(pair: Pair): Promise<string> { await new Promise((r) => setTimeout(r, 1)); return Color.Green + (pair[0] + pair[1]); }
  facts(): unknown[] { return [Level.High, Geo.shift(1), viaJs(2), helpers.three(), this.name]; }
}
`;

describe.each([
  ['an ES module package ("type": "module")', { name: 't', type: 'module', main: 'src/index.ts' }],
  ['a CommonJS package ("type": "commonjs")', { name: 't', type: 'commonjs', main: 'src/index.ts' }],
  ['a package without "type" (format from syntax)', { name: 't', main: 'src/index.ts' }],
])('%s', (_what, packageJson) => {
  let root: string;
  beforeAll(() => {
    root = pkg({
      'package.json': JSON.stringify(packageJson),
      'src/util.ts': UTIL,
      'src/helpers/index.ts': 'export const three = (): number => 3;\n',
      'src/index.ts': ACC,
    });
  });

  it('runs enums, namespaces, parameter properties, extensionless and ./x.js imports of .ts files', async () => {
    const r = await loadPackage(root, {
      initArgs: [10],
      calls: [
        { method: 'add', args: [1, { times: 3 }] },
        { method: 'later', args: [[1, 2]] },
        { method: 'facts' },
      ],
    });
    expect(r).toMatchObject({ ok: true, kind: 'class', label: 'src/index.ts default export' });
    expect(r.results).toEqual([
      { ok: true, value: 16 },
      { ok: true, value: 'green3' },
      { ok: true, value: [1, 101, 4, 3, 'acc'] },
    ]);
    expect(r.stderr).toBe('');
  });
});

describe('TypeScript features that depend on tsconfig.json', () => {
  it('compiles experimentalDecorators (with emitDecoratorMetadata) as tsc does', async () => {
    const root = pkg({
      'package.json': JSON.stringify({ name: 'd', main: 'index.ts' }),
      'tsconfig.json': '{\n  // comments are allowed, as tsc allows them\n  "compilerOptions": { "experimentalDecorators": true, "emitDecoratorMetadata": true }\n}\n',
      'index.ts': `
const seen: string[] = [];
function track(target: object, key: string, d: PropertyDescriptor): void {
  const types = (Reflect as unknown as { getMetadata?: unknown }).getMetadata ? 'meta' : 'plain';
  seen.push(key + ':' + types);
  const f = d.value as (...a: unknown[]) => number;
  d.value = function (this: unknown, ...a: unknown[]) { return f.apply(this, a) * 10; };
}
function sealed(ctor: Function): void { Object.seal(ctor.prototype); seen.push('sealed ' + ctor.name); }
@sealed
export class Svc {
  @track double(n: number): number { return n * 2; }
  seen(): string[] { return seen; }
}
`,
    });
    const r = await loadPackage(root, { exportPath: 'Svc', calls: [{ method: 'double', args: [2] }, { method: 'seen' }] });
    expect(r.results).toEqual([
      { ok: true, value: 40 },
      { ok: true, value: ['double:plain', 'sealed Svc'] },
    ]);
  });

  it('compiles TC39 decorators when experimentalDecorators is off', async () => {
    const root = pkg({
      'package.json': JSON.stringify({ name: 'd', type: 'module', main: 'index.ts' }),
      'index.ts': `
function plusOne<T extends (...a: number[]) => number>(fn: T, ctx: ClassMethodDecoratorContext): T {
  return function (this: unknown, ...a: number[]) { return fn.apply(this, a) + 1; } as T;
}
export class K { @plusOne inc(n: number): number { return n; } }
`,
    });
    const r = await loadPackage(root, { exportPath: 'K', calls: [{ method: 'inc', args: [1] }] });
    expect(r.results).toEqual([{ ok: true, value: 2 }]);
  });

  it('follows tsconfig paths used as relative aliases, from ES modules and CommonJS', async () => {
    for (const type of ['module', 'commonjs']) {
      const root = pkg({
        'package.json': JSON.stringify({ name: 'p', type, main: 'src/main.ts' }),
        'tsconfig.json': JSON.stringify({ compilerOptions: { baseUrl: '.', paths: { '@lib/*': ['src/lib/*'] } } }),
        'src/lib/math.ts': 'export const add = (a: number, b: number): number => a + b;\n',
        'src/main.ts': "import { add } from '@lib/math';\nexport function sum(a: number, b: number): number { return add(a, b); }\n",
      });
      const r = await loadPackage(root, { calls: [{ method: 'sum', args: [2, 3] }] });
      expect(r.results).toEqual([{ ok: true, value: 5 }]);
    }
  });
});

describe('.mts and .cts', () => {
  it('loads an .mts entry importing a .cts module (export = and import = require)', async () => {
    const root = pkg({
      'package.json': JSON.stringify({ name: 'm' }),
      'lib/legacy.cts': 'const base: number = 40;\nexport = { plus: (n: number): number => n + base };\n',
      'lib/req.cts': "import legacy = require('./legacy.cjs');\nexport const plus2 = (n: number): number => legacy.plus(n) + 2;\n",
      'main.mts': "import legacy from './lib/legacy.cjs';\nimport req from './lib/req.cjs';\nexport function run(n: number): number[] { return [legacy.plus(n), req.plus2(n)]; }\n",
    });
    const r = await loadPackage(root, { module: 'main.mts', calls: [{ method: 'run', args: [2] }] });
    expect(r).toMatchObject({ ok: true, kind: 'object', label: 'main.mts' });
    expect(r.results).toEqual([{ ok: true, value: [42, 44] }]);
  });

  it('finds index.ts as a package entry and resolves a context module named without extension', async () => {
    const root = pkg({
      'package.json': JSON.stringify({ name: 'i' }),
      'index.ts': 'export default (a: number): number => a + 1;\n',
      'jobs/work.cts': 'export function job(): string { return "cts"; }\n',
    });
    expect((await loadPackage(root, { calls: [{ method: null, args: [1] }] })).results).toEqual([{ ok: true, value: 2 }]);
    expect((await loadPackage(root, { module: 'jobs/work', calls: [{ method: 'job' }] })).results).toEqual([{ ok: true, value: 'cts' }]);
  });
});

describe('errors point at the TypeScript source', () => {
  const SOURCE = [
    "import { check } from './check';", // 1
    'export class Job {', // 2
    '  run(n: number): number {', // 3
    '    return check(n);', // 4
    '  }', // 5
    '}', // 6
  ].join('\n');
  const CHECK = [
    'interface Limits { max: number }', // 1
    'const limits: Limits = { max: 5 };', // 2
    'export function check(n: number): number {', // 3
    '  if (n > limits.max) throw new RangeError(`too big: ${n}`);', // 4
    '  return n;', // 5
    '}', // 6
  ].join('\n');

  it.each(['module', 'commonjs'])('maps task stack frames to .ts lines and columns (%s)', async (type) => {
    const root = pkg({ 'package.json': JSON.stringify({ name: 'e', type }), 'job.ts': SOURCE, 'check.ts': CHECK });
    const r = await loadPackage(root, { module: 'job.ts', exportPath: 'Job', calls: [{ method: 'run', args: [9] }] });
    const message = r.results?.[0]?.message ?? '';
    expect(message).toMatch(/^RangeError: too big: 9\n/);
    expect(message).toContain('check.ts:4:29');
    expect(message).toMatch(/job\.ts:4:\d+/);
  });

  it('maps an error thrown while the module loads', async () => {
    const root = pkg({
      'package.json': JSON.stringify({ name: 'e' }),
      'index.ts': "type N = number;\nconst n: N = 1;\n\nthrow new Error('no config ' + n);\n",
    });
    const r = await loadPackage(root);
    expect(r).toMatchObject({ ok: false, code: 'INVALID_INPUT' });
    expect(r.message).toContain('module index.ts threw while loading: Error: no config 1');
    expect(r.message).toContain('index.ts:4:7');
  });

  it.each([
    ['module', 'index.ts'],
    ['commonjs', 'index.ts'],
    ['module', 'lib/broken.ts'],
  ])('names the .ts file, line and column of a syntax error (%s, %s)', async (type, file) => {
    const root = pkg({
      'package.json': JSON.stringify({ name: 's', type }),
      'index.ts': file === 'index.ts' ? 'export const a = 1;\nexport function f(x: number) {\n  return x +;\n}\n' : "export { f } from './lib/broken';\n",
      'lib/broken.ts': 'export function f(x: number) {\n  return x +;\n}\n',
    });
    const r = await loadPackage(root);
    const line = file === 'index.ts' ? 3 : 2;
    expect(r).toMatchObject({ ok: false, code: 'INVALID_INPUT', message: `syntax error in ${file}:${line}:13: Expression expected` });
  });
});

describe('compiled output cache', () => {
  it('reads a warm enter from the cache instead of compiling, keyed by content', async () => {
    const root = pkg({ 'package.json': JSON.stringify({ name: 'c', type: 'module' }), 'index.ts': 'export const v = (): string => "compiled";\n' });
    const cacheDir = path.join(root, 'cache');
    expect((await loadPackage(root, { cacheDir, calls: [{ method: 'v' }] })).results).toEqual([{ ok: true, value: 'compiled' }]);
    const entries = listFiles(cacheDir);
    expect(entries).toHaveLength(1);
    // Proof that the next enter reads the entry: change what it holds.
    const entry = entries[0]!;
    fs.writeFileSync(entry, fs.readFileSync(entry, 'utf8').replace('"compiled"', '"from cache"'));
    expect((await loadPackage(root, { cacheDir, calls: [{ method: 'v' }] })).results).toEqual([{ ok: true, value: 'from cache' }]);
    // Changed source, new key: compiled again.
    fs.writeFileSync(path.join(root, 'index.ts'), 'export const v = (): string => "edited";\n');
    expect((await loadPackage(root, { cacheDir, calls: [{ method: 'v' }] })).results).toEqual([{ ok: true, value: 'edited' }]);
    expect(listFiles(cacheDir)).toHaveLength(2);
  });

  it('is shared safely by processes entering at once, leaving no partial files', async () => {
    const files: Record<string, string> = { 'package.json': JSON.stringify({ name: 'c' }) };
    const imports: string[] = [];
    for (let i = 0; i < 20; i++) {
      files[`m${i}.ts`] = `export const n${i}: number = ${i};\n`;
      imports.push(`import { n${i} } from './m${i}';`);
    }
    files['index.ts'] = `${imports.join('\n')}\nexport const total = (): number => ${Array.from({ length: 20 }, (_, i) => `n${i}`).join(' + ')};\n`;
    const root = pkg(files);
    const cacheDir = path.join(root, 'cache');
    const runs = await Promise.all([1, 2, 3, 4].map(() => loadPackage(root, { cacheDir, calls: [{ method: 'total' }] })));
    for (const r of runs) expect(r.results).toEqual([{ ok: true, value: 190 }]);
    const entries = listFiles(cacheDir);
    expect(entries).toHaveLength(21);
    expect(entries.filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  it('defaults to .flmrun-typescript-cache in the working directory, shared by copies of a package elsewhere', async () => {
    const files = { 'package.json': JSON.stringify({ name: 'c' }), 'index.ts': 'export default (): number => 1;\n' };
    const workDir = pkg({});
    const first = writePackage(files, path.join(workDir, 'extracted_a'));
    const second = writePackage(files, path.join(workDir, 'extracted_b'));
    await loadPackage(first, { workDir });
    const cache = path.join(workDir, '.flmrun-typescript-cache');
    const entries = listFiles(cache);
    expect(entries).toHaveLength(1);
    fs.writeFileSync(entries[0]!, fs.readFileSync(entries[0]!, 'utf8').replace(/=>\s*1/, '=> 2'));
    expect((await loadPackage(second, { workDir, calls: [{ method: null }] })).results).toEqual([{ ok: true, value: 2 }]);
  });
});

describe('log noise and hints', () => {
  it('prints no MODULE_TYPELESS_PACKAGE_JSON warning for ES syntax in a package without "type"', async () => {
    const root = pkg({
      'package.json': JSON.stringify({ name: 'w' }),
      'index.ts': "import { j } from './plain.js';\nexport const both = (): string => j() + 'ts';\n",
      'plain.js': "export const j = () => 'js';\n",
    });
    const r = await loadPackage(root, { calls: [{ method: 'both' }] });
    expect(r.results).toEqual([{ ok: true, value: 'jsts' }]);
    expect(r.stderr).not.toContain('MODULE_TYPELESS_PACKAGE_JSON');
  });

  it('prints no such warning for a JavaScript package either (no TypeScript hooks there)', async () => {
    const root = pkg({
      'package.json': JSON.stringify({ name: 'w' }),
      'index.js': "import { j } from './plain.js';\nexport const both = () => j() + 'js';\n",
      'plain.js': "export const j = () => 'js';\n",
    });
    const r = await loadPackage(root, { calls: [{ method: 'both' }] });
    expect(r.results).toEqual([{ ok: true, value: 'jsjs' }]);
    expect(r.stderr).not.toContain('MODULE_TYPELESS_PACKAGE_JSON');
    expect(fs.existsSync(path.join(root, '.flmrun-typescript-cache'))).toBe(false);
  });

  it('says that build steps are not run when main points at an unbuilt dist/', async () => {
    const root = pkg({
      'package.json': JSON.stringify({ name: 'b', main: 'dist/index.js', scripts: { build: 'tsc' } }),
      'src/index.ts': 'export default (): number => 1;\n',
    });
    const r = await loadPackage(root);
    expect(r).toMatchObject({ ok: false, code: 'INVALID_INPUT' });
    expect(r.message).toContain("names main 'dist/index.js', which does not exist");
    expect(r.message).toContain("the runner does not run build steps");
    expect(r.message).toContain("point main at 'src/index.ts'");
  });
});

function listFiles(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).map((e) => path.join(e.parentPath, e.name));
}
