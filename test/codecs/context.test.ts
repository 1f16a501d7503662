import { BSON } from 'bson';
import {
  decodeCommonData, decodeContextObject, encodeRunnerContext, parseExportPath, type RunnerContext,
} from '../../src/codecs/context';
import { encodeObjectRef } from '../../src/wire/object-ref';
import { ErrorCode, isFlmError } from '../../src/errors';
import { pythonOutputs } from './py-batch';

const REF = { endpoint: 'grpc://127.0.0.1:9090', key: 'app/ssn/ctx', version: 1 };
const opaque = (base: Uint8Array) => ({ kind: 'opaque' as const, version: 1, base: Buffer.from(base), patches: [] });

function refusal(f: () => unknown): { code: ErrorCode; message: string } {
  try {
    f();
  } catch (err) {
    if (!isFlmError(err)) throw err;
    return { code: err.code, message: err.message };
  }
  throw new Error('expected a refusal');
}

describe('session common data', () => {
  it('an encoded ObjectRef (ours and the Python SDK\'s) is a reference', () => {
    const [pyRef] = pythonOutputs(`
from flamepy.core.cache import ObjectRef
outputs = [ObjectRef(endpoint='grpc://127.0.0.1:9090', key='app/ssn/ctx', version=1).encode()]
`);
    expect(decodeCommonData(pyRef!)).toEqual({ kind: 'ref', ref: REF });
    expect(decodeCommonData(encodeObjectRef(REF))).toEqual({ kind: 'ref', ref: REF });
  });

  it('a BSON context round-trips through encodeRunnerContext', () => {
    const ctx: RunnerContext = {
      module: './lib/math.js', export: 'handlers.math.add', initArgs: [1, 'two', { three: 3 }],
      stateful: true, autoscale: true, warmup: 2, state: Buffer.from([1, 2, 3]),
    };
    expect(decodeCommonData(encodeRunnerContext(ctx))).toStrictEqual({ kind: 'context', context: ctx });
    const doc = BSON.deserialize(encodeRunnerContext(ctx));
    expect(Object.keys(doc)).toEqual(['module', 'export', 'init_args', 'stateful', 'autoscale', 'warmup', 'state']);
    expect(decodeCommonData(BSON.serialize({}))).toStrictEqual({ kind: 'context', context: { stateful: false, autoscale: false, warmup: 0 } });
  });

  it.each<[string, Record<string, unknown>, RegExp]>([
    ['module not a string', { module: 5 }, /field module must be a non-empty string, got number/],
    ['export with ..', { export: 'a..b' }, /export "a\.\.b" is not a valid export path/],
    ['export ..', { export: '..' }, /export "\.\." is not a valid export path/],
    ['export through a prototype', { export: 'default.constructor' }, /"constructor" is not allowed/],
    ['init_args not an array', { init_args: 'x' }, /field init_args must be an array, got string/],
    ['stateful not a boolean', { stateful: 'yes' }, /field stateful must be a boolean/],
    ['warmup negative', { warmup: -1 }, /field warmup must be a non-negative integer/],
    ['warmup fractional', { warmup: 1.5 }, /field warmup must be a non-negative integer/],
    ['state not binary', { state: 'abc' }, /field state must be binary, got string/],
    ['an unknown field', { initArgs: [] }, /unknown field\(s\) initArgs \(known: module, export, init_args/],
  ])('refuses %s', (_name, doc, message) => {
    expect(refusal(() => decodeCommonData(BSON.serialize(doc)))).toMatchObject({ code: ErrorCode.InvalidInput, message: expect.stringMatching(message) });
  });

  it('refuses bytes that are neither', () => {
    expect(refusal(() => decodeCommonData(Buffer.from('xyz'))).message).toMatch(/neither an encoded ObjectRef nor a BSON context document/);
  });
});

describe('context objects read from the cache', () => {
  const py = pythonOutputs(`
import cloudpickle
from flamepy.runner.types import RunnerContext
class Svc:
    def add(self, a, b): return a + b
outputs = [
    b'FLM\\x00' + cloudpickle.dumps({'module': 'lib/math.js', 'export': 'add', 'init_args': (1,), 'stateful': True, 'state': b'st'}),
    b'FLM\\x00' + cloudpickle.dumps(RunnerContext(execution_object=Svc)),
    cloudpickle.dumps(RunnerContext(execution_object=Svc())),
    b'FLM\\x00' + cloudpickle.dumps([1]),
]
`);

  it('a pickled dict (Python put_object) is a context', () => {
    expect(decodeContextObject(opaque(py[0]!))).toStrictEqual({
      module: 'lib/math.js', export: 'add', initArgs: [1], stateful: true, autoscale: false, warmup: 0, state: Buffer.from('st'),
    });
  });

  it('a BSON document is a context', () => {
    expect(decodeContextObject(opaque(encodeRunnerContext({ module: 'm', stateful: false, autoscale: false, warmup: 0 }))))
      .toStrictEqual({ module: 'm', stateful: false, autoscale: false, warmup: 0 });
  });

  it('a pickled Python RunnerContext is refused with instructions', () => {
    for (const bytes of [py[1]!, py[2]!]) {
      const err = refusal(() => decodeContextObject(opaque(bytes)));
      expect(err.code).toBe(ErrorCode.InvalidInput);
      expect(err.message).toMatch(/^session context object: the data is a pickled Python flamepy\.runner\.types\.RunnerContext/);
      expect(err.message).toMatch(/must be a JavaScript module reference: give the session common data as a context \{module, export, init_args\}/);
    }
  });

  it('a pickled RunnerContext given directly as common data gets the same explanation', () => {
    expect(refusal(() => decodeCommonData(py[2]!)).message).toMatch(/^session common data: the data is a pickled Python flamepy\.runner\.types\.RunnerContext/);
    expect(decodeCommonData(py[0]!)).toMatchObject({ kind: 'context', context: { module: 'lib/math.js' } });
  });

  it('other values and Arrow objects are refused', () => {
    expect(refusal(() => decodeContextObject(opaque(py[3]!))).message).toMatch(/holds a value of type Array, not a context/);
    expect(refusal(() => decodeContextObject({ kind: 'arrow', version: 1, ipc: new Uint8Array() })).message).toMatch(/is an Arrow table/);
  });
});

describe('export paths', () => {
  it('splits dotted paths', () => {
    expect(parseExportPath('handlers.math.add')).toEqual(['handlers', 'math', 'add']);
    expect(parseExportPath('default')).toEqual(['default']);
    for (const bad of ['', '.a', 'a.', 'a..b', '__proto__.x', 'a.prototype']) expect(() => parseExportPath(bad)).toThrow(/not a valid export path/);
  });
});
