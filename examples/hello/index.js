'use strict';
// An example package for flmrun-js. With no context, the execution object is
// this module's exports: each exported function is a method a task can call.

/** A plain function: add(5, 3) -> 8. */
function add(a, b) {
  return a + b;
}

/** An async method with an options object (Python kwargs arrive as the last argument). */
async function greet(name, options = {}) {
  await new Promise((resolve) => setTimeout(resolve, 5));
  const punctuation = options.excited ? '!' : '.';
  return `Hello, ${name}${punctuation}`;
}

/** Returns bytes: a Buffer is stored as Python `bytes`. */
function bytes(n) {
  return Buffer.alloc(n, 0x61);
}

/** Complex values: nested containers, bigints, Maps and Sets. */
function stats(values) {
  const sum = values.reduce((a, b) => a + b, 0);
  return { count: values.length, sum, big: 2n ** 70n, seen: new Set(values), by: new Map([['max', Math.max(...values)]]) };
}

/** A class: instantiated once per session (context `export: "Counter"`), stateful when the context says so. */
class Counter {
  constructor(start = 0) {
    this.count = start;
  }
  increment(by = 1) {
    this.count += by;
    return this.count;
  }
  value() {
    return this.count;
  }
}

module.exports = { add, greet, bytes, stats, Counter };
