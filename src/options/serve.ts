/**
 * Every option of `flmrun-js serve`, each declared once: the CLI, `--help`, the
 * README's configuration table (`npm run docs:options`) and the validation in
 * config.ts are all made from this table.
 *
 * Adding an option is one entry here: pick `kind` ('int' needs `unit`, `min`
 * and `default`; 'text' may have `check`), give `help` (one line), `env` if the
 * environment may set it, then run `npm run docs:options`. The option then
 * arrives typed in `ServeOptions` (config.ts) under its `key`.
 * Cross-option rules (TLS cert and key together, something to listen on) stay
 * in `resolveServeOptions`.
 */
import type { OptionTable } from './spec';
import { MAX_TIMER_MS, levelFromRustFilter, parseHostPort, stripUnixScheme } from './values';

/** Shared by `serve --cache-max-memory` and `cache --max-memory`. */
export const CACHE_MAX_MEMORY_BYTES = 1024 * 1024 * 1024;
/** Shared by `serve --cache-deadline-ms` and the cache client's own default deadline. */
export const CACHE_DEADLINE_MS = 30_000;
/** Shared by `serve --cache-keepalive-ms` and the cache client's own default (src/cache/transport.ts says why 10 s). */
export const CACHE_KEEPALIVE_MS = 10_000;
/** Shared by `serve --ref-concurrency` and the runner supervisor's default. */
export const REF_CONCURRENCY = 8;
/** Shared by `serve --max-queued-bytes` and the Instance service's own default. */
export const MAX_QUEUED_BYTES = 256 * 1024 * 1024;

