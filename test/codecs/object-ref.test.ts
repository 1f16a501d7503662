import { decodeObjectRef, encodeObjectRef, tryDecodeObjectRef } from '../../src/wire/object-ref';
import { runPython } from '../helpers/python';
import { BSON, Long, Double } from 'bson';

const PY_ENCODE = `
import sys, json
from flamepy.core.cache import ObjectRef
for line in sys.stdin:
    d = json.loads(line)
    sys.stdout.write(ObjectRef(endpoint=d['endpoint'], key=d['key'], version=d['version']).encode().hex() + "\\n")
`;

describe('ObjectRef codec', () => {
  const refs = [
    { endpoint: 'grpc://127.0.0.1:9090', key: 'app/ssn/0b7e4c1a-1f2e-4d5c-9a8b-7c6d5e4f3a2b', version: 1 },
    { endpoint: 'grpc+tls://10.0.0.1:443', key: 'a/b/c', version: 0 },
    { endpoint: '', key: 'ünï/cödé/x', version: 2 ** 31 - 1 },
    { endpoint: 'grpc://h:1', key: 'a/b/c', version: 2 ** 31 },
    { endpoint: 'grpc://h:1', key: 'a/b/c', version: 2 ** 40 + 7 },
  ];

  it('is byte-identical to the Python SDK ObjectRef.encode()', () => {
    const input = refs.map((r) => JSON.stringify(r)).join('\n') + '\n';
    const lines = runPython(PY_ENCODE, Buffer.from(input)).toString().trim().split('\n');
    expect(lines).toHaveLength(refs.length);
    refs.forEach((r, i) => expect(encodeObjectRef(r).toString('hex')).toBe(lines[i]));
  });

  it('round-trips and accepts int64 and integral double versions', () => {
    for (const r of refs) expect(decodeObjectRef(encodeObjectRef(r))).toEqual(r);
    const asLong = BSON.serialize({ endpoint: 'e', key: 'a/b/c', version: Long.fromNumber(5) });
    expect(decodeObjectRef(asLong).version).toBe(5);
    const asDouble = BSON.serialize({ endpoint: 'e', key: 'a/b/c', version: new Double(6) });
    expect(decodeObjectRef(asDouble).version).toBe(6);
  });

  it('refuses what is not an ObjectRef', () => {
    expect(tryDecodeObjectRef(Buffer.from('hello'))).toBeUndefined();
    expect(tryDecodeObjectRef(BSON.serialize({ key: 'a/b/c', endpoint: 'e', version: 1 }))).toBeUndefined();
    expect(tryDecodeObjectRef(BSON.serialize({ endpoint: 'e', key: 'a/b/c', version: 1.5 }))).toBeUndefined();
    expect(() => decodeObjectRef(Buffer.alloc(3))).toThrow(/not an encoded ObjectRef/);
  });
});
