/** Key rules (docs/protocol.md §3) agree with the Python SDK's ObjectKey on generated keys. */
import { spawnSync } from 'node:child_process';
import fc from 'fast-check';
import { matchesKey, parseKey, parsePath, parsePrefix } from '../../src/wire/keys';
import { ErrorCode } from '../../src/errors';
import { testPython } from '../helpers/python';

const accepts = (f: () => unknown): boolean => {
  try {
    f();
    return true;
  } catch (err) {
    expect(err).toMatchObject({ code: ErrorCode.InvalidInput });
    return false;
  }
};

test('examples', () => {
  expect(parsePath('app/ssn')).toEqual({ app: 'app', session: 'ssn' });
  expect(parseKey('app/ssn/id')).toEqual({ app: 'app', session: 'ssn', id: 'id' });
  expect(parsePath('app/*')).toEqual({ app: 'app', session: '*' });
  for (const bad of ['app', 'a/b/c/d', 'a//c', '/a/b', 'a/b/', 'a/../b', 'a/b\\c', '*/s', 'a/*/c', 'a/b/*', '']) {
    expect(() => parsePath(bad)).toThrow(bad === '' ? /''/ : new RegExp(bad.replace(/[\\*.]/g, (c) => `\\${c}`)));
  }
  expect(() => parseKey('app/ssn')).toThrow(/<app>\/<session>\/<id>/);
  expect(() => parsePrefix('app/*')).toThrow(/only for deletes/);
  expect(matchesKey(parsePath('a/*'), 'a/s/x')).toBe(true);
  expect(matchesKey(parsePath('a/s'), 'a/s/x')).toBe(true);
  expect(matchesKey(parsePath('a/s'), 'a/s2/x')).toBe(false);
  expect(matchesKey(parsePath('a/*'), 'ab/s/x')).toBe(false);
  expect(matchesKey(parseKey('a/s/x'), 'a/s/x')).toBe(true);
});

test('accepts exactly what flamepy ObjectKey.from_path accepts (but "." components)', () => {
  const part = fc.oneof(
    fc.constantFrom('', '*', '..', 'a..b', '\\', 'x\\y', 'ok', 'uuid-1234', '.x'),
    fc.string({ unit: fc.constantFrom('a', 'b', '.', '*', '\\', '-', '_', 'é'), maxLength: 4 }),
  );
  const paths = fc.sample(fc.array(part, { minLength: 1, maxLength: 4 }).map((p) => p.join('/')), 400);
  const candidates = paths.filter((p) => !p.split('/').includes('.'));
  const script = `
import json, sys
from flamepy.core.cache import ObjectKey
out = []
for p in json.load(sys.stdin):
    try:
        ObjectKey.from_path(p); out.append(True)
    except ValueError:
        out.append(False)
print(json.dumps(out))`;
  const res = spawnSync(testPython(), ['-c', script], { input: JSON.stringify(candidates), encoding: 'utf8' });
  expect(res.status).toBe(0);
  const python = JSON.parse(res.stdout) as boolean[];
  const ours = candidates.map((p) => accepts(() => parsePath(p)));
  const disagreements = candidates.filter((_, i) => ours[i] !== python[i]);
  expect(disagreements).toEqual([]);
  expect(python.filter(Boolean).length).toBeGreaterThan(10); // the sample holds valid keys too
});
