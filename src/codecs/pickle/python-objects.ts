/**
 * The Python objects a pickle may name, and the reader's intermediate forms.
 *
 * Only data is decoded: the globals below are recognised by name and their
 * effect is reproduced here (never looked up or called). Everything else is
 * refused by the reader with a message naming it (SPEC 8).
 */
import { invalidInput } from '../../errors';

/** A pickled `flamepy.runner.types.RunnerRequest`; fields as pickled, checked by the request codec. */
export class PickledRunnerRequest {
  method: unknown = null;
  args: unknown = null;
  kwargs: unknown = null;
}

export const PYTHON_EXECUTION_OBJECT_MESSAGE =
  'the data is a pickled Python flamepy.runner.types.RunnerContext: its execution object is Python code, ' +
  'which flmrun-js cannot run. The execution object must be a JavaScript module reference: give the session ' +
  'common data as a context {module, export, init_args} (e.g. {"module": "./lib/math.js", "export": "add"}), ' +
  'either as a BSON document or as a Python dict stored with put_object and passed by its ObjectRef';

/** What a recognised global stands for. */
export type GlobalKind =
  | 'RunnerRequest' | 'ObjectRef' // dataclasses instantiated by NEWOBJ / copyreg helpers
  | 'object' | 'reconstructor' | 'newobj' | 'newobj_ex' // copyreg helpers used by protocol 2 object pickles
  | 'bytes' | 'bytearray' | 'set' | 'frozenset' | 'codecs.encode' // how protocols 2-3 spell bytes and sets
  | 'int64'; // pymongo's bson.int64.Int64, an int subclass: what an ObjectRef's version is after a BSON round trip

// Python 2 spellings that protocol 0-2 pickles use (`fix_imports`).
const MODULE_ALIASES: Record<string, string> = { __builtin__: 'builtins', copy_reg: 'copyreg' };

const GLOBALS = new Map<string, GlobalKind>([
  ['flamepy.runner.types.RunnerRequest', 'RunnerRequest'],
  ['flamepy.core.cache.ObjectRef', 'ObjectRef'],
  ['builtins.object', 'object'],
  ['copyreg._reconstructor', 'reconstructor'],
  ['copyreg.__newobj__', 'newobj'],
  ['copyreg.__newobj_ex__', 'newobj_ex'],
  ['builtins.bytes', 'bytes'],
  ['builtins.bytearray', 'bytearray'],
  ['builtins.set', 'set'],
  ['builtins.frozenset', 'frozenset'],
  ['_codecs.encode', 'codecs.encode'],
  ['bson.int64.Int64', 'int64'],
]);

export class PyGlobal {
  constructor(readonly qualname: string, readonly kind: GlobalKind) {}
}

export function resolveGlobal(module: string, name: string): PyGlobal {
  const qualname = `${MODULE_ALIASES[module] ?? module}.${name}`;
  if (qualname === 'flamepy.runner.types.RunnerContext') throw invalidInput(PYTHON_EXECUTION_OBJECT_MESSAGE);
  const kind = GLOBALS.get(qualname);
  if (!kind) throw invalidInput(`pickle global ${printable(`${module}.${name}`)} is not allowed`);
  return new PyGlobal(qualname, kind);
}

/** Intermediate containers: kept apart from JS values so that list/tuple/dict rules can be enforced. */
export class PyList { constructor(readonly items: unknown[] = []) {} }
export class PyTuple { constructor(readonly items: unknown[]) {} }
export class PyDict { readonly map = new Map<unknown, unknown>(); }
export class PySet { constructor(readonly frozen: boolean, readonly items = new Set<unknown>()) {} }
/** An instance of RunnerRequest or ObjectRef whose state arrives with BUILD. */
export class PyInstance {
  readonly state = new Map<string, unknown>();
  constructor(readonly cls: 'RunnerRequest' | 'ObjectRef') {}
}

/** An int subclass instance (bson.int64.Int64): its value, waiting for its (empty) BUILD state. */
export class PyIntValue {
  constructor(readonly value: number | bigint) {}
}

/** Python type name of an intermediate value, for messages. */
export function pyTypeName(v: unknown): string {
  if (v === null) return 'None';
  if (typeof v === 'boolean') return 'bool';
  if (typeof v === 'number') return Number.isInteger(v) ? 'int' : 'float';
  if (typeof v === 'bigint') return 'int';
  if (typeof v === 'string') return 'str';
  if (Buffer.isBuffer(v)) return 'bytes';
  if (v instanceof PyList) return 'list';
  if (v instanceof PyTuple) return 'tuple';
  if (v instanceof PyDict) return 'dict';
  if (v instanceof PySet) return v.frozen ? 'frozenset' : 'set';
  if (v instanceof PyInstance) return v.cls;
  if (v instanceof PyIntValue) return 'int';
  if (v instanceof PyGlobal) return `class ${v.qualname}`;
  return typeof v;
}

/** Python refuses unhashable dict keys and set members; so do we. */
export function checkHashable(v: unknown, what: string): void {
  if (v instanceof PyList || v instanceof PyDict || (v instanceof PySet && !v.frozen) || v instanceof PyInstance) {
    throw invalidInput(`pickle has an unhashable ${pyTypeName(v)} as ${what}`);
  }
}

/** Names from the input go into messages: keep them short and printable. */
export function printable(text: string): string {
  const clean = text.replace(/[^\x20-\x7e]/g, '?');
  return clean.length > 120 ? `${clean.slice(0, 120)}...` : clean;
}
