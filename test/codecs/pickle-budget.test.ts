/**
 * The reader's heap budget: inputs that are small on the wire but ask for far
 * more heap (memo spam, container spam) are refused with LimitExceeded before
 * they allocate it; the same inputs decode under a budget large enough.
 * The default budget (half of the calling thread's free heap) is exercised end
 * to end in test/reliability/hostile-input.test.ts.
 */
import { getHeapStatistics } from 'node:v8';
import { availableHeapBudget, readPickle } from '../../src/codecs/pickle/reader';
import { ErrorCode, isFlmError } from '../../src/errors';

const NONE = 0x4e;
const MEMOIZE = 0x94;
const EMPTY_DICT = 0x7d;
const POP = 0x30;
const STOP = 0x2e;

/** `N` followed by n MEMOIZE: n memo entries from n + 2 bytes. */
function memoSpam(n: number): Buffer {
  const b = Buffer.alloc(n + 2, MEMOIZE);
  b[0] = NONE;
  b[n + 1] = STOP;
  return b;
}

/** n times `} 0` (an empty dict, popped), then None. */
function dictSpam(n: number): Buffer {
  const b = Buffer.alloc(2 * n + 2);
  for (let i = 0; i < n; i++) {
    b[2 * i] = EMPTY_DICT;
    b[2 * i + 1] = POP;
  }
  b[2 * n] = NONE;
  b[2 * n + 1] = STOP;
  return b;
}

function refusalOf(input: Buffer, maxHeapBytes: number): { code: ErrorCode; message: string } | undefined {
  try {
    readPickle(input, { maxHeapBytes });
    return undefined;
  } catch (err) {
    if (!isFlmError(err)) throw err;
    return { code: err.code, message: err.message };
  }
}

describe('pickle reader: heap budget', () => {
  test('memo spam is refused beyond the budget and decodes within it', () => {
    const input = memoSpam(100_000);
    expect(refusalOf(input, 1 << 20)).toMatchObject({ code: ErrorCode.LimitExceeded, message: expect.stringMatching(/more memory to decode/) });
    expect(refusalOf(input, 256 << 20)).toBeUndefined();
    expect(readPickle(input, { maxHeapBytes: 256 << 20 })).toBeNull();
  });

  test('container spam is charged too', () => {
    const input = dictSpam(20_000);
    expect(refusalOf(input, 1 << 20)?.code).toBe(ErrorCode.LimitExceeded);
    expect(refusalOf(input, 64 << 20)).toBeUndefined();
  });

  test('long strings are charged by their length', () => {
    const text = Buffer.alloc(1 << 20, 0x61);
    const len = Buffer.alloc(4);
    len.writeUInt32LE(text.length);
    const input = Buffer.concat([Buffer.from([0x80, 0x04, 0x58]), len, text, Buffer.from([STOP])]); // PROTO 4, BINUNICODE
    expect(refusalOf(input, 1 << 20)?.code).toBe(ErrorCode.LimitExceeded);
    expect(readPickle(input, { maxHeapBytes: 8 << 20 })).toHaveLength(1 << 20);
  });

  test('the default budget is half of what this thread has left, read now', () => {
    const h = getHeapStatistics();
    const budget = availableHeapBudget();
    expect(budget).toBeGreaterThan(0);
    expect(budget).toBeLessThanOrEqual((h.heap_size_limit - h.used_heap_size) / 2 + (16 << 20));
  });
});

describe('the default budget of a small pickle', () => {
  const v8 = jest.requireActual<typeof import('node:v8')>('node:v8');

  test('is not read from the heap when the pickle cannot be charged more than 1 MiB; a larger one is', () => {
    const spy = jest.spyOn(v8, 'getHeapStatistics');
    try {
      // PROTO 4, SHORT_BINUNICODE 'ab', STOP: a few bytes, charged at most 320 each
      expect(readPickle(Buffer.from([0x80, 0x04, 0x8c, 0x02, 0x61, 0x62, STOP]))).toBe('ab');
      expect(spy).not.toHaveBeenCalled();
      const text = Buffer.alloc(8192, 0x61);
      const len = Buffer.alloc(4);
      len.writeUInt32LE(text.length);
      expect(readPickle(Buffer.concat([Buffer.from([0x80, 0x04, 0x58]), len, text, Buffer.from([STOP])]))).toHaveLength(8192);
      expect(spy).toHaveBeenCalled();
    } finally {
      spy.mockRestore();
    }
  });
});
