/**
 * Runs one fuzz target inside a worker thread (see harness.ts `fuzzInWorker`):
 * the input being decoded is always mirrored into shared memory first, so that
 * when the decoder hangs or exhausts the heap, the parent can terminate this
 * worker and still keep the input that did it. An async target (targets.ts
 * ASYNC_TARGETS) is set up here first; an exception thrown out of one of its
 * events ends the worker the same way, with its input kept.
 */
import { parentPort, workerData } from 'node:worker_threads';
import fc from 'fast-check';
import { describeThrown } from '../../src/errors';
import { REPORT_ERRORS, checkAsync, checkSync, type FuzzStats, type Outcome } from './harness';
import { fuzzBytes, fuzzChunks, fuzzSequences, toFrames } from './mutate';
import { ASYNC_TARGETS, TARGETS, type AsyncTargetName, type TargetName } from './targets';

export interface WorkerJob {
  name: TargetName | AsyncTargetName;
  /**
   * `replay`: each seed once, in order (the corpus); otherwise fast-check inputs from the seeds: `bytes`
   * mutated bytes, `frames` edited message sequences, `chunks` a stream sent in chunks (both as toFrames).
   */
  mode: 'bytes' | 'frames' | 'chunks' | 'replay';
  seeds: Uint8Array[] | Uint8Array[][];
  runs: number;
  seed: number;
  shared: SharedArrayBuffer;
}

export interface WorkerResult {
  stats: FuzzStats;
  failed: boolean;
  counterexample?: Uint8Array;
  report?: string;
}

const job = workerData as WorkerJob;
const slots = new Int32Array(job.shared, 0, 2);
const inFlight = new Uint8Array(job.shared, 8);

function record(input: Buffer): void {
  inFlight.set(input.subarray(0, inFlight.length));
  Atomics.store(slots, 1, input.length);
  Atomics.add(slots, 0, 1);
}

const stats: FuzzStats = { target: job.name, inputs: 0, accepted: 0, refused: 0, seconds: 0, seed: job.seed, failures: 0 };

function inputsOf(): fc.Arbitrary<Buffer> {
  if (job.mode === 'bytes') return fuzzBytes(job.seeds as Uint8Array[]);
  if (job.mode === 'chunks') return fuzzChunks(job.seeds as Uint8Array[][]).map(toFrames);
  return fuzzSequences(job.seeds as Uint8Array[][]).map(toFrames);
}

async function replay(check: (input: Buffer) => Outcome | Promise<Outcome>): Promise<WorkerResult> {
  for (const seed of job.seeds as Uint8Array[]) {
    const input = Buffer.from(seed);
    record(input);
    try {
      stats[await check(input)]++;
      stats.inputs++;
    } catch (err) {
      return { stats, failed: true, report: err instanceof Error ? err.message : describeThrown(err), counterexample: input };
    }
  }
  return { stats, failed: false };
}

function ended(details: fc.RunDetails<[Buffer]>): WorkerResult {
  if (!details.failed) return { stats, failed: false };
  stats.inputs = details.numRuns + 1;
  return { stats, failed: true, report: fc.defaultReportMessage(details), counterexample: details.counterexample?.[0] };
}

function fuzz(check: (input: Buffer) => Outcome): WorkerResult {
  const details = fc.check(
    fc.property(inputsOf(), (input) => {
      record(input);
      const outcome = check(input);
      stats.inputs++;
      stats[outcome]++;
    }),
    { numRuns: job.runs, seed: job.seed, ...REPORT_ERRORS },
  );
  return ended(details);
}

async function fuzzAsync(check: (input: Buffer) => Promise<Outcome>): Promise<WorkerResult> {
  const details = await fc.check(
    fc.asyncProperty(inputsOf(), async (input) => {
      record(input);
      const outcome = await check(input);
      stats.inputs++;
      stats[outcome]++;
    }),
    // No timeout here: an input that never returns is the parent's watchdog's to catch (it keeps the input).
    { numRuns: job.runs, seed: job.seed, ...REPORT_ERRORS },
  );
  return ended(details);
}

async function main(): Promise<WorkerResult> {
  if (job.name in ASYNC_TARGETS) {
    const target = await ASYNC_TARGETS[job.name as AsyncTargetName]();
    try {
      const check = (input: Buffer): Promise<Outcome> => checkAsync(job.name, input, (b) => target.run(b));
      return await (job.mode === 'replay' ? replay(check) : fuzzAsync(check));
    } finally {
      await target.close();
    }
  }
  const decode = TARGETS[job.name as TargetName] as (input: Buffer) => unknown;
  const check = (input: Buffer): Outcome => checkSync(job.name, input, decode);
  return job.mode === 'replay' ? replay(check) : fuzz(check);
}

void main().then((result) => parentPort!.postMessage(result));
