import { Binary, BSON, Long } from 'bson';
import { decodeRunnerRequest, encodeRunnerRequest, ObjectRefArg, argumentRef } from '../../src/codecs/request';
import { encodeObjectRef } from '../../src/wire/object-ref';
import { ErrorCode } from '../../src/errors';
import { refusalOf } from '../helpers/refusal';
import { pythonOutputs } from './py-batch';

const REF = { endpoint: 'grpc://127.0.0.1:9090', key: 'app/ssn/obj', version: 3 };

const refusal = (input: Uint8Array) => refusalOf(() => decodeRunnerRequest(input), 'the request');

describe('runner requests pickled by the Python SDK', () => {
  const py = pythonOutputs(`
import cloudpickle, pickle, bson
from flamepy.runner.types import RunnerRequest, RunnerContext
from flamepy.core.cache import ObjectRef
ref = ObjectRef(endpoint='grpc://127.0.0.1:9090', key='app/ssn/obj', version=3)
bad = RunnerRequest(); bad.method = 5
bad_kwargs = RunnerRequest(); bad_kwargs.kwargs = {1: 'x'}
def add(a, b): return a + b
outputs = [
    cloudpickle.dumps(RunnerRequest(method='add', args=(5, 3))),
    cloudpickle.dumps(RunnerRequest(method='f', kwargs={'x': 1, 'ref': ref, 'raw': ref.encode()})),
    cloudpickle.dumps(RunnerRequest()),
    cloudpickle.dumps(RunnerRequest(method='g', args=(ref, ref.encode(), [ref.encode()], [ref], 2**80, -2**63, b'\\x00\\x01', {'n': (1, [2, {3}])}, None, 1.5))),
    pickle.dumps(RunnerRequest(method='p2', args=[b'xy', bytearray(b'z'), {1}], kwargs={'r': ref}), protocol=2),
    cloudpickle.dumps(RunnerContext(execution_object=add)),
    cloudpickle.dumps(bad),
    cloudpickle.dumps(bad_kwargs),
    cloudpickle.dumps([1, 2]),
    bson.encode({'method': 'b', 'args': [bson.Binary(ref.encode(), 0x80), 2**62], 'kwargs': None}),
]
`);

  it('positional arguments', () => {
    expect(decodeRunnerRequest(py[0]!)).toStrictEqual({ method: 'add', args: [5, 3], kwargs: null });
  });

  it('keyword arguments, ObjectRef objects and ObjectRef bytes at the top level', () => {
    const req = decodeRunnerRequest(py[1]!);
    expect(req).toStrictEqual({ method: 'f', args: [], kwargs: { x: 1, ref: new ObjectRefArg(REF), raw: new ObjectRefArg(REF) } });
    expect(argumentRef(req.kwargs!.ref)).toEqual(REF);
    expect(argumentRef(req.kwargs!.x)).toBeUndefined();
  });

  it('no arguments', () => {
    expect(decodeRunnerRequest(py[2]!)).toStrictEqual({ method: null, args: [], kwargs: null });
  });

  it('bigints, nested containers, bytes; nested encoded refs stay bytes', () => {
    const req = decodeRunnerRequest(py[3]!);
    expect(req.args).toStrictEqual([
      new ObjectRefArg(REF), new ObjectRefArg(REF), [encodeObjectRef(REF)], [new ObjectRefArg(REF)],
      2n ** 80n, -(2n ** 63n), Buffer.from([0, 1]), { n: [1, [2, new Set([3])]] }, null, 1.5,
    ]);
  });

  it('protocol 2 pickles (bytes via _codecs.encode, sets via builtins.set)', () => {
    expect(decodeRunnerRequest(py[4]!)).toStrictEqual({
      method: 'p2', args: [Buffer.from('xy'), Buffer.from('z'), new Set([1])], kwargs: { r: new ObjectRefArg(REF) },
    });
  });

  it('a pickled RunnerContext explains itself', () => {
    expect(refusal(py[5]!).message).toMatch(/task input \(a pickle\): .*Python flamepy\.runner\.types\.RunnerContext.*JavaScript module reference/);
  });

  it('wrong field types and other objects are named', () => {
    expect(refusal(py[6]!).message).toMatch(/RunnerRequest\.method must be a str or None, got number/);
    expect(refusal(py[7]!).message).toMatch(/kwargs must have str keys/);
    expect(refusal(py[8]!).message).toMatch(/pickle holds a value of type Array, not a flamepy\.runner\.types\.RunnerRequest/);
  });

  it('reads a BSON request built by pymongo, refs as binary subtype 0x80', () => {
    expect(decodeRunnerRequest(py[9]!)).toStrictEqual({ method: 'b', args: [new ObjectRefArg(REF), 2n ** 62n], kwargs: null });
  });
});

describe('runner requests as BSON', () => {
  it('round-trips with ObjectRefArg at the top level', () => {
    const req = { method: 'm', args: [1, new ObjectRefArg(REF), [new Binary(encodeObjectRef(REF), 0x80)], Buffer.from('b')], kwargs: { r: new ObjectRefArg(REF), s: 'x' } };
    const back = decodeRunnerRequest(encodeRunnerRequest(req));
    expect(back).toStrictEqual({
      method: 'm', args: [1, new ObjectRefArg(REF), [Buffer.from(encodeObjectRef(REF))], Buffer.from('b')], kwargs: { r: new ObjectRefArg(REF), s: 'x' },
    });
  });

  it('int64 beyond the safe range becomes bigint, within stays number', () => {
    const doc = BSON.serialize({ method: null, args: [Long.fromBigInt(2n ** 60n), Long.fromNumber(7)], kwargs: null });
    expect(decodeRunnerRequest(doc).args).toStrictEqual([2n ** 60n, 7]);
  });

  it('tells a BSON document whose length starts with 0x80 from a pickle', () => {
    const size = (n: number): Uint8Array => BSON.serialize({ method: 'x'.repeat(n), args: null, kwargs: null });
    const doc = size(128 - size(0).length);
    expect(doc.length).toBe(128);
    expect(doc[0]).toBe(0x80);
    expect(decodeRunnerRequest(doc).method).toMatch(/^x+$/);
  });

  it.each<[string, Record<string, unknown>, RegExp]>([
    ['method not a string', { method: 5, args: [] }, /task input\.method must be a string or null, got number/],
    ['args not an array', { method: 'm', args: { a: 1 } }, /task input\.args must be an array or null, got document/],
    ['kwargs not a document', { method: 'm', kwargs: [1] }, /task input\.kwargs must be a document or null, got array/],
    ['an unknown field', { method: 'm', argv: [] }, /unknown field\(s\) argv/],
    ['a subtype 0x80 binary that is no ObjectRef', { args: [new Binary(Buffer.from('nope'), 0x80)] }, /args\[0\] is a binary of subtype 0x80.*does not hold an encoded ObjectRef/],
  ])('refuses %s', (_name, doc, message) => {
    expect(refusal(BSON.serialize(doc))).toMatchObject({ code: ErrorCode.InvalidInput, message: expect.stringMatching(message) });
  });

  it('refuses bytes that are neither BSON nor pickle', () => {
    expect(refusal(Buffer.from('hello')).message).toMatch(/neither a BSON document nor a pickle/);
    expect(refusal(Buffer.alloc(0)).message).toMatch(/neither a BSON document nor a pickle/);
    const broken = Buffer.from(BSON.serialize({ method: 'm' }));
    broken[4] = 0x7f; // an unknown element type
    expect(refusal(broken).message).toMatch(/task input is not a valid BSON document/);
  });
});
