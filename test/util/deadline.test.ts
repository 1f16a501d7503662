/** The grace-then-force helper behind every close with a grace period. */
import { gracefully, settlesWithin } from '../../src/util/deadline';
import { isPlainObject } from '../../src/util/plain-object';

it('settlesWithin: true when the promise settles (resolve or reject), false when time runs out', async () => {
  expect(await settlesWithin(Promise.resolve(1), 60_000)).toBe(true);
  expect(await settlesWithin(Promise.reject(new Error('x')), 60_000)).toBe(true);
  expect(await settlesWithin(new Promise(() => undefined), 1)).toBe(false);
});

it('gracefully: does not force what ends in time', async () => {
  const force = jest.fn();
  expect(await gracefully(Promise.resolve(), 60_000, force)).toBe(false);
  expect(force).not.toHaveBeenCalled();
});

it('gracefully: forces what does not end in time, then waits for it to end', async () => {
  let end!: () => void;
  const ended = new Promise<void>((r) => (end = r));
  let forced = false;
  const wasForced = await gracefully(ended, 1, () => {
    forced = true;
    end();
  });
  expect([wasForced, forced]).toEqual([true, true]);
});

it('isPlainObject: {} and null-prototype objects only', () => {
  expect([{}, Object.create(null)].map(isPlainObject)).toEqual([true, true]);
  expect([[], Buffer.alloc(1), new Map(), new (class A {})(), null, 'x'].map(isPlainObject)).toEqual([false, false, false, false, false, false]);
});
