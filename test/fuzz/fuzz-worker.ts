/**
 * Runs one fuzz target inside a worker thread (see harness.ts `fuzzInWorker`):
 * the input being decoded is always mirrored into shared memory first, so that
 * when the decoder hangs or exhausts the heap, the parent can terminate this
 * worker and still keep the input that did it.
 */
import { parentPort, workerData } from 'node:worker_threads';
import fc from 'fast-check';
import { describeThrown } from '../../src/errors';
import { checkSync, type FuzzStats } from './harness';
import { fuzzBytes, fuzzSequences, toFrames } from './mutate';
import { TARGETS, type TargetName } from './targets';

export interface WorkerJob {
  name: TargetName;
  /** `replay`: each seed once, in order (the corpus); otherwise fast-check inputs from the seeds. */
  mode: 'bytes' | 'frames' | 'replay';
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

const decode = TARGETS[job.name] as (input: Buffer) => unknown;
const stats: FuzzStats = { target: job.name, inputs: 0, accepted: 0, refused: 0, seconds: 0, seed: job.seed, failures: 0 };

function replay(): WorkerResult {
  for (const seed of job.seeds as Uint8Array[]) {
    const input = Buffer.from(seed);
    record(input);
    try {
      stats[checkSync(job.name, input, decode)]++;
      stats.inputs++;
    } catch (err) {
      return { stats, failed: true, report: err instanceof Error ? err.message : describeThrown(err), counterexample: input };
    }
  }
  return { stats, failed: false };
}

function fuzz(): WorkerResult {
  const inputs = job.mode === 'bytes'
    ? fuzzBytes(job.seeds as Uint8Array[])
    : fuzzSequences(job.seeds as Uint8Array[][]).map(toFrames);
  const details = fc.check(
    fc.property(inputs, (input) => {
      record(input);
      const outcome = checkSync(job.name, input, decode);
      stats.inputs++;
      stats[outcome]++;
    }),
    { numRuns: job.runs, seed: job.seed },
  );
  if (!details.failed) return { stats, failed: false };
  stats.inputs = details.numRuns + 1;
  return { stats, failed: true, report: fc.defaultReportMessage(details), counterexample: details.counterexample?.[0] };
}

parentPort!.postMessage(job.mode === 'replay' ? replay() : fuzz());
