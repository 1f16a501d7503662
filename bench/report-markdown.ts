/** The text of docs/benchmarks.md (see report.ts for the figures it is made of). */
import type { Results } from './report';
import { goals } from './report';
import { MiB, type Summary } from './stats';
import { sizeLabel } from './cache';
import type { EnterFigures } from './deps';
import { lateBlock, type ClusterResult, type ClusterRunner } from './cluster';

const f = (x: number, d = 2): string => (Number.isFinite(x) ? x.toFixed(d) : 'n/a');
const pp = (s: Summary, scale = 1, d = 2): string => `${f(s.p50 * scale, d)} | ${f(s.p99 * scale, d)}`;
const mib = (bytes: number): string => f(bytes / MiB, 0);

function table(head: string[], rows: string[][]): string {
  return [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');
}

export function renderMarkdown(r: Results, svgName: string): string {
  const m = r.machine;
  const out: string[] = [];
  out.push('# Benchmarks', '', ...gains(r), `Written by \`npm run bench\` (bench/run.sh) — do not edit by hand; run it again. This is a **${r.mode}** run` +
      (r.mode === 'quick' ? ' (`--quick`: fewer repetitions, for smoke runs; the figures are indicative only).' : '.'),
    '',
    `Run ${r.startedAt}, ${f(r.seconds / 60, 1)} minutes. Every figure is a median (p50) over repeated measurements with ` +
      'its spread (p99, nearest rank: with fewer than 100 samples p99 is the maximum); contenders take turns block by ' +
      'block in the same run and every ratio compares figures from this run.',
    '',
    '## Machine',
    '',
    table(
      ['', ''],
      [
        ['OS', `${m.os} (${m.kernel})`],
        ['CPU', `${m.cpu}, ${m.nproc} cores (nproc)`],
        ['memory', `${f(m.memGiB, 1)} GiB`],
        ['Node.js', m.node],
        ['Python', `${m.python}; flamepy ${m.flamepy}, pyarrow ${m.pyarrow}, grpcio ${m.grpcio}`],
        ['load average (1/5/15 min)', `start ${r.loadStart.join(' / ')}, end ${r.loadEnd.join(' / ')}`],
        ['log level of the runners', `FLAME_LOG=${r.logLevel} for both runners`],
        [
          'GLIBC_TUNABLES',
          r.glibcTunables === undefined
            ? 'not recorded (a run before the setting was recorded in its results)'
            : r.glibcTunables === null
              ? '`glibc.malloc.hugetlb=1` for our session processes (serve gives it), our cache clients (as session processes) and our cache process (as docker-compose.yml gives it); unset for every other process (serve, the Python runner, the pyarrow helper, the floor servers), as Flame starts serve and the Python runner'
              : `\`${r.glibcTunables}\` for every process of the bench (set when it started)`,
        ],
      ],
    ),
    '',
  );
  if (r.loadStart[0]! > m.nproc * 0.5 || r.loadEnd[0]! > m.nproc * 0.5) {
    out.push(`> **The machine was busy** (load average above half its ${m.nproc} cores): other work shared the CPUs, so absolute figures are pessimistic and noisy; ratios from the same run are the more reliable reading.`, '');
  }

  const gs = goals(r);
  out.push('## Goals (issues 5 and 14)', '', table(['goal', 'measured', ''], gs.map((g) => [g.goal, g.measured, g.met ? 'met' : '**missed**'])), '');
  out.push(`![benchmark chart](${svgName})`, '');

  if (r.small) {
    const py = r.small.find((s) => s.name === 'python-runner');
    const floor = r.small.find((s) => s.name === 'floor');
    out.push(
      '## 1. Small task round trip',
      '',
      `OnTaskInvoke of \`add(5, 3)\` over a Unix socket, ${r.smallN} sequential tasks per contender, from the same Node gRPC ` +
        'driver, the task input being the same bytes for both runners (a cloudpickled `RunnerRequest`, as the Python SDK sends). ' +
        'Each task includes the result\'s DoPut into the same object cache (`flmrun-js cache`, its own process) and the ObjectRef reply. ' +
        'The floor is bench/floor-server.ts: a grpc-js Instance server that answers each call after one DoPut of the same result bytes, with no decoding, worker or user code; ' +
        'its two parts are also timed alone: the same server answering at once (gRPC echo only), and the DoPut from the driver (our CacheClient).',
      '',
      table(
        ['contender', 'p50 ms', 'p99 ms', 'tasks/s', 'p50 vs Python runner', 'p50 vs floor'],
        r.small.map((s) => [
          s.name,
          f(s.latency.p50),
          f(s.latency.p99),
          f(s.tasksPerSecond, 0),
          py ? `${f(s.latency.p50 / py.latency.p50)}x` : '',
          floor ? `${f(s.latency.p50 / floor.latency.p50)}x` : '',
        ]),
      ),
      '',
      ...smallFindings(r),
    );
  }
  if (r.smallGrpcio) {
    const py = r.smallGrpcio.find((s) => s.name === 'python-runner');
    out.push(
      '### 1b. The same tasks, driven as Flame drives them',
      '',
      'Flame\'s executor manager calls the runner through gRPC\'s C core (Rust), not grpc-js; this driver is Python grpcio ' +
        '(bench/py/helper.py `drive`, one process for both runners, blocks of tasks alternating), whose C core behaves alike. ' +
        'Same input, same cache, same sockets as above. The floors are bench/floor-server.ts: `floor` answers after one DoPut; ' +
        '`floor: DoPut in a child process` hands each task to a forked child over Node IPC, which does the DoPut: the least a runner that keeps user code out of its gRPC process pays.',
      '',
      table(
        ['runner', 'p50 ms', 'p99 ms', 'tasks/s', 'p50 vs Python runner'],
        r.smallGrpcio.map((s) => [s.name, f(s.latency.p50), f(s.latency.p99), f(s.tasksPerSecond, 0), py ? `${f(s.latency.p50 / py.latency.p50)}x` : '']),
      ),
      '',
    );
  }
  if (r.cluster) out.push(...clusterSection(r.cluster));
  if (r.large) {
    out.push(
      '## 2. Large results',
      '',
      'A task returning a bytes object (`Buffer.alloc(n, 1)` in JavaScript, `b"\\x01" * n` in Python: filled, so that the pages count in RSS), stored in the cache by the runner. Throughput is size / p50 task time. ' +
        'Each size runs on fresh runner processes: idle RSS is read after session enter and one small task, peak is VmHWM (reset through ' +
        '`/proc/<pid>/clear_refs`) over the size\'s tasks. For flmrun-js the figure includes its session process (the sum of both processes\' peaks, an upper bound).',
      '',
      table(
        ['size', 'contender', 'p50 s', 'p99 s', 'MiB/s', 'vs Python', 'idle RSS MiB', 'peak RSS MiB', '(peak − idle) / size', 'peak / size'],
        r.large.map((l) => {
          const py = r.large!.find((x) => x.sizeMiB === l.sizeMiB && x.name === 'python-runner');
          return [
            `${l.sizeMiB} MiB`,
            l.name,
            f(l.time.p50, 3),
            f(l.time.p99, 3),
            f(l.mbPerS, 0),
            py ? `${f(l.mbPerS / py.mbPerS)}x` : '',
            mib(l.idleRss),
            mib(l.peak),
            `${f((l.peak - l.idleRss) / (l.sizeMiB * MiB))}x`,
            `${f(l.peak / (l.sizeMiB * MiB))}x`,
          ];
        }),
      ),
      '',
      'The RSS goal is read on (peak − idle) / size — what returning the object cost — for 64 and 256 MiB; at 1 MiB the runtime\'s own warm-up ' +
        'over the repetitions (JIT, heap growth, gRPC buffers) is larger than the object, so that row is shown but not judged.',
      '',
      'Each size starts fresh runners, so the 1 MiB row is an instance\'s first 30 tasks, while V8 still compiles flmrun-js\'s task path. ' +
        'Over tasks 101-200 of an instance the same task ran 0.87-0.92x the Python runner\'s p50 in three runs (`bench/large-warm.ts`, docs/warm-up.md).',
      '',
    );
  }
  if (r.refs) {
    out.push(
      '## 3. ObjectRef arguments',
      '',
      'A task `total(...bufs)` given 8 ObjectRef arguments of 8 MiB each (resolved by the runner, at most 8 at once in both), against the same task ' +
        'given one 8 MiB ref. The refs carry version 0, so both runners fetch every time (flamepy would otherwise revalidate its own copy).',
      '',
      table(
        ['contender', '1 ref p50 ms', '1 ref p99 ms', '8 refs p50 ms', '8 refs p99 ms', '8 refs / 1 ref', '8 refs MiB/s'],
        r.refs.map((x) => [x.name, pp(x.one, 1, 0), pp(x.eight, 1, 0), `${f(x.eight.p50 / x.one.p50)}x`, f(64 / (x.eight.p50 / 1000), 0)]),
      ),
      '',
      ...refsFindings(r),
    );
  }
  if (r.cache) {
    const c = r.cache;
    out.push(
      '## 4. Object cache',
      '',
      `Put and get of one object against ${c.server === 'flmrun-js cache (embedded)' ? 'our server (`flmrun-js cache`, its own process)' : `the Flight server at ${c.server} (\`--cache-endpoint\`)`}, ` +
        'with our client (`CacheClient`, Node: its default transport, DoPut/DoGet over its own minimal HTTP/2 client, and the same client on grpc-js) and with pyarrow.flight ' +
        '(a one-row batch, as flamepy puts a value), each client in a process of its own (ours: one Node process per transport, running the build, as a session process runs it; pyarrow: the helper\'s Python process), taking turns round by round after an untimed warm-up (300 pairs of 16 B and 10 of 1 MiB ' +
        'per client and server: a Node process compiles its hot code during its first few hundred calls). Loopback TCP: one Node stream between two processes, ' +
        `${c.tcpMiB} MiB per transfer — the ceiling any gRPC transfer here works under.`,
      '',
      table(
        ['size', 'op', 'ours p50 ms', 'ours p99 ms', 'ours on grpc-js p50 ms', 'pyarrow p50 ms', 'pyarrow p99 ms', 'pyarrow / ours (> 1: ours faster)'],
        c.results.map((x) => [
          sizeLabel(x.bytes),
          x.op,
          f(x.ours.p50 * 1000, 3),
          f(x.ours.p99 * 1000, 3),
          f(x.oursGrpcJs.p50 * 1000, 3),
          f(x.pyarrow.p50 * 1000, 3),
          f(x.pyarrow.p99 * 1000, 3),
          `${f(x.pyarrow.p50 / x.ours.p50)}x`,
        ]),
      ),
      '',
      ...(c.results.some((x) => x.embedded)
        ? [
            `The two servers with the same client: pyarrow.flight against ${c.server} (the table above) and against our embedded server (\`flmrun-js cache\`, its own process), in the same rounds.`,
            '',
            table(
              ['size', 'op', `${c.server} p50 ms`, 'our server p50 ms', 'our server p99 ms', 'ours / theirs (< 1: ours faster)'],
              c.results.flatMap((x) =>
                x.embedded
                  ? [[sizeLabel(x.bytes), x.op, f(x.pyarrow.p50 * 1000, 3), f(x.embedded.pyarrow.p50 * 1000, 3), f(x.embedded.pyarrow.p99 * 1000, 3), `${f(x.embedded.pyarrow.p50 / x.pyarrow.p50)}x`]]
                  : [],
              ),
            ),
            '',
          ]
        : []),
      'CPU time per operation, p50 ms of the client\'s own process (all its threads). On a shared machine wall time mostly measures the wait ' +
        'for a core; CPU time is what each client costs.',
      '',
      table(
        ['size', 'op', 'ours CPU ms', 'ours on grpc-js CPU ms', 'pyarrow CPU ms', 'pyarrow / ours (> 1: ours cheaper)'],
        c.results.map((x) => [sizeLabel(x.bytes), x.op, f(x.cpu.ours.p50 * 1000, 3), f(x.cpu.oursGrpcJs.p50 * 1000, 3), f(x.cpu.pyarrow.p50 * 1000, 3), `${f(x.cpu.pyarrow.p50 / x.cpu.ours.p50)}x`]),
      ),
      '',
      ...serverCpuTable(c),
      `Loopback TCP: ${f(c.tcp.p50, 0)} MiB/s p50 (min ${f(c.tcp.min, 0)}, max ${f(c.tcp.max, 0)}).`,
      '',
    );
  }
  if (r.packages) {
    const p = r.packages;
    out.push(
      '## 5. Session enter with a package',
      '',
      `OnSessionEnter with \`application.url\` = file:// a ${f(p.archiveMB, 1)} MB .tgz (${p.entries} entries, incompressible content) on ` +
        '`flmrun-js serve --keep-extracted`, timed from the call on a connected channel (Flame\'s executor manager connects once, then enters). Cold: a fresh instance and work directory (hash, decompress, check every entry, extract, ' +
        'start the session process, load the module). Warm: the same archive again (hashed again unless serve remembers its hash for the unchanged file, extracted tree reused). Against `tar xzf` of the same file.',
      '',
      table(
        ['', 'p50 ms', 'p99 ms', 'vs tar xzf'],
        [
          ['tar xzf', ...pp(p.tar, 1000, 0).split(' | '), '1.00x'],
          ['cold enter', ...pp(p.cold, 1000, 0).split(' | '), `${f(p.cold.p50 / p.tar.p50)}x`],
          ['warm enter', ...pp(p.warm, 1000, 0).split(' | '), `${f(p.warm.p50 / p.tar.p50)}x`],
        ],
      ),
      '',
    );
  }
  if (r.deps) {
    const d = r.deps;
    const cells = (label: string, e: EnterFigures): string[] => [label, f(e.cold.p50 * 1000, 0), f(e.next.p50 * 1000, 0), f(e.other.p50 * 1000, 0)];
    const ratio = (label: string, a: EnterFigures, b: EnterFigures): string[] => [
      label, `${f(a.cold.p50 / b.cold.p50)}x`, `${f(a.next.p50 / b.next.p50)}x`, `${f(a.other.p50 / b.other.p50)}x`,
    ];
    out.push(
      '### Packages with npm dependencies',
      '',
      'OnSessionEnter of four small .tgz packages on `flmrun-js serve` as Flame starts it (no `--keep-extracted`: a tree is removed when its last session leaves). ' +
        `Three libraries (${d.files} files in all: modules, index.js and package.json), either carried as files of the package or declared as npm dependencies ` +
        '(`file:` specs, so npm installs them offline), loaded by the module at enter; a fourth package declares the same dependencies and loads them only when a method is called, ' +
        'next to the package without the libraries: what the dependencies themselves cost an enter (their key, the lock, the link to the installed tree), their code aside. ' +
        (d.paired
          ? `Each package with dependencies is measured side by side with the one it is compared with, in ${d.bare.cold.n} rounds (the two pairs taking turns). ` +
            'Cold: each of the two on a fresh instance and working directory (npm installs the dependencies). ' +
            `Next session: the instance of the cold enter with dependencies enters both packages again, ${d.bare.next.n / d.bare.cold.n} times each, taking turns ` +
            "(each tree is extracted again; the dependencies come from the working directory's store). " +
            `Another process: ${(d.bare.other.n + d.lazyDeps.other.n) / d.bare.cold.n} more instances on that working directory, one after the other, each entering one of the two, taking turns. `
          : `The packages take turns round by round (${d.bare.cold.n} rounds). Cold: a fresh instance and working directory (npm installs the dependencies). Next session: the same process enters again (the tree is extracted again; the dependencies come from the ` +
            `working directory's store). Another process: ${d.bare.other.n / d.bare.cold.n} more instances on the same working directory, one after the other, started after the first one's sessions (each round and package: one cold enter, ${d.bare.next.n / d.bare.cold.n} next sessions). `) +
        `Before each enter the bench waits ${f((d.waitMs ?? 1000) / 1000, 1)} s, so that the ` +
        "instance's spare session process has booted. After each cold enter the dependencies' sources are moved away, so that npm running again would fail the enter; " +
        `an \`npm\` on the instances' PATH counts its runs: **npm ran ${d.npmRuns} times in ${d.depsColdEnters} cold enters** of the packages with dependencies.`,
      '',
      table(
        ['package (p50 ms)', 'cold', 'next session', 'another process'],
        [
          cells('libraries carried in the package', d.plain),
          cells('libraries as npm dependencies', d.withDeps),
          cells('npm dependencies, loaded when called', d.lazyDeps),
          cells('no libraries', d.bare),
          ratio('dependencies / carried (same code)', d.withDeps, d.plain),
          ratio('dependencies not loaded / no libraries', d.lazyDeps, d.bare),
        ],
      ),
      '',
    );
  }
  if (r.steady) {
    const s = r.steady;
    out.push(
      '## 6. Steady state',
      '',
      `${s.tasks} sequential small tasks on one flmrun-js session (${f(s.seconds, 0)} s). RSS is read from /proc every ${Math.floor(s.tasks / 100)} tasks. ` +
        'Event-loop delay is measured inside the service by bench/diag-preload.js (loaded with `node -r`, no change to src/): ' +
        '`perf_hooks.monitorEventLoopDelay` in the serve process\'s main thread and in the session process, one histogram per second; ' +
        'the table gives the median over the seconds of each second\'s p50 and p99, and the largest delay seen (delay beyond the 10 ms sampling interval). ' +
        'The first 20% of the run is warm-up (JIT, heap sizing) and is left out of the growth figure; the whole trace is below the tables.',
      '',
      table(
        ['RSS 20–40% (median)', 'RSS last 20% (median)', 'growth', 'max RSS', 'task p50 ms', 'task p99 ms'],
        [[`${mib(s.rssEarly)} MiB`, `${mib(s.rssLate)} MiB`, `${f((s.rssLate - s.rssEarly) / MiB, 1)} MiB`, `${mib(s.rssMax)} MiB`, f(s.latency.p50), f(s.latency.p99)]],
      ),
      '',
      table(
        ['thread', 'seconds sampled', 'event-loop delay p50 ms', 'p99 ms', 'max ms'],
        s.eventLoop.map((e) => [e.thread, String(e.intervals), f(e.p50), f(e.p99), f(e.max)]),
      ),
      '',
      'RSS over the run (MiB, every 10%): ' +
        s.rss.filter((_, i) => i % 10 === 0).map(([, v]) => mib(v)).join(' → '),
      '',
    );
    out.push(
      "What grew in earlier runs of this length (+15 to +19 MiB on Node 20) was the session process's young generation. V8 starts it at " +
        "1 MiB per semi-space, and Node 20's V8 doubles it only as objects surviving its collections add up, up to the 16 MiB cap the " +
        'session process had: under small tasks it reached the cap near task 50,000 (new space 8 → 14 → 28 MiB of pages, ' +
        '`v8.getHeapSpaceStatistics()` read every second by bench/diag-preload.js, session 19). The session process now has it at one ' +
        'fixed size, 8 MiB per semi-space (`--min-semi-space-size=8 --max-semi-space-size=8`). Runs of `npm run bench -- --only steady ' +
        "--no-doc` in the same hours, each Node line from the registry (growth; the session process's RSS at the end of the run):",
      '',
      table(
        ['Node', "V8's sizing, cap 16 (before)", 'fixed at 16', 'fixed at 8 (now)'],
        [
          ['20', '+14.9, +17.8 MiB; 103 MiB', '−3.4 to −6.3 MiB (five runs); 108–109 MiB', '−5.5, −4.2 MiB; 94 MiB'],
          ['24', '+14.8, −3.5 MiB; 98–118 MiB', '+10.3 MiB; 138 MiB', '+4.9 MiB; 112 MiB'],
          ['22', '+41.6 MiB; 96 MiB', 'not run', '+24.9 MiB; 98 MiB'],
        ],
      ),
      '',
      "Node 24's V8 also shrinks the young generation (to 3.5–13 MiB of pages in these runs), so a fixed 16 cost it some 20 MiB. " +
        'CPU per small task did not differ beyond noise (`bench/task-cpu.ts`, Node 20 and 24), nor did two throwaway allocation-heavy ' +
        'workloads run with both caps (a JSON parse and map of 200,000 objects; 2,000 concurrent requests holding objects across timers). ' +
        "On Node 22 the serve process is what grows (81–88 → 145–151 MiB, its old space filling to 39 MiB before its first large " +
        "mark-compact); its V8 flags are its command's (`NODE_OPTIONS`). It is a plateau, not a leak: a Node 22 run of 300,000 tasks " +
        '(session 20, `--steady-n 300000`) gave +4.8 MiB (255 → 260 MiB, the goal met), serve at 146 MiB by task 60,000 and 153–155 MiB ' +
        'from task 90,000 to the end (its old space back to 12–17 MiB used after that mark-compact, the pages kept), the session process ' +
        "99–108 MiB throughout. What still rises from 20% to about 50% of a Node 20 run, and " +
        'falls after, is old generations filling up to their first large mark-compact: in the session process 10 → 25 MiB of old space ' +
        'used, then 8–11 MiB to the end; in serve 17 → 27, then 12–16.',
      '',
    );
    if (s.tasks < 400_000) {
      out.push(
        'A longer run, 400,000 tasks (`npm run bench -- --only steady --steady-n 400000 --no-doc`, session 15, before that change), reached its plateau by task 80,000 and stayed on it: ' +
          '227 MiB over 20–40% of the run, 228 MiB over the last 20% (+0.2 MiB, the goal met), each process flat from then on (serve 125 MiB, the session process 102–103 MiB). ' +
          "So a shorter run's growth was the heap still sizing up during its 20–40%, not a leak.",
        '',
      );
    }
  }
  if (r.profiles?.length) {
    const heaviest = r.profiles
      .map((p) => {
        const t = p.top.find((x) => !x.fn.startsWith('('));
        return t ? `${p.thread}: \`${t.fn}\` ${f(t.pct, 1)}%` : undefined;
      })
      .filter((x) => x !== undefined);
    out.push(
      '## Where the small-task time goes (CPU profile)',
      '',
      'flmrun-js under V8\'s sampling profiler (bench/cpu-prof-preload.js, 1 ms interval) while serving small tasks; self time by area and the heaviest functions, ' +
        'per process (serve, and the session process that runs user code and puts the result; idle excluded from the function list). ' +
        `Heaviest function by thread — ${heaviest.join('; ')}.`,
      '',
    );
    for (const p of r.profiles) {
      out.push(
        `**${p.thread}** (${f(p.totalMs, 0)} ms sampled): ` + p.areas.slice(0, 7).map((a) => `${a.area} ${f(a.pct, 0)}%`).join(', '),
        '',
        table(['function', 'where', 'self %'], p.top.slice(0, 8).map((t) => [`\`${t.fn}\``, t.where ? `\`${t.where}\`` : '', f(t.pct, 1)])),
        '',
      );
    }
  }
  out.push(...NOTES, '## Reproduce', '', '```sh', r.command, '```', '', REPRODUCE, '');
  return out.join('\n');
}

