/** The embedded server's DoPut answer document is what BSON.serialize makes of {endpoint, key, version: int64}. */
import { BSON, Long } from 'bson';
import fc from 'fast-check';
import { putResultDocument } from '../../src/cache/server/put-result';
import { decodeObjectRef } from '../../src/wire/object-ref';

const bsonOf = (endpoint: string, key: string, version: number): Buffer => Buffer.from(BSON.serialize({ endpoint, key, version: Long.fromNumber(version) }));

test('byte for byte as BSON.serialize, for any strings and any version up to 2^53 - 1', () => {
  fc.assert(
    fc.property(fc.string({ unit: 'binary' }), fc.string({ unit: 'binary' }), fc.maxSafeNat(), (endpoint, key, version) => {
      expect(putResultDocument(endpoint, key, version)).toEqual(bsonOf(endpoint, key, version));
    }),
    { numRuns: 500 },
  );
});

test('examples: a typical answer, an empty key, the int64 boundaries a number can hold; decodes as an ObjectRef', () => {
  for (const [endpoint, key, version] of [
    ['grpc://127.0.0.1:9090', 'app/ssn/0f8c2a9e-3b7a-4a0e-9a55-6a1d5e8c9b11', 1],
    ['grpc://[::1]:1', '', 0],
    ['é', 'ключ/😀/\u0000', 2 ** 32],
    ['e', 'k', 2 ** 32 - 1],
    ['e', 'k', Number.MAX_SAFE_INTEGER],
  ] as const) {
    const doc = putResultDocument(endpoint, key, version);
    expect(doc).toEqual(bsonOf(endpoint, key, version));
    expect(decodeObjectRef(doc)).toEqual({ endpoint, key, version });
  }
});
