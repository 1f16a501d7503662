/**
 * The contenders of the task benchmarks, each behind the same Node gRPC
 * driver (src/service/protos.ts connectInstance) on its own Unix socket, all
 * using the same object cache process:
 *   flmrun-js      `node dist/cli.js serve`, the bench package (bench/fixture.ts) from a file:// URL;
 *   python-runner  `python -m flamepy.runner.runpy` (flamepy 0.6.0), its RunnerContext put into the
 *                  cache by flamepy itself (bench/py/helper.py context), as Runner() does;
 *   floor          bench/floor-server.ts.
 */
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { connectInstance, type InstanceClient, type TaskResult } from '../src/service/protos';
import { decodeObjectRef } from '../src/codecs';
import type { ObjectRef } from '../src/wire/cache-types';
import { run, startFloor, startFlmrun, startPythonRunner, tempDir, type FloorMode, type FlmrunOptions, type Proc } from './procs';
import { writeBenchPackage } from './fixture';

export const APP = 'bench';

export interface Contender {
  name: 'flmrun-js' | 'flmrun-js, grpc-js cache client' | `flmrun-js @ ${string}` | 'python-runner' | 'floor' | 'floor: gRPC echo only' | 'floor: DoPut in a child process' | 'floor: DoPut in a child, raw pipe';
  proc: Proc;
  /** The Unix socket it serves the Instance protocol on (for drivers other than `client`). */
  socket: string;
  client: InstanceClient;
  session: string;
  /** One task; throws unless it succeeded. Returns the result's ObjectRef. */
  invoke(input: Buffer): Promise<ObjectRef>;
  close(): Promise<void>;
}

let taskSeq = 0;

function contender(name: Contender['name'], proc: Proc & { socket: string }, session: string): Contender {
  const client = connectInstance(`unix://${proc.socket}`);
  return {
    name,
    proc,
    socket: proc.socket,
    client,
    session,
    async invoke(input) {
      const res: TaskResult = await client.invoke({ task_id: String(++taskSeq), session_id: session, input });
      if ((res.return_code ?? 0) !== 0 || !res.output) throw new Error(`${name}: task failed (${res.return_code}): ${res.message ?? ''}`);
      return decodeObjectRef(res.output);
    },
    async close() {
      await client.leave().catch(() => undefined);
      client.close();
      await proc.stop();
    },
  };
}

async function entered(c: Contender, common?: Buffer, url?: string): Promise<Contender> {
  const res = await c.client.enter({ session_id: c.session, application: { name: APP, url }, common_data: common });
  if ((res.return_code ?? 0) !== 0) throw new Error(`${c.name}: session enter failed (${res.return_code}): ${res.message ?? ''}`);
  return c;
}

export async function flmrunContender(cacheEndpoint: string, logLevel: string, extra: Partial<FlmrunOptions> = {}): Promise<Contender> {
  const work = tempDir('work');
  const pkg = writeBenchPackage(path.join(work, 'bench-package'));
  const proc = await startFlmrun({ cacheEndpoint, workDir: work, ...extra }, logLevel);
  // No common_data: the execution object is the package's main export (docs/protocol.md §5), whose functions are the methods.
  const name: Contender['name'] = extra.cli ? `flmrun-js @ ${extra.name ?? extra.cli}` : extra.cacheTransport === 'grpc-js' ? 'flmrun-js, grpc-js cache client' : 'flmrun-js';
  return entered(contender(name, proc, randomUUID()), undefined, `file://${pkg}`);
}

export async function pythonContender(python: string, helper: string, cacheEndpoint: string, logLevel: string): Promise<Contender> {
  const proc = await startPythonRunner(python, cacheEndpoint, logLevel);
  const session = randomUUID();
  const common = Buffer.from((await run(python, [helper, 'context', APP, session], { FLAME_CACHE_ENDPOINT: cacheEndpoint })).trim(), 'hex');
  return entered(contender('python-runner', proc, session), common);
}

const FLOOR_NAMES = { put: 'floor', echo: 'floor: gRPC echo only', child: 'floor: DoPut in a child process', 'child-raw': 'floor: DoPut in a child, raw pipe' } as const;

/** `child`: the floor of process isolation (bench/floor-server.ts). */
export async function floorContender(cacheEndpoint: string, mode: FloorMode = 'put'): Promise<Contender> {
  const proc = await startFloor(cacheEndpoint, mode);
  return entered(contender(FLOOR_NAMES[mode], proc, randomUUID()));
}

/** Task inputs as the Python SDK sends them (cloudpickled RunnerRequest); both runners read this form. */
export async function pickledRequests(python: string, helper: string, specs: [string | null, unknown[], string[]][]): Promise<Buffer[]> {
  const hex = JSON.parse(await run(python, [helper, 'requests', JSON.stringify(specs)])) as string[];
  return hex.map((h) => Buffer.from(h, 'hex'));
}