/** The server's CPU per put + get pair (read from /proc while each client took its turn), where the server's pid was known. */
function serverCpuTable(c: NonNullable<Results['cache']>): string[] {
  const rows = c.serverCpu.filter((s) => s.server || s.embedded !== undefined);
  if (rows.length === 0) return [];
  const ms = (v: number | undefined): string => (v === undefined ? '–' : f(v * 1000, 2));
  const external = c.server !== 'flmrun-js cache (embedded)';
  return [
    `Server CPU ms per put + get pair${external ? ` (${c.server})` : ' (our embedded server)'}, by client${external ? ', and our embedded server with pyarrow in the same rounds' : ''}:`,
    '',
    table(
      ['size', 'client: ours', 'ours on grpc-js', 'pyarrow', ...(external ? ['our embedded server, pyarrow'] : [])],
      rows.map((s) => [sizeLabel(s.bytes), ms(s.server?.ours), ms(s.server?.oursGrpcJs), ms(s.server?.pyarrow), ...(external ? [ms(s.embedded)] : [])]),
    ),
    '',
  ];
}

/** What moving the bytes alone costs, from this run's loopback figure, against the 8-ref goal (1.5x one ref). */
function refsFindings(r: Results): string[] {
  const flm = r.refs?.find((x) => x.name === 'flmrun-js');
  const tcp = r.cache?.tcp.p50;
  if (!flm || !tcp) return [];
  const moveMs = (64 / tcp) * 1000;
  return [
    `Reading: 8 refs are 64 MiB to fetch. At this run's loopback TCP rate (${f(tcp, 0)} MiB/s, one stream, section 4; our client multiplexes its gets ` +
      `on one HTTP/2 connection) moving them alone takes ${f(moveMs, 1)} ms, ${f(moveMs / flm.one.p50)}x the one-ref task's p50 (${f(flm.one.p50, 1)} ms)` +
      (moveMs > 1.5 * flm.one.p50
        ? ': the goal of 1.5x one ref is below what the transfer itself costs on this machine.'
        : '; the transfer alone does not rule the goal out.'),
    '',
  ];
}

