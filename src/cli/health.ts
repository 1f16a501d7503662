/** `flmrun-js health`: asks the gRPC health service; exit 0 when SERVING (the container's HEALTHCHECK). */
import { parseArgs } from 'node:util';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { protoPath } from 'grpc-health-check';
import { instanceTarget } from './target';

export async function runHealth(argv: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      socket: { type: 'string' },
      target: { type: 'string' },
      service: { type: 'string', default: '' },
      'timeout-ms': { type: 'string', default: '3000' },
    },
  });
  const target = instanceTarget(values, env, 'health');
  const status = await checkHealth(target, values.service ?? '', Number(values['timeout-ms']) || 3000);
  process.stdout.write(`${status}\n`);
  return status === 'SERVING' ? 0 : 1;
}

export function checkHealth(target: string, service: string, timeoutMs: number): Promise<string> {
  const def = protoLoader.loadSync(protoPath, { keepCase: true, enums: String, defaults: true });
  const pkg = grpc.loadPackageDefinition(def) as unknown as {
    grpc: { health: { v1: { Health: grpc.ServiceClientConstructor } } };
  };
  const client = new pkg.grpc.health.v1.Health(target, grpc.credentials.createInsecure()) as unknown as grpc.Client & {
    Check(req: object, opts: object, cb: (e: grpc.ServiceError | null, r: { status: string }) => void): void;
  };
  return new Promise<string>((resolve) => {
    client.Check({ service }, { deadline: Date.now() + timeoutMs }, (err, res) => {
      client.close();
      resolve(err ? `UNREACHABLE: ${err.details || err.message}` : res.status);
    });
  });
}
