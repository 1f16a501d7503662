/**
 * Fuzzing the codecs (issue 6, item 3): pickles, runner requests (BSON and
 * pickle), session common data and context objects, FLM values, Arrow
 * values, ObjectRefs. Short runs here; `FLMRUN_FUZZ_RUNS=100000` for the long run.
 * Each target runs in a worker thread (harness.ts), so a hang or a heap
 * exhaustion fails the test with the input kept instead of stopping the suite.
 */
import { checkSync, fuzzInWorker, itReplaysCorpusInWorker, testTimeoutMs } from './harness';
import { seeds } from './seeds';
import { TARGETS, type TargetName } from './targets';

const SHORT_RUNS = 3000;
const FLM = (tag: number) => (b: Buffer) => Buffer.concat([Buffer.from([0x46, 0x4c, 0x4d, tag]), b]);

const cases: [TargetName, () => Buffer[]][] = [
  ['read-pickle', () => seeds('pickle', 'request').filter((b) => b[0] === 0x80 || b[0] === 0x28 || b[0] === 0x5d || b[0] === 0x7d)],
  ['runner-request', () => seeds('request', 'pickle')],
  ['common-data', () => seeds('context', 'ref')],
  ['context-object', () => seeds('context')],
  ['value-opaque', () => [...seeds('value', 'pickle'), ...seeds('ipc').flatMap((b) => [FLM(2)(b), FLM(3)(b), FLM(4)(b)])]],
  ['value-arrow', () => seeds('ipc')],
  ['object-ref', () => seeds('ref', 'context')],
];

describe.each(cases)('fuzz %s', (name, seedsOf) => {
  itReplaysCorpusInWorker(name);

  it('decodes its seeds', () => {
    const results = seedsOf().map((s) => checkSync(name, s, TARGETS[name]));
    // The seeds are valid input: most decode (some are refused on purpose, e.g. a Python function).
    expect(results.filter((r) => r === 'accepted').length).toBeGreaterThan(0);
  });

  it('survives random and mutated inputs', async () => {
    const stats = await fuzzInWorker(name, 'bytes', seedsOf(), SHORT_RUNS);
    expect(stats.failures).toBe(0);
    expect(stats.refused).toBeGreaterThan(0);
  }, testTimeoutMs(SHORT_RUNS));
});
