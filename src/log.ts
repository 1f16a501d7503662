/**
 * The one pino logger. Components take child loggers (`logger.child({ component })`),
 * tasks bind `{ sessionId, taskId }`. Errors are logged as `{ err }`; payloads never at info.
 */
import pino, { type Logger, type LevelWithSilent } from 'pino';

export type { Logger };

const LEVELS = new Set(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']);

/** Parses FLAME_LOG-style levels; unknown values fall back to `info`. */
export function parseLevel(value: string | undefined): LevelWithSilent {
  const v = (value ?? '').trim().toLowerCase();
  if (v === 'warning') return 'warn';
  return (LEVELS.has(v) ? v : 'info') as LevelWithSilent;
}

/** Creates the root logger writing JSON lines to stderr (stdout stays free for CLI output). */
export function createLogger(level: string | undefined = 'info'): Logger {
  return pino({ level: parseLevel(level), base: { pid: process.pid }, name: 'flmrun-js' }, pino.destination(2));
}

/** A logger that drops everything: the default for library use and tests. */
export const silentLogger: Logger = pino({ level: 'silent' });
