/**
 * Options from flags, environment and code, read and validated by their table
 * entries: the same parse for a flag's text and an environment variable's, the
 * same validation for values set by code (tests, the library API).
 */
import { invalidInput } from '../errors';
import type { DefaultsOf, OptionsOf, OptionSpec, OptionTable } from './spec';
import { parseLogLevel, parseWholeNumber } from './values';

type Loose = Record<string, unknown>;

/** node:util parseArgs's `options` for a table. */
export function parseArgsConfig(table: OptionTable): Record<string, { type: 'string' | 'boolean' }> {
  return Object.fromEntries(table.map((o) => [o.flag, { type: o.kind === 'bool' ? 'boolean' : 'string' }]));
}

/** Typed options from parseArgs's `values` (absent flags stay absent). */
export function fromFlags<T extends OptionTable>(table: T, values: Record<string, string | boolean | undefined>): Partial<OptionsOf<T>> {
  const out: Loose = {};
  for (const o of table) {
    const v = values[o.flag];
    if (v === undefined) continue;
    out[o.key] = typeof v === 'boolean' ? v : fromText(o, v, `--${o.flag}`);
  }
  return out as Partial<OptionsOf<T>>;
}

/** Typed options from the environment variables the table names. Empty variables count as unset. */
export function fromEnv<T extends OptionTable>(table: T, env: NodeJS.ProcessEnv): Partial<OptionsOf<T>> {
  const out: Loose = {};
  for (const o of table) {
    const text = o.env ? env[o.env] : undefined;
    if (!o.env || !text) continue;
    const v = o.kind === 'level' ? o.fromEnv(text) : fromText(o, text, o.env);
    if (v !== undefined) out[o.key] = v;
  }
  return out as Partial<OptionsOf<T>>;
}

export function defaultsOf<T extends OptionTable>(table: T): DefaultsOf<T> {
  return Object.fromEntries(table.filter((o) => o.default !== undefined).map((o) => [o.key, o.default])) as DefaultsOf<T>;
}

/** Fills defaults and validates every value, whoever set it; unknown keys are kept as they are. */
export function resolveOptions<T extends OptionTable>(table: T, partial: Partial<OptionsOf<T>>): OptionsOf<T> {
  const given = partial as Loose;
  const out: Loose = { ...given };
  for (const o of table) {
    const v = given[o.key] ?? o.default;
    if (v === undefined) {
      delete out[o.key];
      continue;
    }
    out[o.key] = validated(o, v);
  }
  return out as OptionsOf<T>;
}

function fromText(o: OptionSpec, text: string, what: string): unknown {
  switch (o.kind) {
    case 'int': return parseWholeNumber(text, what, o.unit, o.min, o.max, o.zeroOff);
    case 'level': return parseLogLevel(text, what);
    case 'text': return o.check ? o.check(text, what) : text;
    case 'bool': return boolFromText(text, what);
  }
}

function validated(o: OptionSpec, v: unknown): unknown {
  const what = `--${o.flag}`;
  switch (o.kind) {
    case 'int':
      if (typeof v !== 'number' && typeof v !== 'string') throw invalidInput(`${what} must be a whole number, got ${typeof v}`);
      return parseWholeNumber(v, what, o.unit, o.min, o.max, o.zeroOff);
    case 'level': return parseLogLevel(String(v), what);
    case 'text':
      if (typeof v !== 'string') throw invalidInput(`${what} must be text, got ${typeof v}`);
      return o.check ? o.check(v, what) : v;
    case 'bool': return typeof v === 'boolean' ? v : boolFromText(String(v), what);
  }
}

function boolFromText(text: string, what: string): boolean {
  const t = text.trim().toLowerCase();
  if (['1', 'true', 'yes', 'on'].includes(t)) return true;
  if (['0', 'false', 'no', 'off', ''].includes(t)) return false;
  throw invalidInput(`${what} must be true or false, got "${text}"`);
}
