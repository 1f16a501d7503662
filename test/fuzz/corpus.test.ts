/**
 * Every corpus directory belongs to a fuzz target, so that no kept case is silently never replayed;
 * and every target has a corpus, so that no "replays its corpus" test passes with nothing to replay.
 */
import fs from 'node:fs';
import { CORPUS_DIR, corpusOf } from './harness';
import { ASYNC_TARGETS, EXTERNAL_TARGETS, TARGETS } from './targets';

const known = [...Object.keys(TARGETS), ...Object.keys(ASYNC_TARGETS), ...EXTERNAL_TARGETS];

it('every corpus directory names a fuzz target', () => {
  const dirs = fs.readdirSync(CORPUS_DIR, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name);
  expect(dirs.filter((d) => !known.includes(d))).toEqual([]);
  expect(dirs.length).toBeGreaterThan(0);
});

it.each(known)('fuzz target %s has a corpus', (name) => {
  expect(corpusOf(name).length).toBeGreaterThan(0);
});

it('a target without a corpus fails instead of replaying nothing', () => {
  expect(() => corpusOf('no-such-target')).toThrow(/has no corpus/);
});
