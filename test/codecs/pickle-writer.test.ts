import { writePickle } from '../../src/codecs/pickle';
import { encodeValue, decodeValue } from '../../src/codecs/values';
import { ErrorCode } from '../../src/errors';
import { refusalOf } from '../helpers/refusal';
import { pythonMap } from './py-batch';

const pickle = (v: unknown): Buffer => Buffer.concat(writePickle(v));

const refusal = (v: unknown) => refusalOf(() => writePickle(v), 'writePickle');

/** repr() of what Python's pickle.loads makes of each value. */
function pythonRepr(values: unknown[]): string[] {
  return pythonMap(`
import pickle
def f(data):
    v = pickle.loads(data)
    return (type(v).__name__ + ' ' + repr(v)).encode('utf-8', 'backslashreplace')
`, values.map(pickle)).map((b) => b.toString('utf8'));
}

class Point { constructor(public x = 1) {} }

describe('pickle writer', () => {
  it('writes the subset as native Python values', () => {
    expect(pythonRepr([
      null, undefined, true, 0, -1, 2 ** 31, 2 ** 53 - 1, 2 ** 53, 1.5, -0, NaN, -Infinity,
      2n ** 63n, -(2n ** 64n) - 1n, 5n, 'é\ud800', Buffer.from('ab'), new Uint8Array([1]),
      [1, [2]], { a: 1 }, new Map<unknown, unknown>([[1, 'x'], [Buffer.from('k'), 2n]]), new Set(['s']),
    ])).toEqual([
      'NoneType None', 'NoneType None', 'bool True', 'int 0', 'int -1', 'int 2147483648', 'int 9007199254740991',
      'float 9007199254740992.0', 'float 1.5', 'float -0.0', 'float nan', 'float -inf',
      'int 9223372036854775808', 'int -18446744073709551617', 'int 5', "str 'é\\ud800'", "bytes b'ab'", "bytes b'\\x01'",
      'list [1, [2]]', "dict {'a': 1}", "dict {1: 'x', b'k': 2}", "set {'s'}",
    ]);
  });

  it('decides typed arrays, ArrayBuffer, DataView and Dates', () => {
    const date = new Date(Date.UTC(2024, 0, 2, 3, 4, 5));
    expect(pythonRepr([
      new Float64Array([1, 2.5]), new Int16Array([-1, 2]), new BigInt64Array([2n ** 60n]),
      new Uint8Array([1, 2]).buffer, new DataView(new Uint8Array([3]).buffer), date, { at: date },
    ])).toEqual([
      'list [1.0, 2.5]', 'list [-1, 2]', 'list [1152921504606846976]', "bytes b'\\x01\\x02'", "bytes b'\\x03'",
      "datetime datetime.datetime(2024, 1, 2, 3, 4, 5, tzinfo=datetime.timezone.utc)",
      "dict {'at': datetime.datetime(2024, 1, 2, 3, 4, 5, tzinfo=datetime.timezone.utc)}",
    ]);
  });

  it('keeps shared references shared', () => {
    const shared = [1];
    expect(pythonMap('import pickle\ndef f(d):\n    v = pickle.loads(d)\n    return repr(v[0] is v[1]).encode()', [pickle([shared, shared])])[0]!.toString()).toBe('True');
  });

  it.each<[string, unknown, RegExp]>([
    ['a function', { handler: function handler() {} }, /cannot store value of type Function \(handler\) at result\.handler/],
    ['a symbol', [1, Symbol('s')], /cannot store value of type Symbol at result\[1\]/],
    ['a class instance', { p: new Point() }, /cannot store value of type Point at result\.p/],
    ['an Error', { 'bad key': new TypeError('x') }, /cannot store value of type TypeError at result\["bad key"\]/],
    ['a Promise', Promise.resolve(1), /type Promise at result/],
    ['an Array as Map key', new Map([[[1], 1]]), /Map key\) of type Array/],
    ['an object as Set member', new Set([{}]), /Set member\) of type Object/],
    ['an object with toJSON', { v: new (class Bad { toJSON(): never { throw new Error('no'); } })() }, /cannot store value of type Bad at result\.v: it has toJSON\(\)/],
  ])('refuses %s, naming type and place', (_name, value, message) => {
    expect(refusal(value)).toMatchObject({ code: ErrorCode.InvalidInput, message: expect.stringMatching(message) });
  });

  it('refuses cycles and excessive depth', () => {
    const cyclic: unknown[] = [];
    cyclic.push({ again: cyclic });
    expect(refusal(cyclic).message).toMatch(/cannot store result\[0\]\.again: it contains itself/);
    let deep: unknown = 1;
    for (let i = 0; i < 1200; i++) deep = [deep];
    expect(refusal(deep)).toMatchObject({ code: ErrorCode.LimitExceeded, message: expect.stringMatching(/deeper than 1000/) });
  });

  it('passes a large Buffer through as its own chunk, uncopied', () => {
    const big = Buffer.alloc(1 << 20, 7);
    const payload = encodeValue({ data: big });
    if (payload.kind !== 'opaque') throw new Error('expected opaque');
    expect(payload.chunks).toHaveLength(3);
    expect(payload.chunks[1]).toBe(big);
    const bytes = Buffer.concat(payload.chunks);
    expect(bytes.subarray(0, 4)).toEqual(Buffer.from('FLM\x00', 'latin1'));
    const [seen] = pythonMap(`
import pickle
def f(d):
    v = pickle.loads(d[4:])
    return repr((len(v['data']), v['data'][:2])).encode()
`, [bytes]);
    expect(seen!.toString()).toBe("(1048576, b'\\x07\\x07')");
    expect(decodeValue({ kind: 'opaque', version: 1, base: bytes, patches: [] })).toEqual({ data: big });
  });
});
