/**
 * `flmrun-js init` (issue 12, point 4): the scaffold type-checks against the
 * shipped types with no registry, its own test passes, and it runs
 * unchanged in a real session worker.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { BSON } from 'bson';
import { runInit, scaffoldFiles } from '../../src/cli/init';
import { SessionSupervisor } from '../../src/runner/supervisor';
import { Harness } from '../runner/harness';
import { makeTempDir, removeDir } from '../helpers/tmp';

const run = promisify(execFile);
const REPO = path.resolve(__dirname, '../..');
const TSC = path.join(REPO, 'node_modules/typescript/bin/tsc');

let parent: string;
let dir: string;
beforeAll(() => {
  parent = makeTempDir('flmrun-init-');
  dir = path.join(parent, 'My Package');
  const out: string[] = [];
  const sink = { write: (s: string) => out.push(s) } as unknown as NodeJS.WritableStream;
  expect(runInit(dir, sink)).toBe(0);
  expect(out.join('')).toContain('created');
});
afterAll(() => removeDir(parent));

describe('flmrun-js init', () => {
  it('writes package.json, tsconfig, a class with state, an async method with keyword arguments, and a test', () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')) as { name: string; main: string };
    expect(pkg).toMatchObject({ name: 'my-package', main: 'src/index.ts' });
    const src = fs.readFileSync(path.join(dir, 'src/index.ts'), 'utf8');
    expect(src).toContain("import { currentTask } from 'flmrun-js';");
    expect(fs.existsSync(path.join(dir, 'test/counter.test.ts'))).toBe(true);
  });

  it('refuses a directory that is not empty', () => {
    const sink = { write: () => true } as unknown as NodeJS.WritableStream;
    const stderr = jest.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      expect(runInit(dir, sink)).toBe(2);
      expect(String(stderr.mock.calls[0]?.[0])).toContain('exists and is not empty');
    } finally {
      stderr.mockRestore();
    }
  });

  it('type-checks `import { currentTask } from "flmrun-js"` with the shipped types, no npm install', async () => {
    await expect(run(process.execPath, [TSC, '-p', path.join(dir, 'tsconfig.json')])).resolves.toBeDefined();
    // The check is real: a misuse of the task's type is an error.
    const broken = path.join(parent, 'broken');
    fs.cpSync(dir, broken, { recursive: true });
    const file = path.join(broken, 'src/index.ts');
    fs.writeFileSync(file, fs.readFileSync(file, 'utf8').replace("currentTask()?.logger.info", 'currentTask()?.nope.info'));
    // paths are relative to the scaffold; the copy sits beside it, so they still resolve.
    const failed = await run(process.execPath, [TSC, '-p', path.join(broken, 'tsconfig.json')]).then(
      () => undefined,
      (err: { stdout?: string }) => err.stdout ?? '',
    );
    expect(failed).toMatch(/Property 'nope' does not exist on type 'TaskInfo'/);
  });

  it("passes its own test (node --test through flmrun-js's TypeScript loader)", async () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')) as { scripts: { test: string } };
    const args = pkg.scripts.test.split(' ').slice(1);
    const { stdout } = await run(process.execPath, args, { cwd: dir });
    expect(stdout).toMatch(/(#|ℹ) pass 3/); // TAP (Node 20, 22) or spec (Node 24)
    expect(stdout).toMatch(/(#|ℹ) fail 0/);
  });

  it('runs unchanged in a session: default class with init_args, state, keyword arguments, named export, Date', async () => {
    const h = await new Harness().start();
    const w = await SessionSupervisor.start(
      { sessionId: 'init-1', appName: 'init', workDir: dir, commonData: Buffer.from(BSON.serialize({ init_args: [10], stateful: true })) },
      { cacheEndpoint: h.endpoint },
    );
    try {
      expect(await h.run(w, 'increment', [5])).toBe(15);
      expect(await h.run(w, 'combine', [[1, 2, 3]], { mode: 'product', times: 2 })).toBe(12);
      expect(await h.run(w, 'greet', ['Flame'], { excited: true })).toBe('Hello, Flame!');
      const stamp = (await h.run(w, 'stamp')) as { total: number; at: unknown };
      expect(stamp.total).toBe(27);
      expect(stamp.at).toBeInstanceOf(Date);
    } finally {
      await w.close('test end');
      await h.stop();
    }
  });
});

it('examples/hello-ts is exactly what init writes (the demo runs the scaffold users get)', () => {
  const example = path.resolve(__dirname, '../../examples/hello-ts');
  const files = scaffoldFiles(example, path.basename(example));
  for (const [rel, text] of Object.entries(files)) {
    expect([rel, fs.readFileSync(path.join(example, rel), 'utf8')]).toEqual([rel, text]);
  }
});
