/**
 * How a fresh instance warms up: small tasks on a new flmrun-js instance and
 * a new Python runner, from their first task on, p50 and the runner's CPU
 * per task in windows of task numbers. Flame starts a new instance for every
 * session it binds, so a session's first tasks run while V8 still compiles
 * and optimizes the task path.
 *
 *   npm run build && node -r ./bench/register.js bench/warm-up.ts [--reps 3] [--cache-endpoint URL] [--floors]
 *
 * Python grpcio drives both (bench/py/helper.py `drive`, as in section 1b);
 * each rep starts both runners afresh, in turns. Without --cache-endpoint the
 * results go to our embedded cache, in a process of its own. The CPU is read
 * from /proc for the runner's process and its descendants (serve, its session
 * process and its spare one).
 *
 * --floors adds the floor servers of section 1 (bench/floor-server.ts), fresh
 * each rep too: the gRPC echo alone (grpc-js's server), the floor (and our
 * cache client's DoPut) and the floor with a child process (and a crossing
 * to it). Their curves split a fresh flmrun-js's extra cost among the layers
 * every Node runner has and the rest (our framing, codecs, supervisor).
 */
import fs from 'node:fs';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { floorContender, flmrunContender, pickledRequests, pythonContender, type Contender } from './contenders';
import { removeTempDirs, startCache, withDescendants } from './procs';
import { benchPython, HELPER } from './python';
import { summarize } from './stats';

const EDGES = [0, 50, 200, 500, 1000, 2000];

/** CPU time (user + system, ms) of a process and its descendants (or of the process alone). */
function cpuMs(pid: number, alone = false): number {
  let ticks = 0;
  for (const p of alone ? [pid] : withDescendants(pid)) {
    try {
      const fields = fs.readFileSync(`/proc/${p}/stat`, 'utf8').split(') ')[1]!.split(' ');
      ticks += Number(fields[11]) + Number(fields[12]);
    } catch {
      // gone meanwhile
    }
  }
  return ticks * 10; // USER_HZ is 100 on Linux
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { reps: { type: 'string', default: '3' }, 'cache-endpoint': { type: 'string' }, floors: { type: 'boolean', default: false } },
  });
  const reps = Number(values.reps);
  const python = await benchPython();
  const cache = values['cache-endpoint'] ? undefined : await startCache();
  const endpoint = values['cache-endpoint'] ?? cache!.endpoint;
  const [input] = await pickledRequests(python, HELPER, [['add', [5, 3], []]]);
  const driver = spawn(python, [HELPER, 'drive', input!.toString('hex')], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = createInterface({ input: driver.stdout })[Symbol.asyncIterator]();
  const block = async (c: Contender, n: number): Promise<number[]> => {
    driver.stdin.write(`${c.socket} ${c.session} ${n}\n`);
    const line = await lines.next();
    if (line.done) throw new Error('the grpcio driver closed its output');
    return JSON.parse(line.value as string) as number[];
  };
  const starts: [string, () => Promise<Contender>][] = [
    ['flmrun-js', () => flmrunContender(endpoint, 'warn')],
    ['python-runner', () => pythonContender(python, HELPER, endpoint, 'warn')],
  ];
  if (values.floors) {
    for (const mode of ['echo', 'put', 'child'] as const) {
      const start = (): Promise<Contender> => floorContender(endpoint, mode);
      starts.push([mode === 'put' ? 'floor' : `floor (${mode})`, start]);
    }
  }
  const names = starts.map(([name]) => name);
  // [runner][window] -> per rep: p50 ms, CPU ms per task
  const p50s = names.map(() => EDGES.slice(1).map((): number[] => []));
  const cpus = names.map(() => EDGES.slice(1).map((): number[] => []));
  const serveCpu = EDGES.slice(1).map((): number[] => []);
  try {
    for (let rep = 0; rep < reps; rep++) {
      // In turns, the order reversed every other rep.
      const order = names.map((_, k) => k);
      for (const k of rep % 2 ? order.reverse() : order) {
        const c = await starts[k]![1]();
        try {
          // Let serve's spare session process finish booting, as it has by the time Flame sends a task.
          await new Promise((r) => setTimeout(r, 1500));
          for (let w = 0; w < EDGES.length - 1; w++) {
            const n = EDGES[w + 1]! - EDGES[w]!;
            const [c0, s0] = [cpuMs(c.proc.pid), cpuMs(c.proc.pid, true)];
            p50s[k]![w]!.push(summarize(await block(c, n)).p50);
            cpus[k]![w]!.push((cpuMs(c.proc.pid) - c0) / n);
            if (k === 0) serveCpu[w]!.push((cpuMs(c.proc.pid, true) - s0) / n);
          }
        } finally {
          await c.close();
        }
      }
      process.stderr.write(`rep ${rep + 1}/${reps} done\n`);
    }
  } finally {
    driver.stdin.end();
    driver.kill();
    await cache?.stop();
    removeTempDirs();
  }
  const head = EDGES.slice(1).map((e, w) => `${EDGES[w]! + 1}-${e}`);
  const row = (label: string, xs: number[][]): string => `| ${label} | ${xs.map((x) => summarize(x).p50.toFixed(2)).join(' | ')} |`;
  const out = [
    `Node ${process.version}, ${reps} reps, cache ${values['cache-endpoint'] ?? 'embedded'}; medians over the reps`,
    '',
    `| tasks | ${head.join(' | ')} |`,
    `|---|${head.map(() => '---|').join('')}`,
    ...names.map((name, k) => row(`${name} p50 ms`, p50s[k]!)),
    ...names.map((name, k) => row(`${name} CPU ms per task`, cpus[k]!)),
    row('flmrun-js CPU ms per task, serve alone (the rest: its session process)', serveCpu),
  ];
  process.stdout.write(`${out.join('\n')}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`warm-up failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
