/**
 * Fuzzing the cache client's own HTTP/2 layer (src/cache/h2) with what a hostile server may send:
 * - h2-server-bytes: the client's real put and get against a loopback server whose answer is the
 *   input (h2-target.ts says how each input is judged), seeded with answers recorded from the
 *   embedded cache server and hand-made ones (h2-seeds.ts);
 * - hpack-block: one connection's header blocks through one HpackDecoder (targets.ts).
 */
import { checkAsync, checkSync, fuzzInWorker, itReplaysCorpusInWorker, testTimeoutMs } from './harness';
import { toFrames } from './mutate';
import { h2ServerSeeds, hpackSeeds } from './h2-seeds';
import { startH2ServerBytes } from './h2-target';
import { TARGETS } from './targets';

/** Each input is a loopback connection or two and a few socket round trips: a few ms, more on a busy machine. */
const H2_SHORT_RUNS = 300;
const HPACK_SHORT_RUNS = 3000;

describe('fuzz h2-server-bytes', () => {
  const name = 'h2-server-bytes';

  itReplaysCorpusInWorker(name);

  it('takes the recorded answers, and the hand-made ones end as the target judges', async () => {
    const { seeds, recordedCount } = await h2ServerSeeds();
    const target = await startH2ServerBytes();
    try {
      const outcomes: string[] = [];
      for (const seed of seeds) outcomes.push(await checkAsync(name, toFrames(seed), (b) => target.run(b)));
      // The first recording is a put and a get that both succeed; the others include refusals.
      expect(outcomes[0]).toBe('accepted');
      expect(outcomes.slice(recordedCount).filter((o) => o === 'accepted').length).toBeGreaterThan(0);
    } finally {
      await target.close();
    }
  }, testTimeoutMs(0));

  it('survives mutated answers, sent in chunks', async () => {
    const stats = await fuzzInWorker(name, 'chunks', (await h2ServerSeeds()).seeds, H2_SHORT_RUNS);
    expect(stats.failures).toBe(0);
    expect(stats.refused).toBeGreaterThan(0);
    expect(stats.accepted).toBeGreaterThan(0);
  }, testTimeoutMs(H2_SHORT_RUNS, 50));
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
