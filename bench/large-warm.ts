/**
 * Section 2's 1 MiB result over a fresh instance's first tasks and after:
 * the same task (`blob(1 MiB)`, its result stored in the cache) on fresh
 * instances of both runners, p50 by window of task numbers. Section 2 starts
 * fresh runners for each size and times 30 tasks, so its 1 MiB figure is the
 * first 30 tasks of an instance, while V8 still compiles the task path
 * (docs/warm-up.md).
 *
 *   npm run build && node -r ./bench/register.js bench/large-warm.ts [--reps 2] [--cache-endpoint URL] [--session-tunables VALUE ...]
 *
 * Each --session-tunables (it may be repeated) adds a contender in the same
 * turns: flmrun-js whose session processes get GLIBC_TUNABLES=VALUE
 * (FLMRUN_SESSION_GLIBC_TUNABLES) instead of the default glibc.malloc.hugetlb=1,
 * e.g. glibc.malloc.hugetlb=0.
 *
 * The Node gRPC driver of section 2 (bench/contenders.ts), the runners taking
 * turns task by task; each result is deleted from the cache after its task.
 * Without --cache-endpoint the results go to our embedded cache, in a process
 * of its own, as in section 2.
 */
import { parseArgs } from 'node:util';
import { CacheClient } from '../src/cache/client';
import { flmrunContender, pickledRequests, pythonContender } from './contenders';
import { memory, removeTempDirs, startCache } from './procs';
import { benchPython, HELPER } from './python';
import { MiB, since, summarize } from './stats';

const EDGES = [0, 30, 100, 200, 300];

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { reps: { type: 'string', default: '2' }, 'cache-endpoint': { type: 'string' }, 'session-tunables': { type: 'string', multiple: true } },
  });
  const tunables = values['session-tunables'] ?? [];
  const reps = Number(values.reps);
  const python = await benchPython();
  const embedded = values['cache-endpoint'] ? undefined : await startCache();
  const endpoint = values['cache-endpoint'] ?? embedded!.endpoint;
  const cache = new CacheClient({ endpoint });
  const [add, blob] = await pickledRequests(python, HELPER, [
    ['add', [5, 3], []],
    ['blob', [MiB], []],
  ]);
  const names = ['flmrun-js', 'python-runner', ...tunables.map((t) => `flmrun-js, ${t}`)];
  // [runner][window] -> per rep: p50 ms
  const p50s = names.map(() => EDGES.slice(1).map((): number[] => []));
  // [runner] -> per rep: RSS (MiB, all the runner's processes) after the first small task, after the last task, and their peak.
  const rss = names.map(() => ({ idle: [] as number[], end: [] as number[], peak: [] as number[] }));
  try {
    for (let rep = 0; rep < reps; rep++) {
      const contenders = [await flmrunContender(endpoint, 'warn'), await pythonContender(python, HELPER, endpoint, 'warn')];
      for (const t of tunables) contenders.push(await flmrunContender(endpoint, 'warn', { env: { FLMRUN_SESSION_GLIBC_TUNABLES: t } }));
      try {
        // As section 2: one small task first (the session is entered), then the 1 MiB tasks.
        for (const c of contenders) await c.invoke(add!);
        contenders.forEach((c, k) => rss[k]!.idle.push(memory(c.proc.pid).rss / MiB));
        const times = contenders.map((): number[] => []);
        for (let t = 0; t < EDGES[EDGES.length - 1]!; t++) {
          // The order rotates task by task.
          for (let j = 0; j < contenders.length; j++) {
            const k = (t + rep + j) % contenders.length;
            const start = process.hrtime.bigint();
            const ref = await contenders[k]!.invoke(blob!);
            times[k]!.push(since(start) * 1000);
            await cache.delete(ref.key);
          }
        }
        for (let k = 0; k < names.length; k++) {
          const m = memory(contenders[k]!.proc.pid);
          rss[k]!.end.push(m.rss / MiB);
          rss[k]!.peak.push(m.peak / MiB);
          for (let w = 0; w < EDGES.length - 1; w++) p50s[k]![w]!.push(summarize(times[k]!.slice(EDGES[w], EDGES[w + 1])).p50);
        }
      } finally {
        for (const c of contenders) await c.close();
      }
      process.stderr.write(`rep ${rep + 1}/${reps} done\n`);
    }
  } finally {
    await cache.close();
    await embedded?.stop();
    removeTempDirs();
  }
  const head = EDGES.slice(1).map((e, w) => `${EDGES[w]! + 1}-${e}`);
  const out = [
    `Node ${process.version}, ${reps} reps, cache ${values['cache-endpoint'] ?? 'embedded'}; p50 ms of a task returning 1 MiB, medians over the reps`,
    '',
    `| tasks of the instance | ${head.join(' | ')} |`,
    `|---|${head.map(() => '---|').join('')}`,
    ...names.map((name, k) => `| ${name} | ${p50s[k]!.map((x) => summarize(x).p50.toFixed(2)).join(' | ')} |`),
    // Each flmrun-js contender over the Python runner (names[1]).
    ...names.flatMap((name, k) =>
      k === 1 ? [] : [`| ${name} / python-runner | ${head.map((_, w) => (summarize(p50s[k]![w]!).p50 / summarize(p50s[1]![w]!).p50).toFixed(2) + 'x').join(' | ')} |`],
    ),
    '',
    '| RSS of the runner\'s processes, MiB | after the first small task | after task 300 | peak |',
    '|---|---|---|---|',
    ...names.map((name, k) => `| ${name} | ${[rss[k]!.idle, rss[k]!.end, rss[k]!.peak].map((x) => summarize(x).p50.toFixed(0)).join(' | ')} |`),
  ];
  process.stdout.write(`${out.join('\n')}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`large-warm failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
