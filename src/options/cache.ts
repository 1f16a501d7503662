/**
 * Every option of `flmrun-js cache` (the object cache server alone), declared
 * as in serve.ts: adding one is one entry here, then `npm run docs:options`.
 */
import type { OptionTable } from './spec';
import { CACHE_MAX_MEMORY_BYTES } from './serve';
import { MAX_TIMER_MS, parseHostPort } from './values';

export const CACHE_OPTIONS = [
  {
    key: 'listen', flag: 'listen', arg: 'HOST:PORT', kind: 'text', default: '127.0.0.1:9090', help: 'address to serve Arrow Flight on',
    check: (v: string, what: string) => (parseHostPort(v, what), v),
  },
  { key: 'storageDir', flag: 'storage', arg: 'DIR', kind: 'text', defaultText: 'memory only', help: 'persist objects here (Arrow IPC files)' },
  {
    key: 'maxMemoryBytes', flag: 'max-memory', arg: 'BYTES', kind: 'int', unit: 'bytes', min: 1,
    default: CACHE_MAX_MEMORY_BYTES, defaultText: '1 GiB', help: 'memory limit for object data',
  },
  {
    key: 'idleTimeoutMs', flag: 'idle-timeout-ms', arg: 'N', kind: 'int', unit: 'ms', min: 1, max: MAX_TIMER_MS, default: 60_000,
    help: 'a put that sends nothing, or a reader that takes nothing, for this long is ended (DEADLINE_EXCEEDED)',
  },
  {
    key: 'publicEndpoint', flag: 'public-endpoint', arg: 'URL', kind: 'text', defaultText: 'grpc://<listen address>',
    help: 'endpoint written into ObjectRefs',
  },
] as const satisfies OptionTable;
