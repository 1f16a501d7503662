/**
 * Forms the real Python SDK produces in passing: an ObjectRef whose version is
 * pymongo's bson.int64.Int64 (any ref that went through a PutResult), and a
 * context stored as put_object(prefix, cloudpickle.dumps(ctx)) — bytes holding a pickle.
 */
import { decodeRunnerRequest, decodeContextObject, isObjectRefArg, encodeRunnerContext, writePickle } from '../../src/codecs';
import { runPython } from '../helpers/python';

const concat = (chunks: Uint8Array[]): Buffer => Buffer.concat(chunks.map((c) => Buffer.from(c)));

describe('forms the Python SDK produces', () => {
  it('reads an ObjectRef argument whose version is bson.int64.Int64, at protocols 2 and 5', () => {
    for (const protocol of [2, 5]) {
      const bytes = runPython(`
import sys, cloudpickle
from bson.int64 import Int64
from flamepy.core.cache import ObjectRef
from flamepy.runner.types import RunnerRequest
ref = ObjectRef(endpoint="grpc://127.0.0.1:9090", key="app/ssn/obj", version=Int64(7))
sys.stdout.buffer.write(cloudpickle.dumps(RunnerRequest(method="f", args=(ref,), kwargs={"r": ref}), protocol=${protocol}))
`);
      const req = decodeRunnerRequest(bytes);
      const arg = req.args[0];
      expect(isObjectRefArg(arg) && arg.ref).toEqual({ endpoint: 'grpc://127.0.0.1:9090', key: 'app/ssn/obj', version: 7 });
      expect(isObjectRefArg(req.kwargs?.r)).toBe(true);
    }
  });

  it('refuses an Int64 with attributes or a non-int argument', () => {
    const bad = runPython(`
import sys, pickle
# GLOBAL bson.int64 Int64, ("x",), NEWOBJ, STOP — built by hand: Int64("x") cannot be pickled by Python itself
sys.stdout.buffer.write(b"\\x80\\x02cbson.int64\\nInt64\\nX\\x01\\x00\\x00\\x00x\\x85\\x81.")
`);
    expect(() => decodeRunnerRequest(bad)).toThrow(/Int64 takes one int/);
  });

  it('explains a cloudpickled RunnerContext stored as bytes (the SDK form)', () => {
    const stored = runPython(`
import sys, cloudpickle
from flamepy.runner.types import RunnerContext
inner = cloudpickle.dumps(RunnerContext(execution_object=len))
sys.stdout.buffer.write(b"FLM\\x00" + cloudpickle.dumps(inner))
`);
    expect(() => decodeContextObject({ kind: 'opaque', version: 1, base: stored, patches: [] })).toThrow(/JavaScript module reference/);
  });

  it('reads a BSON context stored as bytes with put_object', () => {
    const bson = encodeRunnerContext({ export: 'Counter', initArgs: [1], stateful: true, autoscale: false, warmup: 0 });
    const stored = concat(writePickle(bson, { prefix: Buffer.from('FLM\x00', 'latin1') }));
    const ctx = decodeContextObject({ kind: 'opaque', version: 1, base: stored, patches: [] });
    expect(ctx).toMatchObject({ export: 'Counter', initArgs: [1], stateful: true });
  });
});
