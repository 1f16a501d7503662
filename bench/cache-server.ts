/**
 * The embedded cache server as pyarrow.flight (Flame's clients) sees it:
 * p50 put and get of 16 B, 1 MiB and 64 MiB objects (one row, as flamepy
 * sends a value), with servers built from several `--dist` directories and
 * servers already running (`--endpoint URL[@PID]`, e.g. Flame's own object
 * cache) taking turns in the same run, so that before/after (or another
 * server) compare side by side. Each server runs in its own process. With a
 * pid known (always for a --dist server), the server's CPU time per put + get
 * is reported too (/proc; on a shared machine wall time mostly measures the
 * wait for a core).
 *
 * `--floor` adds bench/cache-floor-server.js: bare node:http2 answering fixed
 * bytes (a 16-byte object), what any Node server of this protocol pays per
 * call; its figures mean something for 16 B only.
 *
 *   node -r ./bench/register.js bench/cache-server.ts [--dist DIR]... [--endpoint grpc://host:port[@PID]]... [--floor] [--rounds N] [--warm N16B]
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { loadAverage, processCpu } from './cache';
import { encodeFramedFlightData } from '../src/cache/flight-data';
import { ANSWER_SCHEMA_HEADER, encodeRow } from '../src/cache/opaque';
import { putResultDocument } from '../src/cache/server/put-result';

const args = process.argv.slice(2);
const dists = args.flatMap((a, i) => (args[i - 1] === '--dist' ? [path.resolve(a)] : []));
const externals = args.flatMap((a, i) => (args[i - 1] === '--endpoint' ? [a] : []));
const floor = args.includes('--floor');
if (dists.length === 0 && externals.length === 0 && !floor) dists.push(path.resolve('dist'));
const roundsAt = args.indexOf('--rounds');
const rounds = roundsAt >= 0 ? Number(args[roundsAt + 1]) : 3;
const warmAt = args.indexOf('--warm');
/** Untimed put + get pairs (size, count) per server before the rounds; `--warm 0` measures cold servers. */
const warmUp: [number, number][] = warmAt >= 0 && Number(args[warmAt + 1]) === 0 ? [] : [[16, warmAt >= 0 ? Number(args[warmAt + 1]) : 600], [1 << 20, 20]];
const localVenv = path.resolve('.test-venv/bin/python');
const python = process.env.FLMRUN_BENCH_PYTHON ?? process.env.FLMRUN_TEST_PYTHON ?? (existsSync(localVenv) ? localVenv : 'python3');
const helper = path.join(__dirname, 'py', 'helper.py');

const CHILD = `
const dist = process.argv[1];
let mod;
try { mod = require(dist + '/cache/server/cache-server.js'); } catch { mod = require(dist + '/cache/server.js'); }
new mod.CacheServer({ port: 0 }).start().then((e) => process.stdout.write(e + '\\n'));
process.on('SIGINT', () => process.exit(0)); // so that --cpu-prof writes its profile
setInterval(() => undefined, 1 << 30);
`;

interface Server {
  name: string;
  endpoint: string;
  pid?: number;
  child?: ChildProcess;
}

async function start(dist: string | undefined): Promise<Server> {
  const nodeArgs = process.env.BENCH_NODE_ARGS?.split(' ').filter(Boolean) ?? [];
  const script = dist === undefined ? [path.join(__dirname, 'cache-floor-server.js'), ...floorAnswers()] : ['-e', CHILD, dist];
  const child = spawn(process.execPath, [...nodeArgs, ...script], { stdio: ['ignore', 'pipe', 'inherit'] });
  const endpoint = await new Promise<string>((resolve) => child.stdout!.once('data', (d: Buffer) => resolve(d.toString().trim())));
  return { name: dist ?? 'floor (bare node:http2)', endpoint, pid: child.pid, child };
}

/** The floor server's fixed answers, hex: a framed PutResult and a framed DoGet answer of 16 bytes. */
function floorAnswers(): [string, string] {
  const doc = putResultDocument('grpc://127.0.0.1:1', 'bench/pyarrow/floor', 1);
  // PutResult { bytes app_metadata = 1; } (the document is under 128 bytes: a one-byte length), with its gRPC prefix.
  const putResult = Buffer.concat([Buffer.from([0, 0, 0, 0, doc.length + 2, 0x0a, doc.length]), doc]);
  const row = encodeRow(1, 'base', [Buffer.alloc(16, 7)]);
  const answer = Buffer.concat([
    encodeFramedFlightData({ data_header: ANSWER_SCHEMA_HEADER }),
    encodeFramedFlightData({ data_header: row.header, data_body: row.body }),
  ]);
  return [putResult.toString('hex'), answer.toString('hex')];
}

