/**
 * Node module customization hooks (module.register) for TypeScript under
 * import(): they run on Node's hooks thread, not the worker's. `resolve`
 * finds the .ts file a specifier means when Node finds nothing; `load`
 * compiles .ts/.mts/.cts files. A CommonJS-format file is left to the
 * CommonJS loader (null source), where ./cjs-hooks compiles it, so its
 * require() calls work as in any CommonJS module.
 */
import fs from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { isTypeScriptFile, typeScriptCandidate } from './files';
import { quietTypelessWarning } from './quiet';
import { compileTypeScript } from './transpile';
import { pathsCandidates } from './tsconfig';

interface InitData {
  cacheDir?: string;
}

interface ResolveContext {
  parentURL?: string;
  conditions?: string[];
  importAttributes?: Record<string, string>;
}
interface ResolveResult {
  url: string;
  format?: string | null;
  shortCircuit?: boolean;
}
type NextResolve = (specifier: string, context?: ResolveContext) => Promise<ResolveResult>;
interface LoadContext {
  format?: string | null;
  conditions?: string[];
}
interface LoadResult {
  format: string;
  source?: string | ArrayBuffer | Uint8Array | null;
  shortCircuit?: boolean;
}
type NextLoad = (url: string, context?: LoadContext) => Promise<LoadResult>;

let cacheDir: string | undefined;

export function initialize(data: InitData | undefined): void {
  cacheDir = data?.cacheDir;
  quietTypelessWarning();
}

export async function resolve(specifier: string, context: ResolveContext, next: NextResolve): Promise<ResolveResult> {
  try {
    return await next(specifier, context);
  } catch (err) {
    const parent = context.parentURL?.startsWith('file:') ? fileURLToPath(context.parentURL) : undefined;
    const found = parent ? alternative(specifier, parent) : undefined;
    if (found === undefined) throw err;
    return { url: pathToFileURL(found).href, shortCircuit: true };
  }
}

function alternative(specifier: string, parent: string): string | undefined {
  if (specifier.startsWith('./') || specifier.startsWith('../')) {
    return typeScriptCandidate(fileURLToPath(new URL(specifier, pathToFileURL(parent))));
  }
  if (!isTypeScriptFile(parent) || specifier.startsWith('node:') || specifier.includes(':')) return undefined;
  for (const candidate of pathsCandidates(specifier, parent)) {
    const file = fs.existsSync(candidate) && fs.statSync(candidate).isFile() ? candidate : typeScriptCandidate(candidate);
    if (file) return file;
  }
  return undefined;
}

export async function load(url: string, context: LoadContext, next: NextLoad): Promise<LoadResult> {
  if (!url.startsWith('file:')) return next(url, context);
  const file = fileURLToPath(url);
  if (!isTypeScriptFile(file)) return next(url, context);
  const compiled = compileTypeScript(file, fs.readFileSync(file, 'utf8'), cacheDir);
  if (compiled.format === 'commonjs') return { format: 'commonjs', source: null, shortCircuit: true };
  return { format: 'module', source: compiled.code, shortCircuit: true };
}
