import { bindMethod, callArguments } from '../../src/runner/invoke';
import { FlmError, ReturnCode } from '../../src/errors';

class Calc {
  base = 1;
  limit = 3;
  add(a: number, b: number): number {
    return this.base + a + b;
  }
  toString(): string {
    return 'calc';
  }
}

function codeOf(fn: () => unknown): number {
  try {
    fn();
  } catch (err) {
    return (err as FlmError).returnCode;
  }
  throw new Error('expected a throw');
}

describe('bindMethod', () => {
  it('calls a function itself when method is null, and by its own name', () => {
    function sum(a: number, b: number): number {
      return a + b;
    }
    expect(bindMethod(sum, 'function', null, 'index.js').call([2, 3])).toBe(5);
    expect(bindMethod(sum, 'function', 'sum', 'index.js').call([2, 3])).toBe(5);
  });

  it('binds class methods to the instance', () => {
    const bound = bindMethod(new Calc(), 'class', 'add', 'calc.js');
    expect(bound.call([1, 2])).toBe(4);
    expect(bound.name).toBe('Calc.add');
  });

  it('answers an unknown method with the methods that exist', () => {
    expect(() => bindMethod(new Calc(), 'class', 'mul', 'calc.js')).toThrow(
      "unknown method 'mul': calc.js has methods: add, toString",
    );
    expect(codeOf(() => bindMethod(new Calc(), 'class', 'mul', 'calc.js'))).toBe(ReturnCode.InvalidInput);
  });

  it('refuses a non-function attribute and built-ins every object inherits', () => {
    expect(() => bindMethod(new Calc(), 'class', 'limit', 'calc.js')).toThrow("'limit' of calc.js is a number, not a method");
    for (const m of ['constructor', '__proto__', 'hasOwnProperty', 'valueOf']) {
      expect(() => bindMethod(new Calc(), 'class', m, 'calc.js')).toThrow(`unknown method '${m}'`);
    }
    expect(() => bindMethod({ f: () => 1 }, 'object', 'call', 'x.js')).toThrow("unknown method 'call'");
  });

  it('requires a method for objects and lists them', () => {
    expect(() => bindMethod({ a: () => 1, b: 2 }, 'object', null, 'mod.js')).toThrow(
      'the request names no method, but mod.js is an object, not a function; name one of its methods: a',
    );
  });

  it('uses a user-defined toString (not the built-in one)', () => {
    expect(bindMethod(new Calc(), 'class', 'toString', 'calc.js').call([])).toBe('calc');
  });
});

describe('callArguments', () => {
  it('appends non-empty kwargs as one trailing options object', () => {
    expect(callArguments([1, 2], { scale: 3 })).toEqual([1, 2, { scale: 3 }]);
    expect(callArguments([1], {})).toEqual([1]);
    expect(callArguments(null, null)).toEqual([]);
    expect(callArguments(null, { a: 1 })).toEqual([{ a: 1 }]);
  });
});
