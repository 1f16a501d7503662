import { RecordBatch, Table, Utf8, tableFromIPC, vectorFromArray } from 'apache-arrow';
import { decodeValue, encodeValue } from '../../src/codecs/values';
import { ObjectRefArg } from '../../src/codecs/object-ref-arg';
import { isFlmError } from '../../src/errors';
import { pythonMap, pythonOutputs } from './py-batch';

const opaque = (base: Uint8Array, patches: Buffer[] = []) => ({ kind: 'opaque' as const, version: 1, base: Buffer.from(base), patches });

function jsTable(): Table {
  return new Table({
    id: vectorFromArray(Int32Array.from([1, 2, 3])),
    name: vectorFromArray(['a', 'b', 'c'], new Utf8()),
    score: vectorFromArray(Float64Array.from([0.5, 1.5, 2.5])),
  });
}

describe('Arrow values written by JavaScript, read by Python', () => {
  it('a Table becomes a native Arrow object that get_object answers as a pyarrow.Table', () => {
    const payload = encodeValue(jsTable());
    expect(payload.kind).toBe('arrow');
    if (payload.kind !== 'arrow') return;
    const meta = tableFromIPC(payload.ipc).schema.metadata;
    expect(Object.fromEntries(meta)).toEqual({ 'flame.cache.format': 'arrow-table-v1', 'flame.cache.version': '0', 'flame.cache.logical_type': 'pyarrow.table' });
    const [seen] = pythonMap(`
import pyarrow as pa, json
from flamepy.core import cache
def f(ipc):
    table = pa.ipc.open_stream(pa.BufferReader(ipc)).read_all()
    assert cache._is_native_arrow_schema(table.schema)
    value = cache._deserialize_native_arrow_table(table)
    return json.dumps([type(value).__name__, str(value.schema.types), value.schema.metadata or None, value.to_pydict()]).encode()
`, [payload.ipc]);
    expect(JSON.parse(seen!.toString())).toEqual(['Table', '[DataType(int32), DataType(string), DataType(double)]', null, { id: [1, 2, 3], name: ['a', 'b', 'c'], score: [0.5, 1.5, 2.5] }]);
  });

  it('a RecordBatch is answered as a pyarrow.RecordBatch', () => {
    const payload = encodeValue(jsTable().batches[0]);
    if (payload.kind !== 'arrow') throw new Error('expected arrow');
    const [seen] = pythonMap(`
import pyarrow as pa
from flamepy.core import cache
def f(ipc):
    value = cache._deserialize_native_arrow_table(pa.ipc.open_stream(pa.BufferReader(ipc)).read_all())
    return (type(value).__name__ + ' ' + str(value.num_rows)).encode()
`, [payload.ipc]);
    expect(seen!.toString()).toBe('RecordBatch 3');
  });
});

describe('values written by Python, read by JavaScript', () => {
  const py = pythonOutputs(`
import pyarrow as pa, cloudpickle, pickle
from flamepy.core import cache
from flamepy.core.cache import ObjectRef
t = pa.table({'x': pa.array([1, 2], pa.int64()), 's': ['p', 'q']}).replace_schema_metadata({'user': 'kept'})
native = cache._table_with_cache_metadata(t, 'pyarrow.table', 4)
sink = pa.BufferOutputStream()
with pa.ipc.new_stream(sink, native.schema) as w:
    w.write_table(native)
outputs = [
    cache._serialize_object_data(t),
    cache._serialize_object_data(t.to_batches()[0]),
    cache._serialize_object_data(pa.array([1.5, None])),
    cache._serialize_object_data({'a': [1, 2**70], 'b': b'x', 'r': ObjectRef('grpc://h:1', 'a/b/c', 2)}),
    pickle.dumps({'bare': True}),
    sink.getvalue().to_pybytes(),
    b'FLM\\x09abc',
]
`);

  it('FLM\\x02 table', () => {
    const t = decodeValue(opaque(py[0]!)) as Table;
    expect(t).toBeInstanceOf(Table);
    expect(t.toArray().map((r) => r.toJSON())).toEqual([{ x: 1n, s: 'p' }, { x: 2n, s: 'q' }]);
  });

  it('FLM\\x04 record batch and FLM\\x03 array', () => {
    const b = decodeValue(opaque(py[1]!)) as RecordBatch;
    expect(b).toBeInstanceOf(RecordBatch);
    expect(b.numRows).toBe(2);
    expect([...(decodeValue(opaque(py[2]!)) as Iterable<unknown>)]).toEqual([1.5, null]);
  });

  it('FLM\\x00 cloudpickle and bare pickles; patches do not change the value', () => {
    expect(decodeValue(opaque(py[3]!, [Buffer.from('FLM\x00junk')]))).toStrictEqual({
      a: [1, 2n ** 70n], b: Buffer.from('x'), r: new ObjectRefArg({ endpoint: 'grpc://h:1', key: 'a/b/c', version: 2 }),
    });
    expect(decodeValue(opaque(py[4]!))).toStrictEqual({ bare: true });
  });

  it('a native Arrow object as the cache answers it: a Table without the cache metadata', () => {
    const t = decodeValue({ kind: 'arrow', version: 4, ipc: py[5]! }) as Table;
    expect(t).toBeInstanceOf(Table);
    expect(Object.fromEntries(t.schema.metadata)).toEqual({ user: 'kept' });
    expect(t.numRows).toBe(2);
  });

  it('unknown tags, numpy tensors and broken Arrow streams are clear errors', () => {
    expect(() => decodeValue(opaque(py[6]!))).toThrow(/unknown type tag FLM\\x09/);
    expect(() => decodeValue(opaque(Buffer.from('FLM\x01xxxx', 'latin1')))).toThrow(/numpy array.*tolist\(\).*pa\.array/);
    let thrown: unknown;
    try { decodeValue(opaque(Buffer.concat([Buffer.from('FLM\x02'), Buffer.from('garbage')]))); } catch (err) { thrown = err; }
    expect(isFlmError(thrown)).toBe(true);
    expect(thrown).toMatchObject({ message: expect.stringMatching(/cannot read the FLM\\x02 Arrow table/) });
  });

  it('a JavaScript value read back by get_object-style decoding in Python', () => {
    const payload = encodeValue({ n: 2n ** 64n, m: new Map([[1, 'one']]), s: new Set([1]), b: Buffer.from('z') });
    if (payload.kind !== 'opaque') throw new Error('expected opaque');
    const [seen] = pythonMap(`
from flamepy.core import cache
def f(data):
    return repr(cache._deserialize_object_data(data)).encode()
`, [Buffer.concat(payload.chunks)]);
    expect(seen!.toString()).toBe("{'n': 18446744073709551616, 'm': {1: 'one'}, 's': {1}, 'b': b'z'}");
  });
});
