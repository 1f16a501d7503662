/**
 * Session enter of a TypeScript package (issue 12): the time from starting a
 * session worker to its execution object being ready, for
 *   - ts cold: a fresh working directory, so every file is compiled (SWC);
 *   - ts warm: the same working directory again, so every file is read from
 *     the compiled-output cache;
 *   - js: the same package compiled ahead of time (tsc), the floor.
 * The package: 30 modules with enums, classes and parameter properties plus
 * an index importing them all. Taking turns, median of N.
 *
 * Alone (after `npm run build`):
 *   node -r ./bench/register.js bench/typescript-enter.ts [--reps N]
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import ts from 'typescript';
import { CacheServer } from '../src/cache/server/cache-server';
import { SessionSupervisor } from '../src/runner/supervisor';

const MODULES = 30;

function writeTsPackage(dir: string): void {
  fs.mkdirSync(path.join(dir, 'src'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: 'bench-ts', type: 'module', main: 'src/index.ts' }));
  const imports: string[] = [];
  for (let i = 0; i < MODULES; i++) {
    fs.writeFileSync(
      path.join(dir, 'src', `m${i}.ts`),
      `export enum Kind${i} { A = 'a${i}', B = 'b${i}' }\n` +
        `export interface Shape${i} { kind: Kind${i}; size: number }\n` +
        `export class Service${i} {\n  constructor(private readonly base: number, public label: string = 'svc${i}') {}\n` +
        `  area(s: Shape${i}): number { return s.kind === Kind${i}.A ? s.size * this.base : s.size + this.base; }\n}\n` +
        `export function make${i}(): Service${i} { return new Service${i}(${i}); }\n`,
    );
    imports.push(`import { make${i} } from './m${i}.js';`);
  }
  fs.writeFileSync(
    path.join(dir, 'src', 'index.ts'),
    `${imports.join('\n')}\nexport function count(): number { return [${Array.from({ length: MODULES }, (_, i) => `make${i}()`).join(', ')}].length; }\n`,
  );
}

function writeJsPackage(from: string, dir: string): void {
  fs.mkdirSync(path.join(dir, 'src'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: 'bench-js', type: 'module', main: 'src/index.js' }));
  for (const f of fs.readdirSync(path.join(from, 'src'))) {
    const out = ts.transpileModule(fs.readFileSync(path.join(from, 'src', f), 'utf8'), {
      compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
    }).outputText;
    fs.writeFileSync(path.join(dir, 'src', f.replace(/\.ts$/, '.js')), out);
  }
}

async function enter(endpoint: string, workDir: string, root: string): Promise<number> {
  const t = process.hrtime.bigint();
  const w = await SessionSupervisor.start({ sessionId: 'bench', appName: 'bench-ts', workDir, packageRoot: root }, { cacheEndpoint: endpoint });
  const ms = Number(process.hrtime.bigint() - t) / 1e6;
  await w.close('bench');
  return ms;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

async function main(): Promise<void> {
  const repsArg = process.argv.indexOf('--reps');
  const reps = repsArg > 0 ? Number(process.argv[repsArg + 1]) : 5;
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'flmrun-bench-ts-'));
  const server = new CacheServer();
  const endpoint = await server.start();
  try {
    const tsRoot = path.join(base, 'ts');
    const jsRoot = path.join(base, 'js');
    writeTsPackage(tsRoot);
    writeJsPackage(tsRoot, jsRoot);
    const cold: number[] = [];
    const warm: number[] = [];
    const js: number[] = [];
    for (let r = 0; r < reps; r++) {
      const work = fs.mkdtempSync(path.join(base, 'work-'));
      cold.push(await enter(endpoint, work, tsRoot));
      warm.push(await enter(endpoint, work, tsRoot));
      js.push(await enter(endpoint, work, jsRoot));
    }
    const f = (xs: number[]): string => `median ${median(xs).toFixed(0)} ms (min ${Math.min(...xs).toFixed(0)}, max ${Math.max(...xs).toFixed(0)})`;
    process.stdout.write(
      `TypeScript session enter, ${MODULES + 1} modules, ${reps} turns, Node ${process.version}, load ${os.loadavg()[0]!.toFixed(1)}:\n` +
        `  ts cold (compile): ${f(cold)}\n  ts warm (cache):   ${f(warm)}\n  js (precompiled):  ${f(js)}\n`,
    );
  } finally {
    await server.close();
    fs.rmSync(base, { recursive: true, force: true });
  }
}

void main();
