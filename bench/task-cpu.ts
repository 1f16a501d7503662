/**
 * CPU per small task, by process: what each contender's processes (and the
 * shared object cache) spend per `add(5, 3)` driven by the Python grpcio
 * driver. On a machine shared with other work, wall times mostly measure
 * the queue for a core; CPU time and context switches per task are what a
 * runner controls.
 *
 *   FLMRUN_BENCH_PYTHON=... node -r ./bench/register.js bench/task-cpu.ts [N] [ROUNDS] [LABEL=path/to/dist/cli.js ...]
 *
 * Each LABEL=CLI: another build of flmrun-js, measured in the same run as `flmrun-js @ LABEL`.
 * (Hardware instruction counters, steadier than CPU time under load, are not available in this VM.)
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import { createInterface } from 'node:readline';
import { benchPython, HELPER } from './python';
import { floorContender, flmrunContender, pickledRequests, pythonContender, type Contender } from './contenders';
import { removeTempDirs, startCache } from './procs';
import { loadAverage } from './machine';
import { summarize } from './stats';

const TICK_MS = 1000 / 100; // USER_HZ

interface Usage {
  cpuMs: number;
  /** Voluntary + involuntary context switches, summed over threads. */
  switches: number;
}

function descendants(pid: number): number[] {
  const out = [pid];
  for (const tid of fs.readdirSync(`/proc/${pid}/task`)) {
    const kids = fs.readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').trim();
    for (const k of kids ? kids.split(/\s+/) : []) out.push(...descendants(Number(k)));
  }
  return out;
}

function usage(pid: number, only?: 'self' | 'children'): Usage {
  let cpuMs = 0;
  let switches = 0;
  const all = descendants(pid);
  for (const p of only === 'self' ? [pid] : only === 'children' ? all.slice(1) : all) {
    const stat = fs.readFileSync(`/proc/${p}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    cpuMs += (Number(f[11]) + Number(f[12])) * TICK_MS;
    for (const tid of fs.readdirSync(`/proc/${p}/task`)) {
      const st = fs.readFileSync(`/proc/${p}/task/${tid}/status`, 'utf8');
      switches += Number(/voluntary_ctxt_switches:\s+(\d+)/.exec(st)?.[1] ?? 0) + Number(/nonvoluntary_ctxt_switches:\s+(\d+)/.exec(st)?.[1] ?? 0);
    }
  }
  return { cpuMs, switches };
}

async function main(): Promise<void> {
  const n = Number(process.argv[2] ?? 2000);
  const rounds = Number(process.argv[3] ?? 4);
  const baselines = process.argv.slice(4);
  const python = await benchPython();
  const cacheProc = await startCache();
  const [add] = await pickledRequests(python, HELPER, [['add', [5, 3], []]]);
  const cs: Contender[] = [
    await flmrunContender(cacheProc.endpoint, 'warn'),
    ...(await Promise.all(baselines.map((b) => { const [name, cli] = b.split('='); return flmrunContender(cacheProc.endpoint, 'warn', { cli, name }); }))),
    await pythonContender(python, HELPER, cacheProc.endpoint, 'warn'),
    await floorContender(cacheProc.endpoint),
    await floorContender(cacheProc.endpoint, 'child'),
    ...(process.env.FLMRUN_BENCH_RAW_FLOOR ? [await floorContender(cacheProc.endpoint, 'child-raw')] : []),
  ];
  const driver = spawn(python, [HELPER, 'drive', add!.toString('hex')], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = createInterface({ input: driver.stdout! })[Symbol.asyncIterator]();
  const block = async (c: Contender, count: number): Promise<number[]> => {
    driver.stdin!.write(`${c.socket} ${c.session} ${count}\n`);
    const line = await lines.next();
    if (line.done) throw new Error('driver closed');
    return JSON.parse(line.value) as number[];
  };
  const load0 = loadAverage();
  const acc = new Map(cs.map((c) => [c.name, { cpu: 0, childCpu: 0, childSw: 0, cacheCpu: 0, sw: 0, driverCpu: 0, tasks: 0, lat: [] as number[] }]));
  try {
    for (const c of cs) await block(c, 300);
    for (let r = 0; r < rounds; r++) {
      for (const c of r % 2 ? [...cs].reverse() : cs) {
        const a = acc.get(c.name)!;
        const u0 = usage(c.proc.pid);
        const ch0 = usage(c.proc.pid, 'children');
        const k0 = usage(cacheProc.pid);
        const d0 = usage(driver.pid!);
        a.lat.push(...(await block(c, n)));
        const u1 = usage(c.proc.pid);
        const ch1 = usage(c.proc.pid, 'children');
        a.childCpu += ch1.cpuMs - ch0.cpuMs;
        a.childSw += ch1.switches - ch0.switches;
        const k1 = usage(cacheProc.pid);
        const d1 = usage(driver.pid!);
        a.cpu += u1.cpuMs - u0.cpuMs;
        a.sw += u1.switches - u0.switches;
        a.cacheCpu += k1.cpuMs - k0.cpuMs;
        a.driverCpu += d1.cpuMs - d0.cpuMs;
        a.tasks += n;
      }
    }
  } finally {
    driver.stdin!.end();
    driver.kill();
    for (const c of cs) await c.close();
    await cacheProc.stop();
    removeTempDirs();
  }
  const py = summarize(acc.get('python-runner')!.lat).p50;
  process.stdout.write(`load average start ${load0.join(' / ')}, end ${loadAverage().join(' / ')}; ${rounds} x ${n} tasks each\n`);
  process.stdout.write('contender                          | runner CPU us/task (of it child) | ctx switches/task (child) | cache CPU us/task | driver CPU us/task | p50 ms | p50 vs python\n');
  for (const [name, a] of acc) {
    const p50 = summarize(a.lat).p50;
    process.stdout.write(
      `${name.padEnd(34)} | ${((a.cpu * 1000) / a.tasks).toFixed(0).padStart(18)} (${((a.childCpu * 1000) / a.tasks).toFixed(0)}) | ${(a.sw / a.tasks).toFixed(2).padStart(17)} (${(a.childSw / a.tasks).toFixed(2)}) | ${((a.cacheCpu * 1000) / a.tasks).toFixed(0).padStart(17)} | ${((a.driverCpu * 1000) / a.tasks).toFixed(0).padStart(18)} | ${p50.toFixed(2).padStart(6)} | ${(p50 / py).toFixed(2)}x\n`,
    );
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`task-cpu failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
