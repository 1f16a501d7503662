/**
 * The composition root of `flmrun-js serve`: the object cache (external or
 * embedded), the package manager, the Instance service, the gRPC server with
 * its health service, and an orderly shutdown.
 */
import * as grpc from '@grpc/grpc-js';
import { HealthImplementation } from 'grpc-health-check';
import type { ServeOptions } from '../config';
import type { Logger } from '../log';
import { CacheServer } from '../cache/server/cache-server';
import { CacheClient, keepaliveOptions } from '../cache/client';
import { PackageManager } from '../packages';
import { SessionSupervisor } from '../runner/supervisor';
import { SpareProcess } from '../runner/spare-process';
import { InstanceService } from './instance-service';
import { ReceiveGate } from './receive-gate';
import { serveTasksOnStreams } from './raw-task';
import { instanceProtos } from './protos';
import { bindTcp, bindUnixSocket, type UnixListener } from './listeners';
import { parseHostPort } from '../options/values';
import { gracefully } from '../util/deadline';

export const INSTANCE_SERVICE = 'flame.v1.Instance';

/** Server-side gRPC limits, set deliberately: task inputs and outputs can be large. */
export const SERVER_CHANNEL_OPTIONS: grpc.ServerOptions = {
  'grpc.max_receive_message_length': -1,
  'grpc.max_send_message_length': -1,
  // Clients may ping every 10 s while idle; faster pings are answered with GOAWAY.
  'grpc.keepalive_permit_without_calls': 1,
  'grpc.http2.min_ping_interval_without_data_ms': 10_000,
  'grpc.keepalive_time_ms': 60_000,
  'grpc.keepalive_timeout_ms': 20_000,
  'grpc.max_concurrent_streams': 128,
};

/** How long a task or enter may take to deliver its request once its turn to be read came (docs/reliability.md §2b). */
const REQUEST_READ_TIMEOUT_MS = 30_000;

export interface RunningInstance {
  cacheEndpoint: string;
  socketPath?: string;
  tcpPort?: number;
  service: InstanceService;
  /** Graceful stop; idempotent. */
  close(): Promise<void>;
}

