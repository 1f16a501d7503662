/**
 * The one pino logger. Components take child loggers (`logger.child({ component })`),
 * tasks bind `{ sessionId, taskId }`. Errors are logged as `{ err }`; payloads never at info.
 */
import pino, { type Logger } from 'pino';
import { knownLevel } from './options/values';

export type { Logger };

/**
 * Creates the root logger writing JSON lines to stderr (stdout stays free for CLI output).
 * The level is read as FLAME_LOG is (src/options/serve.ts): a name that is not a level means `info`.
 */
export function createLogger(level: string | undefined = 'info'): Logger {
  return pino({ level: knownLevel(level ?? '') ?? 'info', base: { pid: process.pid }, name: 'flmrun-js' }, pino.destination(2));
}

/** A logger that drops everything: the default for library use and tests. */
export const silentLogger: Logger = pino({ level: 'silent' });
