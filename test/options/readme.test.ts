/** README.md's option tables are generated from src/options: this fails when they were not regenerated. */
import fs from 'node:fs';
import path from 'node:path';
import { withReadmeOptions } from '../../src/options/render';
import { SERVE_OPTIONS } from '../../src/options/serve';
import { CACHE_OPTIONS } from '../../src/options/cache';
import { HELP } from '../../src/cli/help';

const README = path.join(__dirname, '..', '..', 'README.md');

it('README.md shows the option tables as src/options declares them (else: npm run docs:options)', () => {
  const readme = fs.readFileSync(README, 'utf8');
  expect(withReadmeOptions(readme)).toBe(readme);
});

it('a stale table is noticed', () => {
  const readme = fs.readFileSync(README, 'utf8');
  const stale = readme.replace('| `--ref-concurrency N` |  | 8 |', '| `--ref-concurrency N` |  | 4 |');
  expect(stale).not.toBe(readme);
  expect(withReadmeOptions(stale)).toBe(readme);
});

it.each([...SERVE_OPTIONS, ...CACHE_OPTIONS].map((o) => [o.flag, o] as const))('--help and README list --%s', (flag, o) => {
  expect(HELP).toContain(`--${flag}`);
  expect(HELP).toContain(o.help);
  expect(fs.readFileSync(README, 'utf8')).toContain(`\`--${flag}`);
});

it('flags and keys are unique per command', () => {
  for (const table of [SERVE_OPTIONS, CACHE_OPTIONS]) {
    expect(new Set(table.map((o) => o.flag)).size).toBe(table.length);
    expect(new Set(table.map((o) => o.key)).size).toBe(table.length);
  }
});
