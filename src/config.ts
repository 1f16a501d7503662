/**
 * The options of `flmrun-js serve`, resolved in one place from the table in
 * src/options/serve.ts (where each option's default, unit, validation,
 * environment variable and help are declared). The environment is read only
 * here (docs/protocol.md §1) and only through `fromEnv`; flags override it.
 */
import path from 'node:path';
import { invalidInput } from './errors';
import { SERVE_OPTIONS } from './options/serve';
import { defaultsOf, fromEnv as envOptions, resolveOptions } from './options/resolve';
import type { OptionsOf } from './options/spec';

export { parseHostPort, stripUnixScheme } from './options/values';

export type ServeOptions = OptionsOf<typeof SERVE_OPTIONS>;

export const DEFAULTS = defaultsOf(SERVE_OPTIONS);

/** The options the environment sets (docs/protocol.md §1). */
export function fromEnv(env: NodeJS.ProcessEnv): Partial<ServeOptions> {
  return envOptions(SERVE_OPTIONS, env);
}

/** Merges env and flags (flags win: spread them last), validates every value, and fills defaults. */
export function resolveServeOptions(partial: Partial<ServeOptions>, cwd = process.cwd()): ServeOptions {
  const o = resolveOptions(SERVE_OPTIONS, stripUndefined(partial));
  o.workDir = path.resolve(cwd, o.workDir);
  if (o.socketPath) o.socketPath = path.resolve(cwd, o.socketPath);
  if (!o.socketPath && !o.listen) {
    throw invalidInput('nothing to listen on: set FLAME_INSTANCE_ENDPOINT or pass --socket PATH and/or --listen HOST:PORT');
  }
  if (Boolean(o.tlsCertFile) !== Boolean(o.tlsKeyFile)) throw invalidInput('--tls-cert and --tls-key go together');
  return o;
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