/** `URL` or `URL@PID`. */
function external(spec: string): Server {
  const at = spec.lastIndexOf('@');
  const pid = at > 0 ? Number(spec.slice(at + 1)) : NaN;
  return Number.isInteger(pid) && pid > 0 ? { name: spec.slice(0, at), endpoint: spec.slice(0, at), pid } : { name: spec, endpoint: spec };
}

const ALL_SIZES: [string, number, number][] = [
  ['16 B', 16, 200],
  ['1 MiB', 1 << 20, 50],
  ['64 MiB', 64 << 20, 5],
];

const SIZES = ALL_SIZES.filter(([label]) => !process.env.BENCH_SIZES || process.env.BENCH_SIZES.split(',').includes(label));

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
};

async function main(): Promise<void> {
  const servers = [...(await Promise.all([...dists, ...(floor ? [undefined] : [])].map(start))), ...externals.map(external)];
  const samples = new Map<string, number[]>();
  /** Server CPU seconds and put + get pairs, by size label and server. */
  const cpu = new Map<string, { seconds: number; pairs: number }>();
  const loadStart = loadAverage();
  try {
    // Warm-up, not counted: a fresh Node server spends its first few hundred calls compiling; Flame's server is
    // compiled code and has no such phase, so comparing cold Node against it measures the JIT, not the server.
    for (const s of servers) for (const [size, n] of warmUp) execFileSync(python, [helper, 'cache', s.endpoint, String(size), String(n)]);
    for (let r = 0; r < rounds; r++) {
      for (const [label, size, n] of SIZES) {
        for (const [i, s] of servers.entries()) {
          const before = processCpu(s.pid);
          const out = execFileSync(python, [helper, 'cache', s.endpoint, String(size), String(n)], { encoding: 'utf8' });
          const after = processCpu(s.pid);
          if (before !== undefined && after !== undefined) {
            const c = cpu.get(`${label}|${i}`) ?? { seconds: 0, pairs: 0 };
            c.seconds += after - before;
            c.pairs += n + 1; // and the helper's warm-up pair
            cpu.set(`${label}|${i}`, c);
          }
          const { put, get } = JSON.parse(out) as { put: number[]; get: number[] };
          for (const [op, xs] of [['put', put], ['get', get]] as const) {
            const k = `${label}|${op}|${i}`;
            samples.set(k, [...(samples.get(k) ?? []), ...xs]);
          }
        }
      }
    }
  } finally {
    for (const s of servers) s.child?.kill('SIGINT');
  }
  console.log(`load average ${loadStart.join(' ')} at the start, ${loadAverage().join(' ')} at the end`);
  console.log(`p50 ms, pyarrow.flight client; servers: ${servers.map((s, i) => `[${i}] ${s.name}`).join(', ')}`);
  for (const [label] of SIZES) {
    for (const op of ['put', 'get']) {
      const p50 = servers.map((_, i) => median(samples.get(`${label}|${op}|${i}`)!) * 1000);
      const ratios = p50.slice(1).map((v, j) => ` ratio [${j + 1}]/[0] ${(v / p50[0]!).toFixed(2)}`);
      console.log(`${label.padEnd(7)} ${op}  ${p50.map((v) => v.toFixed(3).padStart(9)).join(' ')}${ratios.join('')}`);
    }
    const perPair = servers.map((_, i) => cpu.get(`${label}|${i}`)).map((c) => (c ? (c.seconds / c.pairs) * 1000 : undefined));
    if (perPair.some((v) => v !== undefined)) {
      const ratios = perPair.slice(1).map((v, j) => (v !== undefined && perPair[0] !== undefined ? ` ratio [${j + 1}]/[0] ${(v / perPair[0]).toFixed(2)}` : ''));
      console.log(`${label.padEnd(7)} server CPU ms per put+get  ${perPair.map((v) => (v === undefined ? '-' : v.toFixed(3)).padStart(9)).join(' ')}${ratios.join('')}`);
    }
  }
}

void main();
