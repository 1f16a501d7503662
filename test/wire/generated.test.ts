/**
 * src/generated is what `npm run gen:protos` makes from proto/ with the
 * options src/wire/protos.ts loads with: regenerated into a temp dir and
 * compared file by file, so a changed proto or option fails here until the
 * types are generated again.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { loaderOptions } from '../../src/wire/protos';
import SETS from '../../src/wire/proto-sets.json';
import { makeTempDir, removeDir } from '../helpers/tmp';

const ROOT = path.resolve(__dirname, '..', '..');
const GENERATED = path.join(ROOT, 'src', 'generated');

function files(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (d: string): void => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else out.set(path.relative(dir, p), fs.readFileSync(p, 'utf8'));
    }
  };
  walk(dir);
  return out;
}

test('src/generated is fresh (npm run gen:protos regenerates it)', () => {
  const tmp = makeTempDir('flmrun-gen-');
  try {
    execFileSync(process.execPath, [path.join(ROOT, 'scripts', 'gen-protos.js'), '--out', tmp], { stdio: ['ignore', 'ignore', 'inherit'] });
    const fresh = files(tmp);
    const committed = files(GENERATED);
    expect(fresh.size).toBeGreaterThan(0);
    expect([...committed.keys()].sort()).toEqual([...fresh.keys()].sort());
    const stale = [...fresh].filter(([name, text]) => committed.get(name) !== text).map(([name]) => name);
    expect(stale).toEqual([]);
  } finally {
    removeDir(tmp);
  }
});

test('the loader takes the same options the generator was given', () => {
  for (const name of ['flame', 'flight'] as const) {
    const json = SETS[name].options;
    const o = loaderOptions(name);
    expect({ keepCase: o.keepCase, defaults: o.defaults, oneofs: o.oneofs }).toEqual({ keepCase: json.keepCase, defaults: json.defaults, oneofs: json.oneofs });
    expect(o.longs === Number ? 'Number' : 'String').toBe(json.longs);
    expect(o.enums === String ? 'String' : undefined).toBe(json.enums);
  }
});
