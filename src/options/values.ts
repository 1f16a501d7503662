/**
 * How an option's text becomes a value: one function for whole numbers (every
 * integer option, with its unit in the message) and one for log levels.
 * Floats, signs and exponents are refused everywhere alike.
 */
import { invalidInput } from '../errors';

export type Unit = 'ms' | 'MB' | 'bytes' | 'count';

/** Node runs a timer longer than this after 1 ms: the cap of every option that becomes a timer. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

const UNIT_WORDS: Record<Unit, string> = { ms: 'milliseconds', MB: 'megabytes', bytes: 'bytes', count: '' };

/**
 * A whole number >= min (and <= max), from a flag's text or a number set by code; `what` names the
 * flag. `zeroOff`: 0 is also taken (it turns the feature off) below a min above 1.
 */
export function parseWholeNumber(value: string | number, what: string, unit: Unit, min: number, max = Number.MAX_SAFE_INTEGER, zeroOff = false): number {
  const n = typeof value === 'number' ? value : /^\s*\d+\s*$/.test(value) ? Number(value) : NaN;
  if (!Number.isSafeInteger(n) || ((n < min || n > max) && !(zeroOff && n === 0))) {
    const word = UNIT_WORDS[unit];
    const shown = typeof value === 'string' ? `"${value}"` : String(value);
    const range = max === Number.MAX_SAFE_INTEGER ? `>= ${min}` : `from ${min} to ${max}`;
    throw invalidInput(`${what} must be ${zeroOff ? '0 (off) or ' : ''}a whole number ${range}${word ? ` (${word})` : ''}, got ${shown}`);
  }
  return n;
}

/** pino's levels; `warning` is taken as `warn` (the spelling Python's logging and Flame's docs use). */
export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** A log level from a flag: an unknown name is an error naming the choices. */
export function parseLogLevel(value: string, what: string): LogLevel {
  const level = knownLevel(value);
  if (!level) throw invalidInput(`${what} must be one of ${LOG_LEVELS.join(', ')} (or warning), got "${value}"`);
  return level;
}

/** The level a name means, or undefined. Case and surrounding blanks do not matter. */
export function knownLevel(value: string): LogLevel | undefined {
  const v = value.trim().toLowerCase();
  const name = v === 'warning' ? 'warn' : v;
  return (LOG_LEVELS as readonly string[]).includes(name) ? (name as LogLevel) : undefined;
}

/** `unix:///path` or `unix:/path` -> `/path`; anything else as it is. */
export function stripUnixScheme(p: string): string {
  return p.startsWith('unix://') ? p.slice('unix://'.length) : p.startsWith('unix:') ? p.slice('unix:'.length) : p;
}

export function parseHostPort(value: string, what: string): { host: string; port: number } {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:\s]+)):(\d{1,5})$/.exec(value.trim());
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) throw invalidInput(`${what} must be HOST:PORT (e.g. 127.0.0.1:50051), got "${value}"`);
  return { host: (m[1] ?? m[2])!, port };
}

const RUST_LEVELS: Record<string, LogLevel> = { trace: 'trace', debug: 'debug', info: 'info', warn: 'warn', warning: 'warn', error: 'error', off: 'silent' };

/**
 * FLAME_LOG is the executor manager's own RUST_LOG (docs/protocol.md §1), in Rust's filter
 * syntax: comma-separated directives, `target=level` or a bare global `level`
 * (`debug,h2=info`, `flame=debug,warn`). The global level is the last bare
 * directive; per-target directives are not ours. Anything unreadable means
 * `info`: a log setting never stops the runner.
 */
export function levelFromRustFilter(filter: string): LogLevel {
  let level: LogLevel = 'info';
  // A `/regex` suffix filters messages; it does not change the level.
  for (const directive of filter.split('/')[0]!.split(',')) {
    const d = directive.trim().toLowerCase();
    if (d && !d.includes('=')) level = RUST_LEVELS[d] ?? level;
  }
  return level;
}
