/**
 * Which names of a user's object may be reached from a request: its own
 * members and those of its classes, never what every object or function
 * inherits from Object.prototype / Function.prototype (`constructor`,
 * `__proto__`, `toString`, `call`, ...).
 */

const BUILTIN_PROTOS: readonly object[] = [Object.prototype, Function.prototype];
const NEVER = new Set(['constructor', '__proto__', 'prototype']);
const FUNCTION_OWN = new Set(['length', 'name', 'prototype', 'caller', 'arguments']);

/** The property descriptor of `name` on `holder` or its user prototypes, if reachable. */
export function findMember(holder: object, name: string): PropertyDescriptor | undefined {
  if (NEVER.has(name)) return undefined;
  for (let o: object | null = holder; o && !BUILTIN_PROTOS.includes(o); o = Object.getPrototypeOf(o) as object | null) {
    const d = Object.getOwnPropertyDescriptor(o, name);
    if (d) return d;
  }
  return undefined;
}

export function hasMember(holder: object, name: string): boolean {
  return findMember(holder, name) !== undefined;
}

/** Names of the reachable members whose values are functions, sorted. */
export function methodNames(holder: object): string[] {
  const names = new Set<string>();
  for (let o: object | null = holder; o && !BUILTIN_PROTOS.includes(o); o = Object.getPrototypeOf(o) as object | null) {
    for (const name of Object.getOwnPropertyNames(o)) {
      if (NEVER.has(name) || (typeof o === 'function' && FUNCTION_OWN.has(name))) continue;
      const d = Object.getOwnPropertyDescriptor(o, name);
      if (d && 'value' in d && typeof d.value === 'function') names.add(name);
    }
  }
  return [...names].sort();
}

/** Names of all reachable data members (for "not found" messages), sorted. */
export function memberNames(holder: object): string[] {
  const names = new Set<string>();
  for (let o: object | null = holder; o && !BUILTIN_PROTOS.includes(o); o = Object.getPrototypeOf(o) as object | null) {
    for (const name of Object.getOwnPropertyNames(o)) {
      if (NEVER.has(name) || (typeof o === 'function' && FUNCTION_OWN.has(name))) continue;
      names.add(name);
    }
  }
  return [...names].sort();
}

/**
 * A module's named exports, kept beside its default export (the execution
 * object) when the context names no export, so a request may call either.
 */
const namedByTarget = new WeakMap<object, ReadonlyMap<string, unknown>>();

export function setNamedExports(target: object, named: ReadonlyMap<string, unknown>): void {
  namedByTarget.set(target, named);
}

export function namedExportsOf(target: object): ReadonlyMap<string, unknown> | undefined {
  return namedByTarget.get(target);
}