export const SERVE_OPTIONS = [
  {
    key: 'socketPath', flag: 'socket', arg: 'PATH', kind: 'text', env: 'FLAME_INSTANCE_ENDPOINT',
    help: 'Unix socket to serve on',
    more: ' (appears only when listening, mode 0600; a dead socket file is replaced, a live one never; `unix://` is stripped)',
    check: (v: string) => stripUnixScheme(v),
  },
  {
    key: 'listen', flag: 'listen', arg: 'HOST:PORT', kind: 'text', defaultText: 'off',
    help: 'also serve on TCP; keep it on loopback unless --tls-cert/--tls-key are given',
    check: (v: string, what: string) => (parseHostPort(v, what), v),
  },
  { key: 'tlsCertFile', flag: 'tls-cert', arg: 'FILE', kind: 'text', defaultText: 'plain text', help: 'PEM certificate of the TCP listener (with --tls-key)' },
  { key: 'tlsKeyFile', flag: 'tls-key', arg: 'FILE', kind: 'text', defaultText: 'plain text', help: 'PEM key of the TCP listener (with --tls-cert)' },
  {
    key: 'cacheEndpoint', flag: 'cache', arg: 'URL', kind: 'text', env: 'FLAME_CACHE_ENDPOINT', defaultText: 'embedded',
    help: 'object cache: grpc://host:port, grpcs:// or grpc+tls:// (TLS)',
    more: '; default port 9090; absent: an embedded cache starts on 127.0.0.1',
  },
  {
    key: 'caFile', flag: 'ca-file', arg: 'FILE', kind: 'text', env: 'FLAME_CA_FILE', defaultText: 'system CAs',
    help: 'PEM CA bundle for TLS to the cache and https package downloads',
  },
  { key: 'workDir', flag: 'work-dir', arg: 'DIR', kind: 'text', default: '.', defaultText: 'cwd', help: 'working directory; extracted packages go below it' },
  {
    key: 'logLevel', flag: 'log-level', arg: 'LEVEL', kind: 'level', env: 'FLAME_LOG', default: 'info',
    help: 'trace, debug, info, warn (or warning), error, fatal, silent',
    more: '; JSON lines on stderr (under Flame: `<working_directory>/<executor-id>.err`). FLAME_LOG is read in Rust filter syntax (`debug,h2=info`): its global level; an unreadable one means info',
    fromEnv: levelFromRustFilter,
  },
  {
    key: 'taskTimeoutMs', flag: 'task-timeout-ms', arg: 'N', kind: 'int', unit: 'ms', min: 0, max: MAX_TIMER_MS, default: 0, defaultText: '0 (off)',
    help: 'per-task time limit, 0 = none',
    more: ': a task running longer fails (code 1); its AbortSignal fires, and a task that has not stopped 1 s later loses its process (a fresh one re-enters the session)',
  },
  {
    key: 'cacheDeadlineMs', flag: 'cache-deadline-ms', arg: 'N', kind: 'int', unit: 'ms', min: 1, max: MAX_TIMER_MS, default: CACHE_DEADLINE_MS,
    help: 'deadline of each object-cache call made for a task',
    more: ' (get, put, state write-back); an unreachable cache fails the task with code 3 at once, a hanging one after this long',
  },
  {
    // At least 1 s: a shorter interval pings a busy remote cache every few ms (grpc servers answer that
    // with GOAWAY too_many_pings) and drops connections whose answer is merely queued.
    key: 'cacheKeepaliveMs', flag: 'cache-keepalive-ms', arg: 'N', kind: 'int', unit: 'ms', min: 1000, max: MAX_TIMER_MS, zeroOff: true, default: CACHE_KEEPALIVE_MS, defaultText: '10000 (0 = off)',
    help: 'a cache connection with calls open and nothing read for this long is sent a PING; unanswered as long again, it is dropped',
    more: ' (its calls fail UNAVAILABLE, the next call connects afresh); 0 or at least 1000; connections without calls are not pinged, and within one silent call the interval doubles after each PING answered only by its ACK',
  },
  {
    key: 'workerHeapMb', flag: 'worker-heap-mb', arg: 'N', kind: 'int', unit: 'MB', min: 0, default: 0, defaultText: "0 (Node's default)",
    help: 'heap limit of the session process that runs user code, 0 = Node\'s default; a task that reaches it fails (code 1) and the process is replaced',
  },
  {
    key: 'maxQueuedBytes', flag: 'max-queued-bytes', arg: 'BYTES', kind: 'int', unit: 'bytes', min: 1, default: MAX_QUEUED_BYTES, defaultText: '256 MiB',
    help: 'task input bytes held at once (queued and running); a task beyond it is refused (code 3)',
  },
  {
    key: 'refConcurrency', flag: 'ref-concurrency', arg: 'N', kind: 'int', unit: 'count', min: 1, default: REF_CONCURRENCY,
    help: 'ObjectRef arguments of a task fetched at once', more: ' (8, as the Python runner)',
  },
  {
    key: 'noSpareProcess', flag: 'no-spare-process', kind: 'bool', default: false,
    help: 'do not keep a session process booted ahead of the next session enter',
    more: ' (the spare: one idle Node process, ~75 MB RSS of which ~30 MB private, forked as serve starts and after each session leave)',
  },
  { key: 'keepExtracted', flag: 'keep-extracted', kind: 'bool', default: false, help: 'keep extracted packages and installed dependencies after their last user (process) is gone' },
  {
    key: 'allowInstallScripts', flag: 'allow-install-scripts', kind: 'bool', default: false,
    help: "let dependencies' npm install scripts run", more: ' (off: npm install --ignore-scripts)',
  },
  {
    key: 'shutdownGraceMs', flag: 'shutdown-grace-ms', arg: 'N', kind: 'int', unit: 'ms', min: 0, max: MAX_TIMER_MS, default: 30_000,
    help: 'SIGTERM waits this long for the running task before disposing the session',
  },
  {
    key: 'embeddedCacheStorage', flag: 'cache-storage', arg: 'DIR', kind: 'text', defaultText: 'memory only',
    help: 'embedded cache: persist objects here as Arrow IPC files',
  },
  {
    key: 'embeddedCacheMaxMemoryBytes', flag: 'cache-max-memory', arg: 'BYTES', kind: 'int', unit: 'bytes', min: 1,
    default: CACHE_MAX_MEMORY_BYTES, defaultText: '1 GiB', help: 'embedded cache: memory limit',
  },
  {
    key: 'demo', flag: 'demo', kind: 'bool', default: false,
    help: 'once serving, run the bundled example package end to end and print it',
  },
] as const satisfies OptionTable;
