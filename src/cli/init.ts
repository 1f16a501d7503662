/**
 * `flmrun-js init <dir>`: a TypeScript package that runs under `serve` as
 * written: package.json, tsconfig.json (types of `flmrun-js` from this
 * installation, no registry needed), a stateful class with an async method
 * taking keyword arguments, and a test. examples/hello-ts is its output.
 */
import fs from 'node:fs';
import path from 'node:path';

/** flmrun-js's own root (dist/cli/ -> ..). */
const PACKAGE_ROOT = path.resolve(__dirname, '..', '..');

export function scaffoldFiles(dir: string, name: string): Record<string, string> {
  const rel = (p: string): string => {
    const r = path.relative(path.resolve(dir), path.join(PACKAGE_ROOT, p)).split(path.sep).join('/');
    return r.startsWith('.') ? r : `./${r}`;
  };
  return {
    'package.json': `${JSON.stringify(
      {
        name,
        version: '0.1.0',
        private: true,
        description: 'A TypeScript package for flmrun-js, the Flame runner for Node.js',
        type: 'module',
        main: 'src/index.ts',
        scripts: {
          test: `node --require ${rel('dist/register.js')} --test test/counter.test.ts`,
        },
      },
      null,
      2,
    )}\n`,
    'tsconfig.json': `${JSON.stringify(
      {
        compilerOptions: {
          target: 'ES2022',
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          lib: ['ES2022'],
          strict: true,
          noEmit: true,
          skipLibCheck: true,
          // flmrun-js's own types, from this installation: no npm install needed to type-check.
          paths: { 'flmrun-js': [rel('dist/index.d.ts')] },
        },
        include: ['src'],
      },
      null,
      2,
    )}\n`,
    'src/index.ts': INDEX_TS,
    'test/counter.test.ts': TEST_TS,
    '.gitignore': 'node_modules/\n.flmrun-typescript-cache/\n',
  };
}

const INDEX_TS = `import { currentTask } from 'flmrun-js';

export enum Mode {
  Sum = 'sum',
  Product = 'product',
}

/** Keyword arguments from a Python client arrive as this trailing options object. */
export interface CombineOptions {
  mode?: Mode;
  times?: number;
}

/**
 * The default export is the execution object: with no context export, a
 * session instantiates it with the context's init_args. With
 * "stateful": true, \`total\` persists from task to task.
 */
export default class Counter {
  constructor(public total: number = 0) {}

  increment(by: number = 1): number {
    this.total += by;
    return this.total;
  }

  /** An async method with keyword arguments: combine([1, 2, 3], mode='product', times=2). */
  async combine(values: number[], { mode = Mode.Sum, times = 1 }: CombineOptions = {}): Promise<number> {
    currentTask()?.logger.info({ values, mode }, 'combining');
    await Promise.resolve();
    const result = values.reduce((acc, v) => (mode === Mode.Sum ? acc + v : acc * v), mode === Mode.Sum ? 0 : 1) * times;
    this.total += result;
    return result;
  }

  /** A Date reaches Python as a UTC-aware datetime. */
  stamp(): { total: number; at: Date } {
    return { total: this.total, at: new Date() };
  }
}

/** Named exports are methods too, beside the default export's. */
export function greet(name: string, { excited = false }: { excited?: boolean } = {}): string {
  return \`Hello, \${name}\${excited ? '!' : '.'}\`;
}
`;

const TEST_TS = `import assert from 'node:assert/strict';
import { test } from 'node:test';
import Counter, { greet, Mode } from '../src/index.js';

test('increment keeps a running total', () => {
  const c = new Counter(10);
  assert.equal(c.increment(), 11);
  assert.equal(c.increment(5), 16);
});

test('combine takes keyword arguments as a trailing options object', async () => {
  const c = new Counter();
  assert.equal(await c.combine([1, 2, 3]), 6);
  assert.equal(await c.combine([1, 2, 3], { mode: Mode.Product, times: 2 }), 12);
  assert.equal(c.total, 18);
});

test('greet is a named export', () => {
  assert.equal(greet('Flame', { excited: true }), 'Hello, Flame!');
});
`;

/** Writes the scaffold into `dir` (created; it must be empty or absent). Returns the files written. */
export function runInit(dir: string | undefined, out: NodeJS.WritableStream): number {
  if (!dir) {
    process.stderr.write('flmrun-js init: name the directory to create, e.g. flmrun-js init my-package\n');
    return 2;
  }
  const target = path.resolve(dir);
  if (fs.existsSync(target) && fs.readdirSync(target).length > 0) {
    process.stderr.write(`flmrun-js init: ${target} exists and is not empty; choose a new directory\n`);
    return 2;
  }
  const name = path.basename(target).toLowerCase().replace(/[^a-z0-9._-]+/g, '-').replace(/^[._-]+/, '') || 'flmrun-package';
  const files = scaffoldFiles(target, name);
  for (const [file, text] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(target, file)), { recursive: true });
    fs.writeFileSync(path.join(target, file), text);
  }
  out.write(
    `created ${target}: ${Object.keys(files).join(', ')}\n` +
      `run its test:  cd ${dir} && npm test\n` +
      `serve it:      flmrun-js serve, then a session with the package URL file://${target}\n`,
  );
  return 0;
}