function smallFindings(r: Results): string[] {
  const p50 = (name: string): number => r.small?.find((s) => s.name === name)?.latency.p50 ?? NaN;
  const [flm, py, floor, echo, put] = ['flmrun-js', 'python-runner', 'floor', 'floor: gRPC echo only', 'floor: DoPut only'].map(p50) as [number, number, number, number, number];
  if (![flm, py, floor, echo, put].every(Number.isFinite)) return [];
  return [
    `Reading: flmrun-js spends ${f(flm - floor)} ms per task above the floor (decoding the request, the hop to the session process and back, ` +
      `encoding the value, ObjectRef handling). The floor itself is ${f(floor)} ms: ${f(echo)} ms for the gRPC call alone and ${f(put)} ms for a DoPut ` +
      `from our CacheClient alone. The goal of a third of the Python runner (${f(py / 3)} ms) is ${
        py / 3 < put
          ? 'below what one DoPut from Node costs here, so no runner built on this cache client can meet it'
          : py / 3 < floor
            ? `below the floor itself (${f(floor / py)}x the Python runner here), so no runner built on grpc-js and this cache client can meet it on this machine`
            : 'within reach of the floor'
      }; ` +
      'the CPU profile below shows where the rest goes.',
    '',
  ];
}

const NOTES = [
  '## Reading these numbers',
  '',
  '- All processes (driver, runner, object cache) share the machine; on 2 cores the driver, the runner and the cache compete for CPU, ' +
    'which is the same for every contender.',
  '- flmrun-js runs user code in a session process of its own (isolation, time limits, heap limits); each task crosses from the serve ' +
    'process to the session process and back over a socketpair, and the session process does the cache put. The floor `floor` has none ' +
    'of that; `floor: DoPut in a child process` adds the crossing and stands for the least a runner with isolation can cost.',
  '- The Python runner (flamepy 0.6.0) is started as Flame starts it: `python -m flamepy.runner.runpy`, FLAME_INSTANCE_ENDPOINT and ' +
    'FLAME_CACHE_ENDPOINT in its environment; its execution object is a class defined in the helper script\'s `__main__`, which ' +
    'cloudpickle ships by value inside the RunnerContext — no package install is involved (the Python runner installs nothing itself).',
  '- Our cache client sends DoPut and DoGet with gRPC framing written in src/cache/transport.ts over a minimal HTTP/2 client of its own ' +
    '(src/cache/h2: frames, HPACK decoding, flow control), not node:http2, whose per-request stream objects cost more than pyarrow\'s ' +
    'whole small put; large bodies are written as their own parts, not copied into one framed message. The section 4 table keeps the ' +
    'same client on grpc-js as a reference. On a loaded machine each event-loop wake-up waits for a core.',
  '- Benchmarks are not tests: nothing here fails on speed, and `npm test` never runs them.',
  '',
];

