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
  /** The tsconfig file these came from, for the cache key and messages. */
  configFile?: string;
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
    configFile: config?.path,
  };
}

/**
 * Candidate files for a bare specifier through the tsconfig `paths` of the
 * importing file (`@app/util` -> `./src/util`), or [] when no entry matches.
 */
export function pathsCandidates(specifier: string, importer: string): string[] {
  const config = configFor(path.dirname(importer));
  if (!config) return [];
  const matcher = createPathsMatcher(config);
  return matcher ? matcher(specifier) : [];
}
