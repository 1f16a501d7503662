#!/usr/bin/env node
/**
 * The `flmrun-js` command line. Its forms are an interface other tools script
 * against; keep them stable:
 *   flmrun-js serve [--socket PATH] [--listen HOST:PORT] [--cache URL] [--work-dir DIR] ...
 *   flmrun-js cache [--listen HOST:PORT] [--storage DIR] [--max-memory BYTES] [--public-endpoint URL]
 *   flmrun-js invoke (--socket PATH | --target HOST:PORT) [--url PKG] [--context JSON] --method M [--args JSON] ...
 *   flmrun-js get REF
 *   flmrun-js health (--socket PATH | --target HOST:PORT)
 */
import { parseArgs } from 'node:util';
import { createLogger } from './log';
import { describeThrown, isFlmError } from './errors';
import { fromEnv, parseIntFlag, resolveServeOptions } from './config';
import { HELP, VERSION } from './cli/help';
import { demoSocketPath, runServe } from './cli/serve';
import { runCache } from './cli/cache';
import { runInvoke, runGet } from './cli/invoke';
import { runHealth } from './cli/health';

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (!command || command === '--help' || command === '-h' || command === 'help') {
    process.stdout.write(HELP);
    return command ? 0 : 2;
  }
  if (command === '--version' || command === '-v') {
    process.stdout.write(`${VERSION}\n`);
    return 0;
  }
  const logger = createLogger(process.env.FLAME_LOG);
  switch (command) {
    case 'serve': {
      const { values } = parseArgs({
        args: rest,
        strict: true,
        options: {
          socket: { type: 'string' },
          listen: { type: 'string' },
          'tls-cert': { type: 'string' },
          'tls-key': { type: 'string' },
          cache: { type: 'string' },
          'ca-file': { type: 'string' },
          'work-dir': { type: 'string' },
          'log-level': { type: 'string' },
          'task-timeout-ms': { type: 'string' },
          'cache-deadline-ms': { type: 'string' },
          'worker-heap-mb': { type: 'string' },
          'max-queued-bytes': { type: 'string' },
          'ref-concurrency': { type: 'string' },
          'keep-extracted': { type: 'boolean' },
          'allow-install-scripts': { type: 'boolean' },
          'shutdown-grace-ms': { type: 'string' },
          'cache-storage': { type: 'string' },
          'cache-max-memory': { type: 'string' },
          demo: { type: 'boolean' },
        },
      });
      const env = fromEnv(process.env);
      // The demo needs somewhere to listen even outside Flame: a private temp socket.
      if (values.demo && !values.socket && !values.listen && !env.socketPath) values.socket = demoSocketPath();
      const opts = resolveServeOptions({
        ...env,
        ...defined({
          socketPath: values.socket,
          listen: values.listen,
          tlsCertFile: values['tls-cert'],
          tlsKeyFile: values['tls-key'],
          cacheEndpoint: values.cache,
          caFile: values['ca-file'],
          workDir: values['work-dir'],
          logLevel: values['log-level'],
          taskTimeoutMs: parseIntFlag(values['task-timeout-ms'], '--task-timeout-ms'),
          cacheDeadlineMs: parseIntFlag(values['cache-deadline-ms'], '--cache-deadline-ms'),
          workerHeapMb: parseIntFlag(values['worker-heap-mb'], '--worker-heap-mb'),
          maxQueuedBytes: parseIntFlag(values['max-queued-bytes'], '--max-queued-bytes'),
          refConcurrency: parseIntFlag(values['ref-concurrency'], '--ref-concurrency'),
          keepExtracted: values['keep-extracted'],
          allowInstallScripts: values['allow-install-scripts'],
          shutdownGraceMs: parseIntFlag(values['shutdown-grace-ms'], '--shutdown-grace-ms'),
          embeddedCacheStorage: values['cache-storage'],
          embeddedCacheMaxMemoryBytes: parseIntFlag(values['cache-max-memory'], '--cache-max-memory'),
        }),
      });
      if (values['log-level']) logger.level = values['log-level'];
      return runServe(opts, logger, values.demo === true);
    }
    case 'cache': {
      const { values } = parseArgs({
        args: rest,
        strict: true,
        options: {
          listen: { type: 'string' },
          storage: { type: 'string' },
          'max-memory': { type: 'string' },
          'public-endpoint': { type: 'string' },
        },
      });
      return runCache(
        {
          listen: values.listen ?? '127.0.0.1:9090',
          storageDir: values.storage,
          maxMemoryBytes: parseIntFlag(values['max-memory'], '--max-memory'),
          publicEndpoint: values['public-endpoint'],
        },
        logger,
      );
    }
    case 'invoke':
      return runInvoke(rest, process.env);
    case 'get':
      return runGet(rest, process.env);
    case 'health':
      return runHealth(rest, process.env);
    default:
      process.stderr.write(`flmrun-js: unknown command "${command}"\n\n${HELP}`);
      return 2;
  }
}

function defined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code !== -1) process.exitCode = code;
  },
  (err: unknown) => {
    const text = isFlmError(err) || (err as { code?: string })?.code?.startsWith?.('ERR_PARSE_ARGS')
      ? (err as Error).message
      : describeThrown(err);
    process.stderr.write(`flmrun-js: ${text}\n`);
    process.exitCode = 2;
  },
);
