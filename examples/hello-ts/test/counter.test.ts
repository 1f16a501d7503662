import assert from 'node:assert/strict';
import { test } from 'node:test';
import Counter, { greet, Mode } from '../src/index.js';

test('increment keeps a running total', () => {
  const c = new Counter(10);
  assert.equal(c.increment(), 11);
  assert.equal(c.increment(5), 16);
});

test('combine takes keyword arguments as a trailing options object', async () => {
  const c = new Counter();
  assert.equal(await c.combine([1, 2, 3]), 6);
  assert.equal(await c.combine([1, 2, 3], { mode: Mode.Product, times: 2 }), 12);
  assert.equal(c.total, 18);
});

test('greet is a named export', () => {
  assert.equal(greet('Flame', { excited: true }), 'Hello, Flame!');
});
