import { readPickle, PickledRunnerRequest } from '../../src/codecs/pickle';
import { ObjectRefArg } from '../../src/codecs/object-ref-arg';
import { ErrorCode, isFlmError } from '../../src/errors';
import { pythonOutputs } from './py-batch';

/** The error readPickle throws, checked to be ours. */
function refusal(bytes: Uint8Array, options?: Parameters<typeof readPickle>[1]): { code: ErrorCode; message: string } {
  try {
    readPickle(bytes, options);
  } catch (err) {
    if (!isFlmError(err)) throw err;
    return { code: err.code, message: err.message };
  }
  throw new Error('expected readPickle to refuse the input');
}

const b = (...parts: (string | number[] | Buffer)[]): Buffer =>
  Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p, 'latin1') : Buffer.isBuffer(p) ? p : Buffer.from(p))));

// Python values, their expected JavaScript form, for every protocol Python writes.
const PY_VALUES = `[
  None, True, False, 0, 255, 256, 65535, 65536, -1, 2**31 - 1, -2**31, 2**53 - 1, 2**53, -2**53, 2**64, -(2**100),
  1.5, -0.0, float('inf'), float('-inf'), 1e300,
  'hello', 'é€😀', '\\ud800', '', 'a\\nb\\\\c \\u1234', 'x' * 300,
  b'', b'\\x00\\xff', b'y' * 300, bytearray(b'ab'),
  (), (1,), (1, 2), (1, 2, 3), (1, 2, 3, 4), [], [1, [2, [3]]], list(range(1500)),
  {}, {'a': 1, 'b': [None]}, {1: 'x', (1, 2): 't'}, set(), {1, 2}, frozenset({'a'}),
  RunnerRequest(method='add', args=(1, 2), kwargs={'k': b'v'}), RunnerRequest(),
  ObjectRef('grpc://10.0.0.1:9090', 'app/ssn/id', 7),
]`;

const expected = (): unknown[] => [
  null, true, false, 0, 255, 256, 65535, 65536, -1, 2 ** 31 - 1, -(2 ** 31), 2 ** 53 - 1, 2n ** 53n, -(2n ** 53n), 2n ** 64n, -(2n ** 100n),
  1.5, -0, Infinity, -Infinity, 1e300,
  'hello', 'é€😀', '\ud800', '', 'a\nb\\c \u1234', 'x'.repeat(300),
  Buffer.alloc(0), Buffer.from([0, 255]), Buffer.from('y'.repeat(300)), Buffer.from('ab'),
  [], [1], [1, 2], [1, 2, 3], [1, 2, 3, 4], [], [1, [2, [3]]], Array.from({ length: 1500 }, (_, i) => i),
  {}, { a: 1, b: [null] }, new Map<unknown, unknown>([[1, 'x'], [[1, 2], 't']]), new Set(), new Set([1, 2]), new Set(['a']),
  Object.assign(new PickledRunnerRequest(), { method: 'add', args: [1, 2], kwargs: { k: Buffer.from('v') } }),
  new PickledRunnerRequest(),
  new ObjectRefArg({ endpoint: 'grpc://10.0.0.1:9090', key: 'app/ssn/id', version: 7 }),
];

