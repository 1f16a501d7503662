/**
 * The fuzz harness: runs a decoder over fast-check inputs and holds it to the
 * rules of issue 6: every input either decodes or is refused with an FlmError,
 * no input uses more than MAX_INPUT_MS of CPU time, nothing else escapes.
 *
 * The per-input bound is process CPU time (user + system, all threads: a
 * worker thread, the embedded cache server's I/O and GC count too), not wall
 * time: a busy machine stretches wall time but not the work an input causes,
 * so a quadratic blow-up still fails and a loaded machine does not. Wall time
 * is bounded only by HANG_GUARD_MS, against an input that never returns.
 *
 * Run length: `FLMRUN_FUZZ_RUNS=100000 npx jest test/fuzz` (the long run, random
 * seed unless FLMRUN_FUZZ_SEED is given; each target writes its figures to
 * .test-results/fuzz/<target>.json). Without it every target makes its short
 * run with a fixed seed, so the normal suite is repeatable.
 *
 * A failing input (after shrinking) is written to test/fuzz/corpus/<target>/,
 * where the target's corpus test replays it from then on.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';
import fc from 'fast-check';
import { describeThrown, isFlmError } from '../../src/errors';

/** CPU time (process-wide, user + system) one input may cost. */
export const MAX_INPUT_MS = 1000;
/** Wall time after which an input counts as hung: generous, so that load alone never reaches it. */
export const HANG_GUARD_MS = 30_000;
/** Loading the worker (transpiling, apache-arrow) on a busy machine; the hang clock starts at the first input. */
const STARTUP_MS = 120_000;
export const CORPUS_DIR = path.join(__dirname, 'corpus');
const RESULTS_DIR = path.join(__dirname, '..', '..', '.test-results', 'fuzz');

const longRuns = Number(process.env.FLMRUN_FUZZ_RUNS ?? '');
export const LONG = Number.isSafeInteger(longRuns) && longRuns > 0;
const SEED = process.env.FLMRUN_FUZZ_SEED ? Number(process.env.FLMRUN_FUZZ_SEED) : LONG ? Date.now() % 2 ** 31 : 20260601;

/** Runs for this target: FLMRUN_FUZZ_RUNS in the long run, else the short count. */
export function runsFor(shortRuns: number): number {
  return LONG ? longRuns : shortRuns;
}

/**
 * The jest timeout for a whole fuzz test (`msPerInput`: a typical input's wall time).
 * Only a hang guard, so it leaves room for a loaded machine: a worker's startup and one
 * hung input at least, and ten times the typical time; the CPU bound per input is what matters.
 */
export function testTimeoutMs(shortRuns: number, msPerInput = 2): number {
  return Math.max(STARTUP_MS + HANG_GUARD_MS + 60_000, runsFor(shortRuns) * msPerInput * 10);
}

export type Outcome = 'accepted' | 'refused';

/** fast-check 4 leaves the property's error out of its report unless asked: a failure must say which rule broke. */
export const REPORT_ERRORS = { includeErrorInReport: true } as const;

class FuzzFailure extends Error {}

/** What one input cost: process CPU time and wall time, in ms. */
interface Cost {
  cpuMs: number;
  wallMs: number;
}

function startCost(): () => Cost {
  const cpu = process.cpuUsage();
  const wall = performance.now();
  return () => {
    const used = process.cpuUsage(cpu);
    return { cpuMs: (used.user + used.system) / 1000, wallMs: performance.now() - wall };
  };
}

function judge(name: string, err: unknown, cost: Cost): Outcome {
  if (cost.cpuMs > MAX_INPUT_MS) {
    throw new FuzzFailure(
      `${name}: one input used ${cost.cpuMs.toFixed(0)} ms of CPU time (limit ${MAX_INPUT_MS} ms of process CPU, user + system; wall ${cost.wallMs.toFixed(0)} ms)`,
    );
  }
  if (cost.wallMs > HANG_GUARD_MS) {
    throw new FuzzFailure(
      `${name}: one input took ${cost.wallMs.toFixed(0)} ms of wall time (hang guard ${HANG_GUARD_MS} ms; it used ${cost.cpuMs.toFixed(0)} ms of CPU)`,
    );
  }
  if (err === undefined) return 'accepted';
  if (isFlmError(err)) {
    if (!err.message) throw new FuzzFailure(`${name}: refused with an FlmError without a message`);
    return 'refused';
  }
  throw new FuzzFailure(`${name}: threw something other than FlmError: ${describeThrown(err)}`, { cause: err });
}

