/**
 * Valid seeds for the fuzzers, made at test time: pickles, BSON documents and
 * Arrow IPC streams written by the test venv's Python (cloudpickle, pymongo's
 * bson, pyarrow, Flame's own SDK serializers), and the same kinds written by
 * flmrun-js itself. One Python process makes all of them (cached per jest worker).
 */
import { BSON, Binary } from 'bson';
import { Table, tableFromArrays, tableToIPC, vectorFromArray, Dictionary, Int32, Utf8 } from 'apache-arrow';
import { encodeObjectRef, encodeRunnerContext, encodeRunnerRequest, encodeValue, ObjectRefArg, writePickle } from '../../src/codecs';
import { pythonOutputs } from '../codecs/py-batch';

export type SeedKind = 'pickle' | 'request' | 'context' | 'ref' | 'value' | 'ipc' | 'put-ipc' | 'answer-ipc';

const PYTHON = `
import pickle, cloudpickle, bson, io
import pyarrow as pa
from flamepy.runner.types import RunnerRequest, RunnerContext
from flamepy.core.cache import ObjectRef, _serialize_object_data
ref = ObjectRef(endpoint='grpc://127.0.0.1:9090', key='app/ssn/obj', version=3)
outputs = []
def add(kind, data): outputs.append(kind.encode() + b'\\0' + bytes(data))
shared = [1, 'two']
mixed = {'i': 1, 'big': 2**70, 'neg': -5, 'f': 1.5, 's': 'h\\u00e9llo', 'b': b'\\x00\\xff', 'ba': bytearray(b'ab'),
         'l': [None, True, False, shared, shared], 't': (1, (2, 3)), 'set': {1, 2}, 'fs': frozenset({'a'}), 'ik': {1: 'x', (1, 2): 'y'}}
for proto in range(0, 6):
    add('pickle', pickle.dumps(mixed, protocol=proto))
    add('pickle', pickle.dumps([ref, 'x' * 300, b'y' * 300, list(range(300))], protocol=proto))
def f(x): return x + 1
add('pickle', cloudpickle.dumps(RunnerContext(execution_object=f)))
add('pickle', cloudpickle.dumps(ref))
for req in [RunnerRequest(method='add', args=(5, 3)), RunnerRequest(),
            RunnerRequest(method='g', args=(ref, ref.encode(), [ref], 2**80, None, 1.5), kwargs={'k': ref, 'd': {'n': [1, 2]}})]:
    add('request', cloudpickle.dumps(req))
    add('request', pickle.dumps(req, protocol=2))
add('request', bson.encode({'method': 'b', 'args': [bson.Binary(ref.encode(), 0x80), 2**62, 'x', [1, {'a': None}]], 'kwargs': {'r': bson.Binary(ref.encode(), 0x80)}}))
add('request', bson.encode({'method': None, 'args': None, 'kwargs': None}))
ctx = {'module': 'pkg/index.js', 'export': 'handlers.add', 'init_args': [1, 'x', [2]], 'stateful': True, 'autoscale': False, 'warmup': 2, 'state': b'st'}
add('context', bson.encode(ctx))
add('context', bson.encode({'module': 'm'}))
add('context', cloudpickle.dumps(ctx))
add('context', b'FLM\\x00' + cloudpickle.dumps({'module': 'm', 'init_args': [ref]}))
add('context', cloudpickle.dumps(RunnerContext(execution_object=f)))
add('ref', ref.encode())
add('ref', ObjectRef(endpoint='grpc+tls://[::1]:1', key='a/b/c', version=2**40).encode())
table = pa.table({'n': [1, 2, None], 's': ['a', None, 'ccc'], 'l': [[1], [], None],
                  'd': pa.array(['x', 'y', 'x']).dictionary_encode(), 'f': [0.5, 1.5, -2.0],
                  'st': [{'a': 1}, {'a': 2}, None], 'b': [b'\\x00', b'', None]})
for value in [{'a': [1, 2]}, 'text', 12345678901234567890, table, table.to_batches()[0], pa.array([1, None, 3]), [ref, 1]]:
    add('value', _serialize_object_data(value))
def stream(t, compression=None, schema_meta=None):
    sink = io.BytesIO()
    schema = t.schema.with_metadata(schema_meta) if schema_meta else t.schema
    with pa.ipc.new_stream(sink, schema, options=pa.ipc.IpcWriteOptions(compression=compression)) as w:
        for b in t.to_batches(max_chunksize=2): w.write_batch(b.replace_schema_metadata(schema_meta) if schema_meta else b)
    return sink.getvalue()
native = {'flame.cache.format': 'arrow-table-v1', 'flame.cache.version': '0', 'flame.cache.logical_type': 'pyarrow.table'}
for c in [None, 'zstd', 'lz4']:
    add('ipc', stream(table, c))
    add('ipc', stream(table, c, native))
    put = pa.table({'version': pa.array([0, 0], pa.uint64()), 'data': pa.array([b'hello', b'x' * 100], pa.binary())},
                   schema=pa.schema([pa.field('version', pa.uint64(), False), pa.field('data', pa.binary(), False)]))
    add('put-ipc', stream(put, c))
    ans = pa.table({'version': pa.array([1, 2], pa.uint64()), 'kind': ['base', 'patch'], 'data': pa.array([b'base', b'p' * 50], pa.binary())},
                   schema=pa.schema([pa.field('version', pa.uint64(), False), pa.field('kind', pa.utf8(), False), pa.field('data', pa.binary(), False)]))
    add('answer-ipc', stream(ans, c))
fsink = io.BytesIO()
with pa.ipc.new_file(fsink, table.schema) as w: w.write_table(table)
add('ipc', fsink.getvalue())
`;

