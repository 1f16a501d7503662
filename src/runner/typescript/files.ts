/**
 * Which files are TypeScript and which module format each one compiles to.
 * Shared by the ES module hooks (their own thread) and the CommonJS hooks.
 */
import fs from 'node:fs';
import path from 'node:path';

export const TS_EXTENSIONS = ['.ts', '.mts', '.cts'] as const;

export type ModuleFormat = 'module' | 'commonjs';
/** How a file's format is decided: by its extension or package.json `type`, or left to its syntax. */
export type DeclaredFormat = ModuleFormat | 'detect';

export function isTypeScriptFile(file: string): boolean {
  return (TS_EXTENSIONS as readonly string[]).includes(path.extname(file)) && !file.endsWith('.d.ts');
}

/**
 * `.mts` is ESM and `.cts` CommonJS; a `.ts` file follows the nearest
 * package.json `type`, and with none, its own syntax (as Node 22+ detects it
 * for `.js` and `.ts`), so `export`/`import` in a package without `type`
 * still means an ES module.
 */
export function declaredFormat(file: string): DeclaredFormat {
  const ext = path.extname(file);
  if (ext === '.mts') return 'module';
  if (ext === '.cts') return 'commonjs';
  const type = packageType(path.dirname(file));
  return type === 'module' ? 'module' : type === 'commonjs' ? 'commonjs' : 'detect';
}

const typeCache = new Map<string, string | undefined>();

/** The `type` field of the nearest package.json above `dir` (undefined: none or no field). */
export function packageType(dir: string): string | undefined {
  if (typeCache.has(dir)) return typeCache.get(dir);
  let type: string | undefined;
  const file = path.join(dir, 'package.json');
  let text: string | undefined;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    text = undefined;
  }
  if (text !== undefined) {
    try {
      const pkg: unknown = JSON.parse(text);
      const t = pkg && typeof pkg === 'object' ? (pkg as { type?: unknown }).type : undefined;
      type = typeof t === 'string' ? t : undefined;
    } catch {
      type = undefined;
    }
  } else {
    const parent = path.dirname(dir);
    type = parent === dir ? undefined : packageType(parent);
  }
  typeCache.set(dir, type);
  return type;
}

/**
 * The TypeScript file a relative specifier means when Node finds nothing:
 * `./x.js` naming `x.ts` (TypeScript's ESM convention), `./x` naming
 * `x.ts`/`x.mts`/`x.cts`, or `./dir` naming `dir/index.ts`.
 */
export function typeScriptCandidate(file: string): string | undefined {
  const ext = path.extname(file);
  const swapped: Record<string, string> = { '.js': '.ts', '.mjs': '.mts', '.cjs': '.cts', '.jsx': '.tsx' };
  const candidates: string[] = [];
  if (swapped[ext]) candidates.push(file.slice(0, -ext.length) + swapped[ext]);
  for (const e of TS_EXTENSIONS) candidates.push(file + e);
  for (const e of TS_EXTENSIONS) candidates.push(path.join(file, 'index' + e));
  return candidates.find(isFile);
}

export function isFile(p: string): boolean {
  try {
    return fs.statSync(p).isFile();
  } catch {
    return false;
  }
}
