/**
 * Fuzzing the cache client's own HTTP/2 layer (src/cache/h2) with what a hostile server may send:
 * - h2-server-bytes: the client's real put and get against a loopback server whose answer is the
 *   input (h2-target.ts says how each input is judged), seeded with answers recorded from the
 *   embedded cache server and hand-made ones (h2-seeds.ts);
 * - h2-upload: the same with a put of 200,000 bytes and a streamed upload of 1.25 MiB after the get,
 *   against a server that paces its frames by the client's windows (WINDOW_UPDATEs, window changes
 *   and early answers mid-upload), seeded by h2-upload-seeds.ts;
 * - hpack-block: one connection's header blocks through one HpackDecoder (targets.ts).
 */
import { checkAsync, checkSync, fuzzInWorker, itReplaysCorpusInWorker, testTimeoutMs } from './harness';
import { toFrames } from './mutate';
import { h2ServerSeeds, hpackSeeds } from './h2-seeds';
import { h2UploadSeeds } from './h2-upload-seeds';
import { H2_UPLOAD, startH2ServerBytes, type H2TargetOptions } from './h2-target';
import { TARGETS } from './targets';

/** Each input is a loopback connection or two and a few socket round trips: a few ms, more on a busy machine. */
const H2_SHORT_RUNS = 300;
const HPACK_SHORT_RUNS = 3000;
/** An h2-upload input is tens of paced round trips and 1.5 MB sent. */
const UPLOAD_SHORT_RUNS = 300;

/** Each seed through the target (outside the worker), in order: how each ended, as the harness judges. */
async function outcomesOf(name: string, seeds: Buffer[][], opts?: H2TargetOptions): Promise<string[]> {
  const target = await startH2ServerBytes(opts);
  try {
    const outcomes: string[] = [];
    for (const seed of seeds) outcomes.push(await checkAsync(name, toFrames(seed), (b) => target.run(b)));
    return outcomes;
  } finally {
    await target.close();
  }
}

/** The short run: mutated seeds, sent in chunks, in the fuzz worker; some accepted and some refused. */
function itSurvivesMutatedAnswers(name: string, seeds: () => Promise<{ seeds: Buffer[][] }>, runs: number, msPerInput: number): void {
  it('survives mutated answers, sent in chunks', async () => {
    const stats = await fuzzInWorker(name, 'chunks', (await seeds()).seeds, runs);
    expect(stats.failures).toBe(0);
    expect(stats.refused).toBeGreaterThan(0);
    expect(stats.accepted).toBeGreaterThan(0);
  }, testTimeoutMs(runs, msPerInput));
}

describe('fuzz h2-server-bytes', () => {
  const name = 'h2-server-bytes';

  itReplaysCorpusInWorker(name);

  it('takes the recorded answers, and the hand-made ones end as the target judges', async () => {
    const { seeds, recordedCount } = await h2ServerSeeds();
    const outcomes = await outcomesOf(name, seeds);
    // The first recording is a put and a get that both succeed; the others include refusals.
    expect(outcomes[0]).toBe('accepted');
    expect(outcomes.slice(recordedCount).filter((o) => o === 'accepted').length).toBeGreaterThan(0);
  }, testTimeoutMs(0));

  itSurvivesMutatedAnswers(name, h2ServerSeeds, H2_SHORT_RUNS, 50);
});

describe('fuzz h2-upload', () => {
  const name = 'h2-upload';

  itReplaysCorpusInWorker(name);

  it('takes the recorded answers, and each hand-made one ends as it says', async () => {
    const { seeds, recordedCount, handMade } = await h2UploadSeeds();
    const outcomes = await outcomesOf(name, seeds, H2_UPLOAD);
    // Recorded: all three calls answered, then the upload refused over the server's memory (node:http2, then grpc-js).
    expect(outcomes.slice(0, recordedCount)).toEqual(['accepted', 'refused', 'accepted', 'refused']);
    expect(handMade.map((m, i) => `${m.what}: ${outcomes[recordedCount + i]}`)).toEqual(handMade.map((m) => `${m.what}: ${m.outcome}`));
  }, testTimeoutMs(0));

  itSurvivesMutatedAnswers(name, h2UploadSeeds, UPLOAD_SHORT_RUNS, 50);
});

describe('fuzz hpack-block', () => {
  const name = 'hpack-block';

  itReplaysCorpusInWorker(name);

  it('decodes its seeds', async () => {
    const results = (await hpackSeeds()).map((s) => checkSync(name, toFrames(s), TARGETS[name]));
    expect(results.every((r) => r === 'accepted')).toBe(true);
  });

  it('survives random and mutated blocks', async () => {
    const stats = await fuzzInWorker(name, 'frames', await hpackSeeds(), HPACK_SHORT_RUNS);
    expect(stats.failures).toBe(0);
    expect(stats.refused).toBeGreaterThan(0);
  }, testTimeoutMs(HPACK_SHORT_RUNS));
});