/** The first task of the late half of the blocks (bench/cluster.ts `late`; 1-based, counting the session's untimed first task). */
function lateFrom(c: ClusterResult): number {
  const blocks = c.runners[0]?.blocks.length ?? 0;
  return 2 + lateBlock(blocks) * c.blockSize;
}

function clusterSection(c: ClusterResult): string[] {
  const blocks = c.runners[0]?.blocks.length ?? 0;
  const py = c.runners.find((x) => x.name === 'python-runner');
  const ratio = (a: Summary, b: Summary | undefined): string => (b ? `${f(a.p50 / b.p50)}x` : '');
  return [
    '### 1c. The same task through a live Flame cluster',
    '',
    `\`add(5, 3)\` as a flamepy client sees it (\`Session.invoke\`, then the ObjectRef it answers): through Flame's session manager at ${c.flameEndpoint}, ` +
      `its executor manager (which starts each runner as registered: \`flmrun-js serve\` with the package's url, \`python -m flamepy.runner.runpy\`) and its object cache at ${c.cacheEndpoint} (\`--flame-endpoint\`, \`--cache-endpoint\`). ` +
      `One session per runner (one instance each), opened by an untimed first task (the bind and session enter), then ${blocks} blocks of ${c.blockSize} tasks per session in turns. ` +
      'Each runner\'s instance is fresh at the first block: V8 compiles and optimizes flmrun-js\'s task path while it serves, so an instance\'s first hundreds of tasks cost more than later ones; ' +
      'the blocks in order show that curve. Flame\'s own hops (client to session manager, session manager to executor manager and back) are in every figure.',
    '',
    table(
      ['runner', `first ${c.blockSize} p50 ms`, `tasks ${lateFrom(c)} on, p50 ms`, 'p99 ms (late)', 'first vs Python runner', 'late vs Python runner'],
      c.runners.map((x) => [x.name, f(x.first.p50), f(x.late.p50), f(x.late.p99), ratio(x.first, py?.first), ratio(x.late, py?.late)]),
    ),
    '',
    table(
      ['block (tasks)', ...c.runners.map((x) => `${x.name} p50 ms`)],
      Array.from({ length: blocks }, (_, i) => [`${2 + i * c.blockSize}-${1 + (i + 1) * c.blockSize}`, ...c.runners.map((x) => f(x.blocks[i]!.p50))]),
    ),
    '',
  ];
}

