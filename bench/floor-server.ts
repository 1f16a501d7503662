/**
 * The floor of the small-task benchmark: an Instance server that does the
 * least any runner must do per task — answer a unary gRPC call on a Unix
 * socket after one Arrow Flight DoPut of the same result bytes (the pickled
 * `8` that both runners store) to the same cache. No request decoding, no
 * worker, no user code.
 *
 * Modes (third argument):
 *   (none)  the floor;
 *   echo    answers at once, without the DoPut: the gRPC part of the floor alone;
 *   child   the floor of a runner that keeps user code in another process: each
 *           task crosses to a forked child (Node IPC, 'advanced' serialization, as
 *           src/runner/child-channel.ts), which does the DoPut and answers back.
 *
 *   node -r ./bench/register.js bench/floor-server.ts SOCKET CACHE_ENDPOINT [echo|child]
 *   node -r ./bench/register.js bench/floor-server.ts --child CACHE_ENDPOINT   (the child of `child`)
 */
import { fork } from 'node:child_process';
import net from 'node:net';
import * as grpc from '@grpc/grpc-js';
import { CacheClient } from '../src/cache/client';
import { encodeObjectRef, encodeValue } from '../src/codecs';
import { instanceProtos, type InstanceHandlers } from '../src/service/protos';
import { SERVER_CHANNEL_OPTIONS } from '../src/service/server';

type ToChild = { id: number; prefix: string };
type FromChild = { id: number; output?: Uint8Array; error?: string };

function childMain(cacheEndpoint: string, raw: boolean): void {
  const cache = new CacheClient({ endpoint: cacheEndpoint });
  const payload = encodeValue(8);
  if (raw) {
    // Frames on fd 4: [u32 length][u32 id][bytes].
    const pipe = new net.Socket({ fd: 4, readable: true, writable: true });
    const prefix = process.argv[4]!;
    pipe.on('data', (d: Buffer) => {
      for (let o = 0; o < d.length; o += 4 + d.readUInt32LE(o)) {
        const id = d.readUInt32LE(o + 4);
        void cache.put(prefix, payload).then((ref) => {
          const out = encodeObjectRef(ref);
          const head = Buffer.allocUnsafe(8);
          head.writeUInt32LE(4 + out.length, 0);
          head.writeUInt32LE(id, 4);
          pipe.write(Buffer.concat([head, out]));
        });
      }
    });
    process.on('disconnect', () => process.exit(0));
    return;
  }
  process.on('message', (m: ToChild) => {
    cache.put(m.prefix, payload).then(
      (ref) => process.send!({ id: m.id, output: encodeObjectRef(ref) } satisfies FromChild),
      (err: unknown) => process.send!({ id: m.id, error: String(err) } satisfies FromChild),
    );
  });
  process.on('disconnect', () => process.exit(0));
}

/** One task's DoPut in a forked child: the extra hop of process isolation, nothing else. */
function rawChildPutter(cacheEndpoint: string, prefix: string): (prefix: string) => Promise<Buffer> {
  const child = fork(__filename, ['--child-raw', cacheEndpoint, prefix], { execArgv: process.execArgv, stdio: ['ignore', 'inherit', 'inherit', 'ipc', 'pipe'] });
  const pipe = child.stdio[4] as net.Socket;
  const pending = new Map<number, (out: Buffer) => void>();
  let seq = 0;
  pipe.on('data', (d: Buffer) => {
    for (let o = 0; o < d.length; o += 4 + d.readUInt32LE(o)) {
      const len = d.readUInt32LE(o);
      const id = d.readUInt32LE(o + 4);
      pending.get(id)?.(d.subarray(o + 8, o + 4 + len));
      pending.delete(id);
    }
  });
  return () =>
    new Promise((resolve) => {
      const id = ++seq;
      pending.set(id, resolve);
      const head = Buffer.allocUnsafe(8);
      head.writeUInt32LE(4, 0);
      head.writeUInt32LE(id, 4);
      pipe.write(head);
    });
}

function childPutter(cacheEndpoint: string): (prefix: string) => Promise<Buffer> {
  const child = fork(__filename, ['--child', cacheEndpoint], { execArgv: process.execArgv, serialization: 'advanced', stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const pending = new Map<number, (m: FromChild) => void>();
  let seq = 0;
  child.on('message', (m: FromChild) => {
    pending.get(m.id)?.(m);
    pending.delete(m.id);
  });
  return (prefix) =>
    new Promise((resolve, reject) => {
      const id = ++seq;
      pending.set(id, (m) => (m.output ? resolve(Buffer.from(m.output.buffer, m.output.byteOffset, m.output.byteLength)) : reject(new Error(m.error))));
      child.send({ id, prefix } satisfies ToChild);
    });
}

function main(): void {
  const [socket, cacheEndpoint, mode] = process.argv.slice(2);
  if (socket === '--child' && cacheEndpoint) return childMain(cacheEndpoint, false);
  if (socket === '--child-raw' && cacheEndpoint) return childMain(cacheEndpoint, true);
  if (!socket || !cacheEndpoint) throw new Error('usage: floor-server.ts SOCKET CACHE_ENDPOINT [echo|child]');
  const cache = new CacheClient({ endpoint: cacheEndpoint });
  const payload = encodeValue(8);
  let prefix = 'floor/session';
  let viaChild = mode === 'child' ? childPutter(cacheEndpoint) : undefined;
  const echoed = encodeObjectRef({ endpoint: cacheEndpoint, key: 'floor/session/echo', version: 1 });
  const handlers: InstanceHandlers = {
    OnSessionEnter: (call, cb) => {
      prefix = `${call.request.application?.name ?? 'floor'}/${call.request.session_id ?? 'session'}`;
      if (mode === 'child-raw') viaChild = rawChildPutter(cacheEndpoint, prefix);
      cb(null, { return_code: 0 });
    },
    OnTaskInvoke: (_call, cb) => {
      if (mode === 'echo') return cb(null, { return_code: 0, output: echoed });
      const output = viaChild ? viaChild(prefix) : cache.put(prefix, payload).then(encodeObjectRef);
      output.then(
        (out) => cb(null, { return_code: 0, output: out }),
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
