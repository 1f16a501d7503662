/**
 * The tsconfig.json settings that change what a file compiles to. Read with
 * get-tsconfig (it follows `extends` and tolerates comments, as tsc does).
 */
import path from 'node:path';
import { createPathsMatcher, getTsconfig, type TsConfigResult } from 'get-tsconfig';

export interface EmitSettings {
  experimentalDecorators: boolean;
  emitDecoratorMetadata: boolean;
  /** false when the user sets useDefineForClassFields: false (tsc's legacy class fields). */
  useDefineForClassFields: boolean;
}

const byDir = new Map<string, TsConfigResult | null>();

function configFor(dir: string): TsConfigResult | null {
  let found = byDir.get(dir);
  if (found === undefined) {
    found = getTsconfig(dir) ?? null;
    byDir.set(dir, found);
  }
  return found;
}

export function emitSettings(file: string): EmitSettings {
  const config = configFor(path.dirname(file));
  const o = config?.config.compilerOptions ?? {};
  return {
    experimentalDecorators: o.experimentalDecorators === true,
    emitDecoratorMetadata: o.emitDecoratorMetadata === true,
    useDefineForClassFields: o.useDefineForClassFields !== false,
  };
}

/**
 * Candidate files for a bare specifier through the tsconfig `paths` of the
 * importing file (`@app/util` -> `./src/util`), or [] when no entry matches.
 */
export function pathsCandidates(specifier: string, importer: string): string[] {
  const config = configFor(path.dirname(importer));
  if (!config) return [];
  let matcher = matchers.get(config);
  if (matcher === undefined) {
    matcher = createPathsMatcher(config);
    matchers.set(config, matcher);
  }
  return matcher ? matcher(specifier) : [];
}

const matchers = new Map<TsConfigResult, ((specifier: string) => string[]) | null>();
