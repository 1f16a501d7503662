/** The rules with one home in src/wire: the result prefix and the cache's Arrow metadata tags. */
import { Schema } from 'apache-arrow';
import { ErrorCode, isFlmError } from '../../src/errors';
import { arrowTableMetadata, CACHE_FORMAT_KEY, CACHE_LOGICAL_TYPE_KEY, CACHE_VERSION_KEY, isNativeArrowSchema, withoutCacheMetadata } from '../../src/wire/arrow-meta';
import { formatKey, parsePrefix, resultPrefix } from '../../src/wire/keys';

function codeOf(fn: () => unknown): ErrorCode | undefined {
  try {
    fn();
    return undefined;
  } catch (err) {
    return isFlmError(err) ? err.code : undefined;
  }
}

describe('resultPrefix', () => {
  test('names <app>/<session> as the key rules parse it', () => {
    const key = resultPrefix('app', 'ssn-1');
    expect(key).toEqual({ app: 'app', session: 'ssn-1' });
    expect(parsePrefix(formatKey(key))).toEqual(key);
  });

  test.each([
    ['a/b', 'c'], // a name holding '/' is refused, not split into another prefix
    ['a', 'b/c'],
    ['a', '*'],
    ['.', 's'],
    ['', 's'],
    ['a', '..x'],
  ])('refuses (%s, %s) as invalid input', (app, session) => {
    expect(codeOf(() => resultPrefix(app, session))).toBe(ErrorCode.InvalidInput);
  });
});

describe('cache metadata tags', () => {
  test('set in one place, recognised, and removed again leaving the user metadata', () => {
    const user = new Map([['owner', 'me']]);
    const tagged = arrowTableMetadata(user, { version: 0, logicalType: 'pyarrow.table' });
    expect(tagged.get(CACHE_FORMAT_KEY)).toBe('arrow-table-v1');
    expect(tagged.get(CACHE_VERSION_KEY)).toBe('0');
    expect(tagged.get(CACHE_LOGICAL_TYPE_KEY)).toBe('pyarrow.table');
    expect(isNativeArrowSchema(new Schema([], tagged))).toBe(true);
    expect(isNativeArrowSchema(new Schema([], user))).toBe(false);
    expect(withoutCacheMetadata(tagged)).toEqual(user);
    expect(user.size).toBe(1); // not changed in place
    expect(arrowTableMetadata(user).has(CACHE_VERSION_KEY)).toBe(false);
  });
});