/** Runs a synchronous decoder once and judges the outcome (throws FuzzFailure when a rule is broken). */
export function checkSync(name: string, input: Buffer, decode: (input: Buffer) => unknown): Outcome {
  const cost = startCost();
  let thrown: unknown;
  try {
    decode(input);
  } catch (err) {
    thrown = err ?? new Error(`thrown ${String(err)}`);
  }
  return judge(name, thrown, cost());
}

export async function checkAsync(name: string, input: Buffer, decode: (input: Buffer) => Promise<unknown>): Promise<Outcome> {
  const cost = startCost();
  let thrown: unknown;
  try {
    await decode(input);
  } catch (err) {
    thrown = err ?? new Error(`thrown ${String(err)}`);
  }
  return judge(name, thrown, cost());
}

export interface FuzzStats {
  target: string;
  inputs: number;
  accepted: number;
  refused: number;
  seconds: number;
  seed: number;
  failures: number;
}

function saveCounterexample(name: string, input: Buffer): string {
  const dir = path.join(CORPUS_DIR, name);
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `${crypto.createHash('sha256').update(input).digest('hex').slice(0, 16)}.bin`);
  fs.writeFileSync(file, input);
  return file;
}

interface RunEnd {
  failed: boolean;
  report?: string;
  counterexample?: Uint8Array;
}

function finish(name: string, end: RunEnd, stats: FuzzStats, started: number): FuzzStats {
  stats.seconds = Number(((performance.now() - started) / 1000).toFixed(1));
  stats.failures = end.failed ? 1 : 0;
  if (LONG) {
    fs.mkdirSync(RESULTS_DIR, { recursive: true });
    fs.writeFileSync(path.join(RESULTS_DIR, `${name}.json`), JSON.stringify(stats, null, 2));
  }
  if (!end.failed) return stats;
  const kept = end.counterexample ? `\nThe input is kept as ${path.relative(process.cwd(), saveCounterexample(name, Buffer.from(end.counterexample)))}` : '';
  throw new Error(`${end.report ?? `${name} failed`}${kept}`);
}

function fromDetails(details: fc.RunDetails<[Buffer]>, stats: FuzzStats): RunEnd {
  // After a failure the counts include the shrinking steps; the inputs tried are fast-check's own count.
  if (details.failed) stats.inputs = details.numRuns + 1;
  return { failed: details.failed, report: details.failed ? fc.defaultReportMessage(details) : undefined, counterexample: details.counterexample?.[0] };
}

function newStats(name: string): FuzzStats {
  return { target: name, inputs: 0, accepted: 0, refused: 0, seconds: 0, seed: SEED, failures: 0 };
}

/** Fuzzes an asynchronous decoder (one input at a time). */
export async function fuzzAsync(
  name: string, inputs: fc.Arbitrary<Buffer>, decode: (input: Buffer) => Promise<unknown>, shortRuns: number,
): Promise<FuzzStats> {
  const stats = newStats(name);
  const started = performance.now();
  const details = await fc.check(
    fc.asyncProperty(inputs, async (input) => {
      const outcome = await checkAsync(name, input, decode);
      stats.inputs++;
      stats[outcome]++;
    }),
    // A hung promise fails the run instead of hanging it (the CPU bound is judged per input above).
    { numRuns: runsFor(shortRuns), seed: SEED, timeout: HANG_GUARD_MS, ...REPORT_ERRORS },
  );
  return finish(name, fromDetails(details, stats), stats, started);
}

/**
 * The kept inputs of a target (regression cases found by earlier runs, or written by hand).
 * Every target has some: a missing or empty directory throws, so that a misnamed target or a
 * lost corpus fails its "replays its corpus" test instead of passing it with nothing replayed.
 */
export function corpusOf(name: string): { file: string; input: Buffer }[] {
  const dir = path.join(CORPUS_DIR, name);
  const files = fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => f.endsWith('.bin')).sort() : [];
  if (files.length === 0) {
    throw new Error(`fuzz target ${name} has no corpus: keep at least one input in ${path.relative(process.cwd(), dir)}/ (see its README)`);
  }
  return files.map((f) => ({ file: f, input: fs.readFileSync(path.join(dir, f)) }));
}

