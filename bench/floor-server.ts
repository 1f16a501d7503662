/**
 * The floor of the small-task benchmark: an Instance server that does the
 * least any runner must do per task — answer a unary gRPC call on a Unix
 * socket after one Arrow Flight DoPut of the same result bytes (the pickled
 * `8` that both runners store) to the same cache. No request decoding, no
 * worker, no user code.
 *
 * With `echo` as third argument it answers at once, without the DoPut: the
 * gRPC part of the floor alone.
 *
 *   node -r ./bench/register.js bench/floor-server.ts SOCKET CACHE_ENDPOINT [echo]
 */
import * as grpc from '@grpc/grpc-js';
import { CacheClient } from '../src/cache/client';
import { encodeObjectRef, encodeValue } from '../src/codecs';
import { instanceProtos, type InstanceHandlers } from '../src/service/protos';
import { SERVER_CHANNEL_OPTIONS } from '../src/service/server';

function main(): void {
  const [socket, cacheEndpoint, mode] = process.argv.slice(2);
  if (!socket || !cacheEndpoint) throw new Error('usage: floor-server.ts SOCKET CACHE_ENDPOINT');
  const cache = new CacheClient({ endpoint: cacheEndpoint });
  const payload = encodeValue(8);
  let prefix = 'floor/session';
  const echoed = encodeObjectRef({ endpoint: cacheEndpoint, key: 'floor/session/echo', version: 1 });
  const handlers: InstanceHandlers = {
    OnSessionEnter: (call, cb) => {
      prefix = `${call.request.application?.name ?? 'floor'}/${call.request.session_id ?? 'session'}`;
      cb(null, { return_code: 0 });
    },
    OnTaskInvoke: (_call, cb) => {
      if (mode === 'echo') return cb(null, { return_code: 0, output: echoed });
      cache.put(prefix, payload).then(
        (ref) => cb(null, { return_code: 0, output: encodeObjectRef(ref) }),
        (err: unknown) => cb(null, { return_code: 3, message: String(err) }),
      );
    },
    OnSessionLeave: (_call, cb) => cb(null, { return_code: 0 }),
  };
  const server = new grpc.Server(SERVER_CHANNEL_OPTIONS);
  server.addService(instanceProtos().services[0]!, handlers as unknown as grpc.UntypedServiceImplementation);
  server.bindAsync(`unix://${socket}`, grpc.ServerCredentials.createInsecure(), (err) => {
    if (err) throw err;
  });
  process.once('SIGTERM', () => {
    cache.close();
    server.tryShutdown(() => process.exit(0));
  });
}

main();
