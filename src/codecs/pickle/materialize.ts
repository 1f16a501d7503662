/**
 * Turns the reader's intermediate objects into the JavaScript values it
 * promises, once per object (shared references stay shared), refusing
 * recursive structures and nesting deeper than the limit, so that no later
 * consumer (BSON, user code, our writer) meets a cycle or overflows its stack.
 */
import { invalidInput, limitExceeded } from '../../errors';
import { ObjectRefArg } from '../object-ref-arg';
import { PickledRunnerRequest, PyDict, PyGlobal, PyInstance, PyIntValue, PyList, PySet, PyTimedelta, PyTimezone, PyTuple, pyTypeName } from './python-objects';

export function materialize(root: unknown, maxDepth: number): unknown {
  const done = new Map<object, unknown>();
  const active = new Set<object>();

  const convert = (v: unknown, depth: number): unknown => {
    if (typeof v !== 'object' || v === null || Buffer.isBuffer(v)) return v;
    if (v instanceof PyGlobal) throw invalidInput(`pickle holds the Python class ${v.qualname} itself, not a value`);
    const seen = done.get(v);
    if (seen !== undefined) return seen;
    if (active.has(v)) throw invalidInput('pickle holds a recursive structure (a container inside itself), which is not supported');
    if (depth > maxDepth) throw limitExceeded(`pickle nests containers deeper than ${maxDepth} levels`);
    active.add(v);
    const out = build(v, (child) => convert(child, depth + 1));
    active.delete(v);
    done.set(v, out);
    return out;
  };
  return convert(root, 0);
}

function build(v: object, convert: (child: unknown) => unknown): unknown {
  if (v instanceof PyList || v instanceof PyTuple) return v.items.map(convert);
  if (v instanceof PySet) return new Set([...v.items].map(convert));
  if (v instanceof PyDict) {
    const entries = [...v.map].map(([k, val]) => [convert(k), convert(val)] as const);
    // Object.fromEntries defines own properties, so a "__proto__" key stays a plain key.
    return entries.every(([k]) => typeof k === 'string') ? Object.fromEntries(entries) : new Map(entries);
  }
  if (v instanceof PyIntValue) return v.value;
  if (v instanceof Date) return v;
  if (v instanceof PyTimedelta) return v.milliseconds;
  if (v instanceof PyTimezone) throw invalidInput('pickle holds a datetime.timezone by itself; only a datetime carrying one is supported');
  if (v instanceof PyInstance) return v.cls === 'RunnerRequest' ? runnerRequest(v, convert) : objectRef(v, convert);
  throw invalidInput(`pickle produced an unexpected ${pyTypeName(v)}`);
}

function runnerRequest(v: PyInstance, convert: (child: unknown) => unknown): PickledRunnerRequest {
  const req = new PickledRunnerRequest();
  req.method = convert(v.state.get('method') ?? null);
  req.args = convert(v.state.get('args') ?? null);
  req.kwargs = convert(v.state.get('kwargs') ?? null);
  return req;
}

function objectRef(v: PyInstance, convert: (child: unknown) => unknown): ObjectRefArg {
  const endpoint = convert(v.state.get('endpoint'));
  const key = convert(v.state.get('key'));
  const version = convert(v.state.get('version') ?? 0);
  if (typeof endpoint !== 'string') throw invalidInput(`pickled ObjectRef has no str endpoint (got ${describe(endpoint)})`);
  if (typeof key !== 'string') throw invalidInput(`pickled ObjectRef has no str key (got ${describe(key)})`);
  if (typeof version !== 'number' || !Number.isSafeInteger(version) || version < 0) {
    throw invalidInput(`pickled ObjectRef ${key} has an invalid version ${describe(version)}`);
  }
  return new ObjectRefArg({ endpoint, key, version });
}

function describe(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'None';
  return typeof v === 'object' ? (v.constructor?.name ?? 'object') : `${typeof v} ${String(v).slice(0, 40)}`;
}
