/**
 * The raw header inspector sees the decompressed stream in whatever pieces it
 * arrives: a header or a PAX record cut at any byte must be found all the same.
 */
import { isFlmError } from '../../src/errors';
import { TarHeaderInspector } from '../../src/packages/tar-headers';
import { pax, rawTar, type RawEntry } from './archives';

/** Feeds `tar` to a fresh inspector in pieces of the given sizes (cycled); the refusal, if any. */
function inspect(tar: Buffer, sizes: number[]): unknown {
  const inspector = new TarHeaderInspector('package test');
  try {
    let at = 0;
    for (let i = 0; at < tar.length; i++) {
      const n = sizes[i % sizes.length]!;
      inspector.write(tar.subarray(at, at + n));
      at += n;
    }
  } catch (err) {
    return err;
  }
  return undefined;
}

const nameField = Buffer.concat([Buffer.from('package/ok'), Buffer.from([0]), Buffer.from('../../evil')]);
const filler: RawEntry[] = Array.from({ length: 20 }, (_, i) => ({ name: `package/f${i}`, data: 'x'.repeat(i * 97) }));
const cases: Array<[string, RawEntry[], RegExp | undefined]> = [
  ['a good archive', [...filler, pax({ path: 'package/long' }), { name: 'package/x', data: 'y'.repeat(700) }], undefined],
  ['a name hidden after a NUL, after 20 entries', [...filler, { name: '', nameField, data: 'x' }], /bytes after a NUL in its name field/],
  ['a NUL in a PAX path, after 20 entries', [...filler, pax({ path: 'package/a\u0000../../evil' }), { name: 'package/p', data: 'z' }], /PAX path .* contains a NUL/],
];

describe.each(cases)('%s', (_name, entries, refusal) => {
  const tar = rawTar(entries);
  it.each([[[tar.length]], [[1]], [[511]], [[513]], [[7, 500, 1024, 3]], [[64 * 1024]]])('in pieces of %p bytes', (sizes) => {
    const err = inspect(tar, sizes);
    if (refusal) {
      expect(isFlmError(err)).toBe(true);
      expect(err).toMatchObject({ message: expect.stringMatching(refusal) });
    } else {
      expect(err).toBeUndefined();
    }
  });
});
