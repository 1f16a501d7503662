/**
 * Turns a runner request's method into a call on the execution object
 * (docs/protocol.md §2 OnTaskInvoke step 3, §4) and reports what went wrong in words
 * a user can act on.
 */
import { invalidInput } from '../errors';
import type { TargetKind } from './loader';
import { findMember, methodNames, namedExportsOf } from './members';

export interface BoundCall {
  /** For messages: `add`, `Counter.increment`. */
  name: string;
  call(args: unknown[]): unknown;
}

/**
 * The call a request names. `method` null calls a function execution object
 * itself; for a function, its own name is accepted as the method too (a
 * Python client naming the function it wants).
 */
export function bindMethod(target: unknown, kind: TargetKind, method: string | null, label: string): BoundCall {
  if (method === null) {
    if (kind === 'function') {
      const fn = target as (...a: unknown[]) => unknown;
      return { name: fn.name || label, call: (args) => fn(...args) };
    }
    throw invalidInput(
      `the request names no method, but ${label} is ${kind === 'class' ? 'a class instance' : 'an object'}, not a function; ` +
        `name one of its methods: ${listOrNone(target)}`,
    );
  }
  if (typeof method !== 'string' || method === '') throw invalidInput('the request method must be a non-empty string or null');
  if (kind === 'function' && method === (target as { name?: unknown }).name) {
    const fn = target as (...a: unknown[]) => unknown;
    return { name: method, call: (args) => fn(...args) };
  }
  const holder = target as object;
  const member = findMember(holder, method);
  const named = namedExportsOf(holder);
  if (named?.has(method)) {
    const exported = named.get(method);
    if (member && (!('value' in member) || member.value !== exported)) {
      throw invalidInput(
        `ambiguous method '${method}': it is both a named export of the module and a member of its ${label}; ` +
          `name the one you mean with the session context's export ('${method}', or 'default')`,
      );
    }
    if (typeof exported !== 'function') {
      throw invalidInput(`named export '${method}' of ${label.replace(/ default export$/, '')} is ${describe(exported)}, not a function`);
    }
    const fn = exported as (...a: unknown[]) => unknown;
    return { name: method, call: (args) => fn(...args) };
  }
  if (!member) {
    throw invalidInput(`unknown method '${method}': ${label} has methods: ${listOrNone(target, kind)}`);
  }
  // Read through the object so getters and prototype methods bind as in a normal call.
  const value: unknown = (holder as Record<string, unknown>)[method];
  if (typeof value !== 'function') {
    throw invalidInput(`'${method}' of ${label} is ${describe(value)}, not a method; methods: ${listOrNone(target, kind)}`);
  }
  const owner = kind === 'class' ? ((target as object).constructor?.name ?? 'instance') : '';
  return {
    name: owner ? `${owner}.${method}` : method,
    call: (args) => (value as (...a: unknown[]) => unknown).apply(holder, args),
  };
}

/** Positional arguments plus, when kwargs is non-empty, one trailing options object (docs/protocol.md §4). */
export function callArguments(args: readonly unknown[] | null, kwargs: Record<string, unknown> | null): unknown[] {
  const out = args ? [...args] : [];
  if (kwargs && Object.keys(kwargs).length > 0) out.push({ ...kwargs });
  return out;
}

function listOrNone(target: unknown, kind?: TargetKind): string {
  const holder = typeof target === 'object' || typeof target === 'function' ? (target as object) : undefined;
  const names = holder ? methodNames(holder) : [];
  if (kind === 'function') names.unshift(`${(target as { name?: string }).name || '(anonymous)'} (or null: the function itself)`);
  const named = holder ? namedExportsOf(holder) : undefined;
  if (named) {
    for (const [name, value] of named) if (typeof value === 'function') names.push(`${name} (named export)`);
  }
  return names.length ? names.join(', ') : '(none)';
}

function describe(value: unknown): string {
  return value === null ? 'null' : Array.isArray(value) ? 'an array' : `a ${typeof value}`;
}
