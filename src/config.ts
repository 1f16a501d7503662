/**
 * Every option of `flmrun-js serve`, validated and defaulted in one place.
 * The environment is read only here (SPEC 1) and only through `fromEnv`;
 * command-line flags override it.
 */
import path from 'node:path';
import { invalidInput } from './errors';

export interface ServeOptions {
  /** Unix socket to listen on (`FLAME_INSTANCE_ENDPOINT`). Default: none. */
  socketPath?: string;
  /** Extra TCP listener `host:port`; off by default. Use a loopback host unless TLS is configured. */
  listen?: string;
  /** PEM certificate and key for the TCP listener; plain text when absent. */
  tlsCertFile?: string;
  tlsKeyFile?: string;
  /** Object cache `grpc://host:port` (`FLAME_CACHE_ENDPOINT`). Absent: an embedded cache starts on loopback. */
  cacheEndpoint?: string;
  /** PEM CA bundle for TLS to the cache and https downloads (`FLAME_CA_FILE`). */
  caFile?: string;
  /** Working directory; extracted packages go below it. Default: the process's cwd. */
  workDir: string;
  /** pino level (`FLAME_LOG`). Default `info`. */
  logLevel: string;
  /** Per-task time limit in ms; 0 = no limit (default). */
  taskTimeoutMs: number;
  /**
   * Deadline of each object cache call a task makes (get, put, state write-back), in ms. Default 30000.
   * A cache that is down fails the task with code 3 at once; one that hangs fails it after this long.
   */
  cacheDeadlineMs: number;
  /** Heap limit of the worker that runs user code, in MB; 0 = Node's default (default). */
  workerHeapMb: number;
  /** How many ObjectRef arguments are fetched at once. Default 8, as the Python runner. */
  refConcurrency: number;
  /** Bound on task input bytes the instance holds (queued and running); beyond it a task is refused with code 3. Default 256 MiB. */
  maxQueuedBytes: number;
  /** Keep extracted packages after session leave. Default false. */
  keepExtracted: boolean;
  /** Let dependencies' npm install scripts run when installing a package. Default false. */
  allowInstallScripts: boolean;
  /** How long SIGTERM waits for a running task before disposing the session. Default 30000. */
  shutdownGraceMs: number;
  /** Embedded cache: storage directory (memory only when absent) and memory limit in bytes. */
  embeddedCacheStorage?: string;
  embeddedCacheMaxMemoryBytes: number;
}

export const DEFAULTS = {
  logLevel: 'info',
  taskTimeoutMs: 0,
  cacheDeadlineMs: 30_000,
  workerHeapMb: 0,
  refConcurrency: 8,
  maxQueuedBytes: 256 * 1024 * 1024,
  keepExtracted: false,
  allowInstallScripts: false,
  shutdownGraceMs: 30_000,
  embeddedCacheMaxMemoryBytes: 1024 * 1024 * 1024,
} as const;

/** The subset of ServeOptions the environment can set (SPEC 1). */
export function fromEnv(env: NodeJS.ProcessEnv): Partial<ServeOptions> {
  const out: Partial<ServeOptions> = {};
  if (env.FLAME_INSTANCE_ENDPOINT) out.socketPath = stripUnixScheme(env.FLAME_INSTANCE_ENDPOINT);
  if (env.FLAME_CACHE_ENDPOINT) out.cacheEndpoint = env.FLAME_CACHE_ENDPOINT;
  if (env.FLAME_CA_FILE) out.caFile = env.FLAME_CA_FILE;
  if (env.FLAME_LOG) out.logLevel = env.FLAME_LOG;
  return out;
}

/** Merges env and flags (flags win), validates, and fills defaults. */
export function resolveServeOptions(partial: Partial<ServeOptions>, cwd = process.cwd()): ServeOptions {
  const o: ServeOptions = {
    ...DEFAULTS,
    workDir: cwd,
    ...stripUndefined(partial),
  };
  o.workDir = path.resolve(cwd, o.workDir);
  if (o.socketPath) o.socketPath = path.resolve(cwd, stripUnixScheme(o.socketPath));
  if (!o.socketPath && !o.listen) {
    throw invalidInput('nothing to listen on: set FLAME_INSTANCE_ENDPOINT or pass --socket PATH and/or --listen HOST:PORT');
  }
  if (o.listen) parseHostPort(o.listen, '--listen');
  if (Boolean(o.tlsCertFile) !== Boolean(o.tlsKeyFile)) throw invalidInput('--tls-cert and --tls-key go together');
  nonNegativeInt(o.taskTimeoutMs, '--task-timeout-ms');
  if (!Number.isSafeInteger(o.cacheDeadlineMs) || o.cacheDeadlineMs < 1) {
    throw invalidInput(`--cache-deadline-ms must be a whole number >= 1, got ${String(o.cacheDeadlineMs)}`);
  }
  nonNegativeInt(o.workerHeapMb, '--worker-heap-mb');
  nonNegativeInt(o.shutdownGraceMs, '--shutdown-grace-ms');
  nonNegativeInt(o.maxQueuedBytes, '--max-queued-bytes');
  nonNegativeInt(o.embeddedCacheMaxMemoryBytes, '--cache-max-memory');
  if (!Number.isInteger(o.refConcurrency) || o.refConcurrency < 1) {
    throw invalidInput(`--ref-concurrency must be a whole number >= 1, got ${String(o.refConcurrency)}`);
  }
  return o;
}

export function parseHostPort(value: string, what: string): { host: string; port: number } {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:\s]+)):(\d{1,5})$/.exec(value.trim());
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) throw invalidInput(`${what} must be HOST:PORT (e.g. 127.0.0.1:50051), got "${value}"`);
  return { host: (m[1] ?? m[2])!, port };
}

/** Parses a whole number of a flag's value, with a message naming the flag. */
export function parseIntFlag(value: string | undefined, what: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 0) throw invalidInput(`${what} must be a whole number >= 0, got "${value}"`);
  return n;
}

function nonNegativeInt(n: number, what: string): void {
  if (!Number.isSafeInteger(n) || n < 0) throw invalidInput(`${what} must be a whole number >= 0, got ${String(n)}`);
}

/** `unix:///path` or `unix:/path` -> `/path`; anything else as it is. */
export function stripUnixScheme(p: string): string {
  return p.startsWith('unix://') ? p.slice('unix://'.length) : p.startsWith('unix:') ? p.slice('unix:'.length) : p;
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