/** What a user gains (or loses) against Flame's Python runner: the opening table, each row from this run. */
function gains(r: Results): string[] {
  const rows: string[][] = [];
  const p50 = (xs: { name: string; latency: Summary }[] | undefined, name: string): number => xs?.find((x) => x.name === name)?.latency.p50 ?? NaN;
  const row = (what: string, ours: number, theirs: number, unit: string, lowerIsBetter: boolean, d = 2): void => {
    if (!Number.isFinite(ours) || !Number.isFinite(theirs)) return;
    const better = lowerIsBetter ? theirs / ours : ours / theirs;
    // Within rounding of 1.00 either way the two are at par: "1.00x better" or "1.00x worse" would claim a side.
    const verdict = f(better) === f(1) || f(1 / better) === f(1) ? 'at par (1.00x)' : better > 1 ? `**${f(better)}x better**` : `${f(1 / better)}x worse`;
    rows.push([what, `${f(ours, d)} ${unit}`, `${f(theirs, d)} ${unit}`, verdict]);
  };
  row('small task p50, driven as Flame drives it (grpcio)', p50(r.smallGrpcio, 'flmrun-js'), p50(r.smallGrpcio, 'python-runner'), 'ms', true);
  row('small task p50, grpc-js driver', p50(r.small, 'flmrun-js'), p50(r.small, 'python-runner'), 'ms', true);
  const cl = (name: string): ClusterRunner | undefined => r.cluster?.runners.find((x) => x.name === name);
  const [clA, clB] = [cl('flmrun-js'), cl('python-runner')];
  if (clA && clB) {
    row(`small task p50 through a Flame cluster (flamepy client), a session's first ${r.cluster!.blockSize} tasks`, clA.first.p50, clB.first.p50, 'ms', true);
    row(`small task p50 through a Flame cluster (flamepy client), tasks ${lateFrom(r.cluster!)} on`, clA.late.p50, clB.late.p50, 'ms', true);
  }
  for (const size of [...new Set(r.large?.map((l) => l.sizeMiB))]) {
    const a = r.large!.find((l) => l.sizeMiB === size && l.name === 'flmrun-js');
    const b = r.large!.find((l) => l.sizeMiB === size && l.name === 'python-runner');
    if (a && b) row(`${size} MiB result, throughput`, a.mbPerS, b.mbPerS, 'MiB/s', false, 0);
    if (a && b && size >= 64) row(`${size} MiB result, peak RSS growth`, (a.peak - a.idleRss) / MiB, (b.peak - b.idleRss) / MiB, 'MiB', true, 0);
  }
  const refA = r.refs?.find((x) => x.name === 'flmrun-js');
  const refB = r.refs?.find((x) => x.name === 'python-runner');
  if (refA && refB) row('task with 8 ObjectRef arguments of 8 MiB, p50', refA.eight.p50, refB.eight.p50, 'ms', true, 0);
  for (const c of r.cache?.results ?? []) row(`cache ${c.op} ${sizeLabel(c.bytes)}: our client vs pyarrow (flamepy's), p50`, c.ours.p50 * 1000, c.pyarrow.p50 * 1000, 'ms', true, 3);
  if (rows.length === 0) return [];
  return [
    '## What you gain against Flame\'s Python runner',
    '',
    `From the run below (${r.mode}, load average ${r.loadStart.join(' / ')} at the start on ${r.machine.nproc} cores); every ratio compares figures measured side by side.`,
    '',
    table(['', 'flmrun-js', 'Python runner (flamepy 0.6.0)', 'flmrun-js is'], rows),
    '',
  ];
}

