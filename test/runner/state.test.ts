import v8 from 'node:v8';
import { captureState, restoreState, sameState } from '../../src/runner/state';

class Counter {
  count = 0;
  seen = new Map<string, number>();
  handler = (): number => this.count;
  increment(): number {
    return ++this.count;
  }
}

describe('state', () => {
  it('round-trips own enumerable properties onto a fresh instance, skipping functions', () => {
    const a = new Counter();
    a.increment();
    a.increment();
    a.seen.set('x', 1);
    const state = captureState(a)!;
    const b = new Counter();
    const handler = b.handler;
    restoreState(b, state);
    expect(b.count).toBe(2);
    expect(b.seen).toEqual(new Map([['x', 1]]));
    expect(b.handler).toBe(handler);
    expect(b.increment()).toBe(3);
  });

  it('tells equal states apart from changed ones, whatever their byte layout', () => {
    const a = new Counter();
    a.seen.set('k', 1);
    const first = captureState(a)!;
    const b = new Counter();
    restoreState(b, first);
    expect(sameState(first, captureState(b))).toBe(true);
    b.count++;
    expect(sameState(first, captureState(b))).toBe(false);
    expect(sameState(undefined, first)).toBe(false);
  });

  it('names the property that cannot be serialized', () => {
    const o = { ok: 1, bad: { fn: () => 1 } };
    expect(() => captureState(o)).toThrow("cannot persist the state of execution object: property 'bad' cannot be serialized");
  });

  it('ignores functions and module namespaces, and refuses garbage state', () => {
    expect(captureState(() => 1)).toBeUndefined();
    expect(() => restoreState({}, Buffer.from('garbage'))).toThrow("the context's persisted state (7 bytes) cannot be read");
  });

  it('never lets a persisted key reach the prototype', () => {
    const target = {};
    const state = v8.serialize(JSON.parse('{"__proto__": {"polluted": true}}'));
    restoreState(target, state);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.getPrototypeOf(target)).toBe(Object.prototype);
  });
});
