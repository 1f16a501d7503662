import fc from 'fast-check';
import { readPickle, writePickle } from '../../src/codecs/pickle';
import { isFlmError } from '../../src/errors';
import { pythonMap } from './py-batch';

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

/** Hashable keys/members that stay distinct in Python (no bool/int or int/float collisions). */
const hashable = fc.oneof(fc.string({ unit: 'binary', maxLength: 8 }), fc.integer());

const { value: subset } = fc.letrec<{ value: unknown }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.constantFrom(null, undefined, true, false),
    // Boundaries random generation rarely hits: -0, non-finite floats, safe-integer and int32/int64 edges.
    fc.constantFrom(-0, NaN, Infinity, -Infinity, 2 ** 53, 2 ** 31, -(2 ** 31) - 1, 255, 256, 65535, 65536),
    fc.constantFrom(Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER, MAX_SAFE, -MAX_SAFE, MAX_SAFE + 1n, -MAX_SAFE - 1n, 2n ** 63n, -(2n ** 63n), 2n ** 64n, 0n, -1n, 255n, -128n, -129n),
    fc.maxSafeInteger(),
    fc.double(),
    fc.bigInt({ min: -(2n ** 200n), max: 2n ** 200n }),
    fc.string({ unit: 'binary', maxLength: 40 }),
    fc.uint8Array({ maxLength: 40 }).map((u) => (u.length % 2 ? Buffer.from(u) : u)),
    fc.array(tie('value'), { maxLength: 5 }),
    fc.dictionary(fc.string({ maxLength: 6 }), tie('value'), { maxKeys: 5 }),
    fc.uniqueArray(fc.tuple(hashable, tie('value')), { maxLength: 5, selector: ([k]) => k }).map((e) => new Map(e)),
    fc.uniqueArray(hashable, { maxLength: 5 }).map((e) => new Set(e)),
  ),
}));

/** What a value of the subset reads back as (JavaScript has one number type, Python one int type). */
function expected(v: unknown): unknown {
  if (v === undefined || v === null) return null;
  if (typeof v === 'bigint') return v >= -MAX_SAFE && v <= MAX_SAFE ? Number(v) : v;
  if (v instanceof Uint8Array) return Buffer.from(v);
  if (Array.isArray(v)) return v.map(expected);
  if (v instanceof Set) return new Set([...v].map(expected));
  if (v instanceof Map) {
    const entries = [...v].map(([k, val]) => [expected(k), expected(val)] as const);
    return entries.every(([k]) => typeof k === 'string') ? Object.fromEntries(entries) : new Map(entries);
  }
  if (typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, val]) => [k, expected(val)]));
  return v;
}

const pickle = (v: unknown): Buffer => Buffer.concat(writePickle(v));

describe('pickle writer and reader: properties', () => {
  it('round-trips random values of the subset', () => {
    fc.assert(fc.property(subset, (v) => {
      expect(readPickle(pickle(v))).toStrictEqual(expected(v));
    }), { numRuns: 500 });
  });

  it('round-trips random values through Python pickle.loads and pickle.dumps (protocols 2-5)', () => {
    const values = fc.sample(subset, { numRuns: 300, seed: 7 });
    const back = pythonMap(`
import pickle
def f(data):
    return pickle.dumps(pickle.loads(data), protocol=2 + len(data) % 4)
`, values.map(pickle));
    expect(back).toHaveLength(values.length);
    values.forEach((v, i) => expect([i, readPickle(back[i]!)]).toStrictEqual([i, expected(v)]));
  });

  it('never throws anything but FlmError on random bytes', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 64 }), fc.boolean(), (bytes, withHeader) => {
      const input = withHeader ? Buffer.concat([Buffer.from([0x80, 4]), bytes]) : bytes;
      try { readPickle(input); } catch (err) { if (!isFlmError(err)) throw err; }
    }), { numRuns: 5000 });
  });

  it('never throws anything but FlmError on truncated or mutated pickles', () => {
    fc.assert(fc.property(subset, fc.nat(), fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 4 }), (v, cut, flips) => {
      const bytes = Buffer.from(pickle(v));
      for (const [at, byte] of flips) bytes[at % bytes.length] = byte;
      for (const input of [bytes, bytes.subarray(0, cut % bytes.length)]) {
        try { readPickle(input); } catch (err) { if (!isFlmError(err)) throw err; }
      }
    }), { numRuns: 3000 });
  });
});
