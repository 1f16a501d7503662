/** Every corpus directory belongs to a fuzz target, so that no kept case is silently never replayed. */
import fs from 'node:fs';
import { CORPUS_DIR } from './harness';
import { EXTERNAL_TARGETS, TARGETS } from './targets';

it('every corpus directory names a fuzz target', () => {
  const known = new Set<string>([...Object.keys(TARGETS), ...EXTERNAL_TARGETS]);
  const dirs = fs.readdirSync(CORPUS_DIR, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name);
  expect(dirs.filter((d) => !known.has(d))).toEqual([]);
  expect(dirs.length).toBeGreaterThan(0);
});