const REPRODUCE = [
  '`npm run bench` builds (tsc), creates the bench\'s Python venv (bench/venv.sh → bench/.venv, the pins of scripts/test-venv.sh: flamepy 0.6.0, ',
  'pyarrow, grpcio, cloudpickle, pymongo from PyPI) on first use, runs everything (under 15 minutes on 2 cores) and writes this file and ',
  'the chart. `npm run bench -- --quick` is a smoke run of a few minutes. Options: `--only small,cluster,large,refs,cache,packages,steady`, ',
  '`--cache-endpoint grpc://host:port` (the cache section against another Flight server, e.g. Flame\'s own object cache; default our embedded one), ',
  '`--flame-endpoint http://host:port` (section 1c through a live Flame cluster: its session manager, with its object cache as `--cache-endpoint`; ',
  'the bench registers two applications there whose commands are this checkout\'s build and the bench venv\'s Python, so the cluster\'s executor manager must run on this machine), ',
  '`--small-n N` (default 10000), `--steady-n N` (default 100000), `--profile` (profile even when the goals are met), ',
  '`--no-doc` (print only), `--render FILE` (rewrite this file and the chart from a saved results.json). Raw results: bench/out/results.json; process logs: bench/out/logs/. ',
  'FLMRUN_BENCH_PYTHON=/path/to/python uses another Python with the same packages.',
].join('');