export async function startInstance(opts: ServeOptions, logger: Logger): Promise<RunningInstance> {
  const log = logger.child({ component: 'server' });
  const workerHeapMb = opts.workerHeapMb || undefined;
  // Booted ahead of the first enter (src/runner/spare-process.ts); started below, where nothing fails after it.
  const spare = opts.noSpareProcess ? undefined : new SpareProcess(workerHeapMb, logger.child({ component: 'spare-process' }));
  let embedded: CacheServer | undefined;
  let cacheEndpoint = opts.cacheEndpoint;
  if (!cacheEndpoint) {
    embedded = new CacheServer({
      host: '127.0.0.1',
      port: 0,
      storageDir: opts.embeddedCacheStorage,
      maxMemoryBytes: opts.embeddedCacheMaxMemoryBytes,
      logger: logger.child({ component: 'cache-server' }),
    });
    cacheEndpoint = await embedded.start();
    log.info({ cacheEndpoint }, 'no FLAME_CACHE_ENDPOINT given: embedded object cache started');
  }

  // The main thread's cache client only downloads packages (grpc:// URLs);
  // task traffic goes through each session worker's own client.
  const cacheClient = new CacheClient({ endpoint: cacheEndpoint, caFile: opts.caFile, ...keepaliveOptions(opts.cacheKeepaliveMs), logger });
  const packages = new PackageManager({
    workDir: opts.workDir,
    keepExtracted: opts.keepExtracted,
    allowInstallScripts: opts.allowInstallScripts,
    caFile: opts.caFile,
    logger: logger.child({ component: 'packages' }),
    fetchFromCache: (endpointUrl, key, dest) =>
      cacheClient.download({ endpoint: endpointUrl, key, version: 0 }, dest),
  });
  await packages.cleanupStale();

  const service = new InstanceService({
    packages,
    startWorker: (spec, ro, signal) => SessionSupervisor.start(spec, ro, signal),
    runnerOptions: {
      cacheEndpoint,
      caFile: opts.caFile,
      taskTimeoutMs: opts.taskTimeoutMs || undefined,
      cacheDeadlineMs: opts.cacheDeadlineMs,
      cacheKeepaliveMs: opts.cacheKeepaliveMs,
      workerHeapMb,
      refConcurrency: opts.refConcurrency,
      spare,
    },
    workDir: opts.workDir,
    logger,
    maxQueuedBytes: opts.maxQueuedBytes,
  });

  // Request bodies of enters and tasks are read one at a time; a task that would pass the queue's bound is refused unread.
  const gate = new ReceiveGate({
    heldBytes: () => service.heldInputBytes,
    maxBytes: opts.maxQueuedBytes,
    readTimeoutMs: REQUEST_READ_TIMEOUT_MS,
    methods: ['/OnTaskInvoke', '/OnSessionEnter'],
    bounded: ['/OnTaskInvoke'],
  });
  const server = new grpc.Server({ ...SERVER_CHANNEL_OPTIONS, interceptors: [gate.interceptor()] });
  const handlers = service.handlers();
  const services = instanceProtos().services;
  for (const def of services) server.addService(def, handlers as unknown as grpc.UntypedServiceImplementation);
  // Tasks on their HTTP/2 streams directly (raw-task.ts), unless told to leave them to grpc-js.
  if (process.env.FLMRUN_TASK_TRANSPORT !== 'grpc-js') {
    const tasks = new Map(services.map((def) => [def.OnTaskInvoke!.path, def.OnTaskInvoke as grpc.MethodDefinition<unknown, unknown>]));
    serveTasksOnStreams(server, tasks, handlers.OnTaskInvoke, gate);
  }
  const health = new HealthImplementation({ '': 'SERVING', [INSTANCE_SERVICE]: 'SERVING' });
  health.addToServer(server);

  let tcpPort: number | undefined;
  let unix: UnixListener | undefined;
  spare?.refill();
  try {
    if (opts.socketPath) unix = await bindUnixSocket(server, opts.socketPath, log);
    if (opts.listen) {
      const tls = opts.tlsCertFile && opts.tlsKeyFile ? { certFile: opts.tlsCertFile, keyFile: opts.tlsKeyFile } : undefined;
      tcpPort = await bindTcp(server, opts.listen, tls);
      if (!tls && !isLoopbackHost(parseHostPort(opts.listen, '--listen').host)) {
        log.warn(
          { listen: opts.listen },
          'serving the Instance service in plain text on a non-loopback address: anyone who can reach it can run tasks; give --tls-cert/--tls-key or listen on 127.0.0.1',
        );
      }
    }
  } catch (err) {
    server.forceShutdown();
    await spare?.close();
    cacheClient.close();
    await embedded?.close();
    throw err;
  }
  log.info({ socket: opts.socketPath, tcpPort, cacheEndpoint, workDir: opts.workDir }, 'flmrun-js serving');

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> =>
    (closing ??= (async () => {
      log.info('shutting down: no new calls accepted');
      health.setStatus('', 'NOT_SERVING');
      health.setStatus(INSTANCE_SERVICE, 'NOT_SERVING');
      // Stop accepting new calls; in-flight ones run on.
      const drained = new Promise<void>((resolve) => server.tryShutdown(() => resolve()));
      // First, so that sessions that leave now start no new spare.
      await spare?.close();
      await service.close(opts.shutdownGraceMs);
      await gracefully(drained, 2_000, () => server.forceShutdown());
      await packages.close();
      cacheClient.close();
      await embedded?.close();
      unix?.unlink();
      log.info('stopped');
    })());

  return { cacheEndpoint, socketPath: opts.socketPath, tcpPort, service, close };
}

/** 127.0.0.0/8, ::1 and localhost: addresses only this machine reaches. */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  return h === 'localhost' || h === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h);
}