describe('pickle reader: what Python writes', () => {
  const pickles = pythonOutputs(`
import pickle, cloudpickle
from flamepy.runner.types import RunnerRequest
from flamepy.core.cache import ObjectRef
values = ${PY_VALUES}
outputs = [pickle.dumps(values, protocol=p) for p in range(6)] + [cloudpickle.dumps(values)]
`);

  it.each([0, 1, 2, 3, 4, 5, 6])('reads protocol %i (6 = cloudpickle) value for value', (i) => {
    const got = readPickle(pickles[i]!) as unknown[];
    const want = expected();
    expect(got).toHaveLength(want.length);
    for (let k = 0; k < want.length; k++) expect([k, got[k]]).toStrictEqual([k, want[k]]);
    expect(Object.is(got[17], -0)).toBe(true);
  });

  it('keeps shared references shared and dict keys as plain own properties', () => {
    const [shared, proto] = pythonOutputs(`
import pickle
a = [1]
outputs = [pickle.dumps([a, a, {'__proto__': 1}], protocol=5), pickle.dumps({'__proto__': {'polluted': True}}, protocol=2)]
`);
    const v = readPickle(shared!) as unknown[];
    expect(v[0]).toBe(v[1]);
    const o = readPickle(proto!) as Record<string, unknown>;
    expect(Object.getPrototypeOf(o)).toBe(Object.prototype);
    expect(Object.keys(o)).toEqual(['__proto__']);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});

describe('pickle reader: opcodes Python 3 rarely writes', () => {
  it.each<[string, Buffer, unknown]>([
    ['SHORT_BINSTRING ascii → str', b([0x80, 2], 'U\x02hi.'), 'hi'],
    ['BINSTRING non-ascii → bytes', b([0x80, 2], 'T', [2, 0, 0, 0, 0xff, 0x01], '.'), Buffer.from([0xff, 1])],
    ['BINUNICODE8', b([0x80, 4, 0x8d, 2, 0, 0, 0, 0, 0, 0, 0], 'ok.'), 'ok'],
    ['BINBYTES8', b([0x80, 4, 0x8e, 1, 0, 0, 0, 0, 0, 0, 0, 7], '.'), Buffer.from([7])],
    ['BYTEARRAY8', b([0x80, 5, 0x96, 1, 0, 0, 0, 0, 0, 0, 0, 9], '.'), Buffer.from([9])],
    ['FRAME', b([0x80, 4, 0x95, 2, 0, 0, 0, 0, 0, 0, 0], 'N.'), null],
    ['DUP', b([0x80, 2], 'K\x05', [0x32, 0x86], '.'), [5, 5]],
    ['POP', b([0x80, 2], 'K\x01K\x02', [0x30], '.'), 1],
    ['POP with only a mark pops the mark', b([0x80, 2], 'K\x01(', [0x30], '.'), 1],
    ['POP_MARK', b([0x80, 2], 'K\x01(K\x02K\x03', [0x31], '.'), 1],
    ['LIST', b('(K\x01K\x02l.'), [1, 2]],
    ['DICT', b('(X\x01\x00\x00\x00aK\x01d.'), { a: 1 }],
    ['SETITEM', b('}X\x01\x00\x00\x00aK\x01s.'), { a: 1 }],
    ['APPEND', b(']K\x01a.'), [1]],
    ['PUT/GET text', b(']p0\n0g0\n.'), []],
    ['LONG_BINPUT/LONG_BINGET', b(']r', [1, 0, 0, 0], '0j', [1, 0, 0, 0], '.'), []],
    ['INT text', b('I-42\n.'), -42],
    ['INT 00/01 are bools', b('(I01\nI00\nt.'), [true, false]],
    ['LONG text', b('L123456789012345678901234567890L\n.'), 123456789012345678901234567890n],
    ['FLOAT text', b('(F1.25\nFinf\nF-1e-5\nt.'), [1.25, Infinity, -1e-5]],
    ['UNICODE raw escape', b('V\\u00e9\\U0001f600x\n.'), 'é😀x'],
    ['LONG1 negative', b([0x80, 2, 0x8a, 1, 0xff], '.'), -1],
    ['LONG1 empty is 0', b([0x80, 2, 0x8a, 0], '.'), 0],
    ['LONG4', b([0x80, 2, 0x8b, 9, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1], '.'), 2n ** 64n],
    ['NEWOBJ_EX', b([0x80, 4], '\x8c\x12flamepy.core.cache\x8c\x09ObjectRef\x93)}', [0x92], '}X\x08\x00\x00\x00endpointX\x01\x00\x00\x00esX\x03\x00\x00\x00keyX\x05\x00\x00\x00a/b/cs', 'b.'),
      new ObjectRefArg({ endpoint: 'e', key: 'a/b/c', version: 0 })],
    ['copyreg.__newobj__', b('ccopyreg\n__newobj__\ncflamepy.runner.types\nRunnerRequest\n\x85R.'), new PickledRunnerRequest()],
    ['builtins.bytes()', b('c__builtin__\nbytes\n)R.'), Buffer.alloc(0)],
  ])('%s', (_name, bytes, want) => {
    expect(readPickle(bytes)).toStrictEqual(want);
  });
});

describe('pickle reader: refusals', () => {
  it.each<[string, Buffer, RegExp]>([
    ['GLOBAL os.system', b('cos\nsystem\n(S"id"\ntR.'), /pickle global os\.system is not allowed/],
    ['STACK_GLOBAL builtins.eval', b([0x80, 4], '\x8c\x08builtins\x8c\x04eval\x93.'), /pickle global builtins\.eval is not allowed/],
    ['cloudpickle function', b([0x80, 4], '\x8c\x17cloudpickle.cloudpickle\x8c\x0e_make_function\x93.'), /cloudpickle\.cloudpickle\._make_function is not allowed/],
    ['PERSID', b('Pid\n.'), /PERSID \(0x50\).* is not allowed/],
    ['BINPERSID', b('N', [0x51], '.'), /BINPERSID/],
    ['INST', b('(ifoo\nbar\n.'), /INST \(0x69\)/],
    ['OBJ', b('(o.'), /OBJ \(0x6f\)/],
    ['EXT1', b([0x80, 2, 0x82, 1], '.'), /EXT1/],
    ['STRING', b("S'x'\n."), /STRING \(0x53\)/],
    ['NEXT_BUFFER', b([0x80, 5, 0x97], '.'), /NEXT_BUFFER/],
    ['unknown opcode', b([0x80, 5, 0xff]), /unknown opcode 0xff/],
    ['protocol 6', b([0x80, 6], 'N.'), /unsupported pickle protocol 6/],
    ['REDUCE of an allowed helper with odd arguments', b('c__builtin__\nset\nK\x01\x85R.'), /calling builtins\.set with \(int\)/],
    ['REDUCE on a non-global', b('K\x01)R.'), /calling a int is not allowed/],
    ['instantiating builtins.object', b([0x80, 2], 'c__builtin__\nobject\n)', [0x81], '.'), /creating an instance of class builtins\.object/],
    ['BUILD on a list', b(']}b.'), /setting the state of a list/],
    ['APPEND to a tuple', b(')K\x01a.'), /appending to a tuple/],
    ['unhashable dict key', b('}]K\x01s.'), /unhashable list as dict key/],
    ['recursive list', b(']q\x00h\x00a.'), /recursive structure/],
    ['a class as a value', b('cflamepy.runner.types\nRunnerRequest\n.'), /holds the Python class flamepy\.runner\.types\.RunnerRequest itself/],
    ['missing memo entry', b('h\x05.'), /memo entry 5 is missing/],
    ['stack underflow', b('a.'), /stack underflow/],
    ['no MARK', b('t.'), /no MARK/],
    ['no STOP', b('N'), /without STOP/],
    ['empty input', b(''), /without STOP/],
    ['bad int text', b('Iabc\n.'), /bad integer/],
    ['length beyond the end', b('X', [0xff, 0xff, 0xff, 0x7f], 'abc.'), /truncated/],
    ['8-byte length beyond the end', b([0x8e, 0, 0, 0, 0, 0, 0, 0, 0x80], '.'), /truncated/],
    ['invalid UTF-8', b('X\x02\x00\x00\x00\xc3\x28.'), /malformed UTF-8/],
    ['ObjectRef with a non-int version', b([0x80, 2], 'cflamepy.core.cache\nObjectRef\n)', [0x81], '}(X\x08\x00\x00\x00endpointX\x01\x00\x00\x00eX\x03\x00\x00\x00keyX\x01\x00\x00\x00kX\x07\x00\x00\x00versionX\x01\x00\x00\x00vub.'), /invalid version/],
  ])('%s', (_name, bytes, message) => {
    const err = refusal(bytes);
    expect(err.message).toMatch(message);
  });

  it('explains a pickled Python RunnerContext', () => {
    const [ctx] = pythonOutputs(`
import cloudpickle
from flamepy.runner.types import RunnerContext
def add(a, b): return a + b
outputs = [cloudpickle.dumps(RunnerContext(execution_object=add))]
`);
    const err = refusal(ctx!);
    expect(err.code).toBe(ErrorCode.InvalidInput);
    expect(err.message).toMatch(/Python flamepy\.runner\.types\.RunnerContext.*JavaScript module reference.*\{module, export, init_args\}/);
  });

  it('bounds depth, memo, size and integer length', () => {
    const deep = b(')', Buffer.alloc(5000, 0x85), '.'); // TUPLE1 of TUPLE1 of ... 5000 levels, no MARKs
    expect(refusal(deep)).toMatchObject({ code: ErrorCode.LimitExceeded, message: expect.stringMatching(/deeper than 1000/) });
    expect(readPickle(b(')', Buffer.alloc(100, 0x85), '.'), { maxDepth: 200 })).toBeDefined();
    expect(refusal(b(Buffer.alloc(2000, 0x28), 'N.'))).toMatchObject({ code: ErrorCode.LimitExceeded });
    expect(refusal(b(']', Buffer.alloc(10, 0x94), '.'), { maxMemo: 5 }).message).toMatch(/memo exceeds/);
    expect(refusal(b('N.'), { maxBytes: 1 }).message).toMatch(/more than the limit/);
    expect(refusal(b('L', '9'.repeat(5000), '\n.')).message).toMatch(/digits exceeds/);
    expect(refusal(b([0x8b, 0, 0, 2, 0], '.')).message).toMatch(/exceeds the limit/);
  });

  it('refuses every truncation of a real pickle with our error only', () => {
    const [full] = pythonOutputs(`
import cloudpickle
from flamepy.runner.types import RunnerRequest
outputs = [cloudpickle.dumps(RunnerRequest(method='m', args=(1, 2**80, 'é', b'x' * 20, [1.5, None], {1, 2}), kwargs={'a': {'b': (True,)}}))]
`);
    for (let n = 0; n < full!.length; n++) {
      expect(() => readPickle(full!.subarray(0, n))).toThrow(expect.objectContaining({ code: expect.any(String) }));
      try { readPickle(full!.subarray(0, n)); } catch (err) { expect(isFlmError(err)).toBe(true); }
    }
  });
});