/** The "replays its corpus" test of an in-process target: every kept input again, in the fuzz worker (fuzzInWorker). */
export function itReplaysCorpusInWorker(name: string): void {
  it('replays its corpus', async () => {
    const corpus = corpusOf(name).map((c) => c.input);
    const stats = await fuzzInWorker(name, 'replay', corpus, 0);
    expect(stats.inputs).toBe(corpus.length);
  }, testTimeoutMs(0));
}

/** Room for the in-flight input in shared memory; longer inputs are kept truncated (said in the report). */
const IN_FLIGHT_BYTES = 8 << 20;
/** A decoder that has not returned after this long is hung (the CPU bound is checked inside the worker). */
const HANG_MS = HANG_GUARD_MS;
/** The worker's heap: a decoder that needs more for a small input is refused as a memory bomb. */
const WORKER_HEAP_MB = 768;

/**
 * Fuzzes an in-process target (targets.ts: TARGETS, or ASYNC_TARGETS with a server of their
 * own) in a worker thread, so that a decoder that loops forever or exhausts the heap, or
 * an exception thrown out of an event, is caught (the worker terminated or dead) and its
 * input kept, instead of hanging or killing the test process.
 */
export function fuzzInWorker(
  name: string, mode: 'bytes' | 'frames' | 'chunks' | 'replay', seedInputs: Uint8Array[] | Uint8Array[][], shortRuns: number,
): Promise<FuzzStats> {
  const shared = new SharedArrayBuffer(8 + IN_FLIGHT_BYTES);
  const slots = new Int32Array(shared, 0, 2);
  const started = performance.now();
  const worker = new Worker(path.join(__dirname, 'worker-entry.js'), {
    workerData: { name, mode, seeds: seedInputs, runs: runsFor(shortRuns), seed: SEED, shared },
    resourceLimits: { maxOldGenerationSizeMb: WORKER_HEAP_MB },
    stdout: false,
  });
  const inFlight = (): Buffer => {
    const len = Atomics.load(slots, 1);
    return Buffer.from(new Uint8Array(shared, 8, Math.min(len, IN_FLIGHT_BYTES)));
  };
  return new Promise<FuzzStats>((resolve, reject) => {
    let settled = false;
    let lastSeq = -1;
    let lastChange = performance.now();
    const settle = (stats: FuzzStats, end: RunEnd): void => {
      if (settled) return;
      settled = true;
      clearInterval(watchdog);
      void worker.terminate();
      try {
        // A replayed corpus case that fails is already in the corpus: report it, do not write it again.
        resolve(finish(name, mode === 'replay' ? { ...end, counterexample: undefined } : end, stats, started));
      } catch (err) {
        reject(err);
      }
    };
    const crashed = (why: string): void => {
      const stats = newStats(name);
      stats.inputs = Atomics.load(slots, 0);
      const started = stats.inputs > 0;
      settle(stats, {
        failed: true,
        report: started ? `${name}: ${why} on input ${stats.inputs} (${Atomics.load(slots, 1)} bytes)` : `${name}: ${why}`,
        counterexample: started ? inFlight() : undefined,
      });
    };
    const watchdog = setInterval(() => {
      const seq = Atomics.load(slots, 0);
      if (seq === 0) {
        if (performance.now() - started > STARTUP_MS) crashed(`the worker did not start within ${STARTUP_MS} ms`);
        return;
      }
      if (seq !== lastSeq) {
        lastSeq = seq;
        lastChange = performance.now();
      } else if (performance.now() - lastChange > HANG_MS) {
        crashed(`the decoder hung (no return for ${HANG_MS} ms)`);
      }
    }, 100);
    worker.on('message', (r: { stats: FuzzStats; failed: boolean; report?: string; counterexample?: Uint8Array }) => settle(r.stats, r));
    // The worker's error comes from another realm than jest's (instanceof Error fails there, and describeThrown
    // printed a TypeError as `{}`): its own name and message.
    worker.on('error', (err: { name?: unknown; message?: unknown }) =>
      crashed(`the worker died: ${typeof err.message === 'string' ? `${String(err.name)}: ${err.message}` : describeThrown(err)}`),
    );
    worker.on('exit', (code) => crashed(`the worker exited with code ${code} before finishing`));
  });
}
