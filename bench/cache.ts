/**
 * Object cache throughput: put and get of 1 MiB and 64 MiB objects against our
 * server (in its own process), with our client and with pyarrow.flight's.
 *
 *   node -r ./bench/register.js bench/cache.ts        (needs the test venv: scripts/test-venv.sh)
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { CacheClient } from '../src/cache/client';
import { CacheServer } from '../src/cache/server';

const MiB = 1024 * 1024;
const CASES = [
  { size: MiB, iterations: 50 },
  { size: 64 * MiB, iterations: 5 },
];

async function serve(): Promise<void> {
  const server = new CacheServer({ port: 0, maxMemoryBytes: 4 * 1024 * MiB });
  process.stdout.write(`${await server.start()}\n`);
  process.stdin.resume();
  process.stdin.on('end', () => void server.close().then(() => process.exit(0)));
}

async function ours(endpoint: string, size: number, iterations: number): Promise<{ put: number; get: number }> {
  const client = new CacheClient({ endpoint, lruEntries: 0, deadlineMs: 600_000 });
  const payload = Buffer.alloc(size, 7);
  await client.get(await client.put('bench/warm', payload)); // warm-up: channel, JIT
  let t = process.hrtime.bigint();
  const refs = [];
  for (let i = 0; i < iterations; i++) refs.push(await client.put('bench/ours', payload));
  const put = Number(process.hrtime.bigint() - t) / 1e9;
  t = process.hrtime.bigint();
  for (const ref of refs) await client.get(ref);
  const get = Number(process.hrtime.bigint() - t) / 1e9;
  await client.delete('bench/*');
  client.close();
  return { put: (size * iterations) / MiB / put, get: (size * iterations) / MiB / get };
}

const PYARROW = `
import sys, time, json, bson, pyarrow as pa, pyarrow.flight as fl
endpoint, size, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
c = fl.FlightClient(endpoint, generic_options=[("grpc.max_send_message_length", -1), ("grpc.max_receive_message_length", -1)])
schema = pa.schema([pa.field("version", pa.uint64()), pa.field("data", pa.binary())])
batch = pa.record_batch([pa.array([0], pa.uint64()), pa.array([b"\\x07" * size], pa.binary())], schema=schema)
def put():
    w, r = c.do_put(fl.FlightDescriptor.for_path("bench/py"), schema)
    w.write_batch(batch); w.done_writing(); ref = bson.decode(bytes(r.read())); w.close(); return ref
c.do_get(fl.Ticket((put()["key"] + ":0").encode())).read_all()
t = time.perf_counter(); refs = [put() for _ in range(n)]; tput = time.perf_counter() - t
t = time.perf_counter()
for ref in refs: c.do_get(fl.Ticket((ref["key"] + ":0").encode())).read_all()
tget = time.perf_counter() - t
list(c.do_action(fl.Action("DELETE", b"bench/*")))
mb = size * n / 2**20
print(json.dumps({"put": mb / tput, "get": mb / tget}))
`;

function pyarrow(python: string, endpoint: string, size: number, iterations: number): { put: number; get: number } {
  return JSON.parse(execFileSync(python, ['-c', PYARROW, endpoint, String(size), String(iterations)], { encoding: 'utf8' })) as { put: number; get: number };
}

async function main(): Promise<void> {
  if (process.argv[2] === 'serve') return serve();
  const root = path.resolve(__dirname, '..');
  const python = process.env.FLMRUN_TEST_PYTHON ?? execFileSync('bash', [path.join(root, 'scripts/test-venv.sh')], { encoding: 'utf8' }).trim();
  const child: ChildProcess = spawn(process.execPath, ['-r', path.join(__dirname, 'register.js'), __filename, 'serve'], { stdio: ['pipe', 'pipe', 'inherit'] });
  const endpoint = await new Promise<string>((resolve) => child.stdout!.once('data', (d: Buffer) => resolve(d.toString().trim())));
  try {
    console.log(`object cache throughput against our server at ${endpoint} (MB/s = MiB/s)`);
    console.log('size      op   flmrun-js   pyarrow   ratio');
    for (const { size, iterations } of CASES) {
      const a = await ours(endpoint, size, iterations);
      const b = pyarrow(python, endpoint, size, iterations);
      for (const op of ['put', 'get'] as const) {
        const label = `${size / MiB} MiB`.padEnd(9);
        console.log(`${label} ${op}  ${a[op].toFixed(0).padStart(9)}  ${b[op].toFixed(0).padStart(8)}   ${(a[op] / b[op]).toFixed(2)}`);
      }
    }
  } finally {
    child.stdin!.end();
  }
}

void main();
