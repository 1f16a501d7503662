/**
 * The folders of src/ form layers without cycles: wire formats (src/wire) at
 * the bottom, used by the value codecs and by the cache, which do not import
 * each other; above them the runner, packages and the service. Checked on
 * the real import graph (madge), so a new import that closes a cycle fails.
 */
import path from 'node:path';
import madge from 'madge';

const SRC = path.resolve(__dirname, '..', '..', 'src');

/** The room of a file: its folder, or the file itself at the top of src/. */
const room = (file: string): string => (file.includes('/') ? file.split('/')[0]! : file.replace(/\.ts$/, ''));

let edges: Map<string, Set<string>>;

beforeAll(async () => {
  const graph = (await madge(SRC, { fileExtensions: ['ts'], tsConfig: path.resolve(SRC, '..', 'tsconfig.json') })).obj();
  edges = new Map();
  for (const [file, deps] of Object.entries(graph)) {
    for (const dep of deps) {
      const [from, to] = [room(file), room(dep)];
      if (from === to) continue;
      if (!edges.has(from)) edges.set(from, new Set());
      edges.get(from)!.add(to);
    }
  }
}, 120_000);

const importsOf = (r: string): string[] => [...(edges.get(r) ?? [])].sort();

test('the folder graph has no cycle', () => {
  const reaches = (from: string, to: string, seen = new Set<string>()): boolean =>
    [...(edges.get(from) ?? [])].some((n) => n === to || (!seen.has(n) && (seen.add(n), reaches(n, to, seen))));
  const cyclic = [...edges.keys()].filter((r) => reaches(r, r));
  expect(cyclic).toEqual([]);
});

test('wire is the bottom layer; codecs and cache build on it and not on each other', () => {
  expect(importsOf('wire').filter((r) => !['errors', 'generated'].includes(r))).toEqual([]);
  expect(importsOf('codecs')).not.toContain('cache');
  expect(importsOf('cache')).not.toContain('codecs');
  expect(importsOf('codecs')).toContain('wire');
  expect(importsOf('cache')).toContain('wire');
});