const REF = { endpoint: 'grpc://127.0.0.1:9090', key: 'app/ssn/obj', version: 3 };

function jsSeeds(): [SeedKind, Uint8Array][] {
  const table = tableFromArrays({ n: Int32Array.from([1, 2, 3]), s: ['a', 'b', 'c'] });
  const dict = new Table({ d: vectorFromArray(['x', 'y', 'x'], new Dictionary(new Utf8(), new Int32())) });
  const opaque = (v: unknown): Buffer => {
    const p = encodeValue(v);
    return p.kind === 'opaque' ? Buffer.concat(p.chunks) : Buffer.from(p.ipc);
  };
  return [
    ['pickle', Buffer.concat(writePickle({ a: [1, 2n ** 70n, 'x', Buffer.from('b')], m: new Map([[1, 2]]), s: new Set([1]) }))],
    ['request', encodeRunnerRequest({ method: 'm', args: [1, new ObjectRefArg(REF), 'x'], kwargs: { r: new ObjectRefArg(REF), s: [1, { a: 2 }] } })],
    ['request', BSON.serialize({ args: [new Binary(encodeObjectRef(REF), 0x80)] })],
    ['context', encodeRunnerContext({ module: 'm.js', export: 'a.b', initArgs: [1, 'x'], stateful: true, autoscale: true, warmup: 1, state: Buffer.from('s') })],
    ['ref', encodeObjectRef(REF)],
    ['ref', encodeObjectRef({ endpoint: 'grpc://h:1', key: 'a/b/c', version: 2 ** 40 })],
    ['value', opaque({ x: [1, 'y'] })],
    ['ipc', tableToIPC(table, 'stream')],
    ['ipc', tableToIPC(dict, 'stream')],
    ['ipc', tableToIPC(table, 'file')],
    ['ipc', opaque(table)],
  ];
}

let cache: Map<SeedKind, Buffer[]> | undefined;

/** Seeds of the given kinds, Python's and ours. */
export function seeds(...kinds: SeedKind[]): Buffer[] {
  if (!cache) {
    // Kept only once Python has answered: a failed run must fail every later call with its own error
    // (it runs again), not leave an empty cache that reads as "no seeds of kind answer-ipc".
    const built = new Map<SeedKind, Buffer[]>();
    const all: [SeedKind, Uint8Array][] = [];
    for (const out of pythonOutputs(PYTHON)) {
      const nul = out.indexOf(0);
      all.push([out.subarray(0, nul).toString() as SeedKind, out.subarray(nul + 1)]);
    }
    all.push(...jsSeeds());
    for (const [kind, bytes] of all) {
      if (!built.has(kind)) built.set(kind, []);
      built.get(kind)!.push(Buffer.from(bytes));
    }
    cache = built;
  }
  const out = kinds.flatMap((k) => cache!.get(k) ?? []);
  if (out.length === 0) throw new Error(`no seeds of kind ${kinds.join(', ')}`);
  return out;
}
