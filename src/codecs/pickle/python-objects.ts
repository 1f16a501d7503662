/**
 * The Python objects a pickle may name, and the reader's intermediate forms.
 *
 * Only data is decoded: the globals below are recognised by name and their
 * effect is reproduced here (never looked up or called). Everything else is
 * refused by the reader with a message naming it (docs/protocol.md §8).
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
  | 'int64' // pymongo's bson.int64.Int64, an int subclass: what an ObjectRef's version is after a BSON round trip
  | 'datetime' | 'date' | 'timedelta' | 'timezone'; // datetime's data types (timezone: only as a datetime's fixed offset)

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
  ['datetime.datetime', 'datetime'],
  ['datetime.date', 'date'],
  ['datetime.timedelta', 'timedelta'],
  ['datetime.timezone', 'timezone'],
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

/** A datetime.timedelta; reaches JavaScript as a number of milliseconds. */
export class PyTimedelta {
  constructor(readonly days: number, readonly seconds: number, readonly microseconds: number) {}
  get milliseconds(): number {
    return (this.days * 86400 + this.seconds) * 1000 + this.microseconds / 1000;
  }
}

/** A datetime.timezone: a fixed offset from UTC, only meaningful inside a datetime. */
export class PyTimezone {
  constructor(readonly offsetMs: number) {}
}

/**
 * What calling datetime.datetime/date/timedelta/timezone with these
 * arguments makes, in the forms their pickles use (`__reduce__`: a packed
 * byte state plus an optional tzinfo, or the fields as ints); undefined when
 * the arguments are not such a form. A datetime without tzinfo (naive) is
 * read as UTC; a date is midnight UTC of that day.
 */
export function makeDateTimeValue(kind: 'datetime' | 'date' | 'timedelta' | 'timezone', a: readonly unknown[]): unknown {
  const ints = (xs: readonly unknown[]): number[] | undefined =>
    xs.every((x) => typeof x === 'number' && Number.isInteger(x)) ? (xs as number[]) : undefined;
  switch (kind) {
    case 'timedelta': {
      const f = ints(a);
      if (!f || a.length > 3) return undefined;
      return new PyTimedelta(f[0] ?? 0, f[1] ?? 0, f[2] ?? 0);
    }
    case 'timezone':
      if ((a.length === 1 || (a.length === 2 && typeof a[1] === 'string')) && a[0] instanceof PyTimedelta) return new PyTimezone(a[0].milliseconds);
      return undefined;
    case 'date': {
      const f = Buffer.isBuffer(a[0]) && a.length === 1 && a[0].length === 4 ? [(a[0][0]! << 8) | a[0][1]!, a[0][2]!, a[0][3]!] : ints(a);
      if (!f || f.length !== 3) return undefined;
      return utcDate(f[0]!, f[1]!, f[2]!, 0, 0, 0, 0, 0);
    }
    case 'datetime': {
      const b = a[0];
      let f: number[] | undefined;
      let tz: unknown;
      if (Buffer.isBuffer(b) && b.length === 10 && a.length <= 2) {
        // Protocol 4+ sets the top bit of the month byte for fold=1; the instant is the same.
        f = [(b[0]! << 8) | b[1]!, b[2]! & 0x7f, b[3]!, b[4]!, b[5]!, b[6]!, (b[7]! << 16) | (b[8]! << 8) | b[9]!];
        tz = a[1] ?? null;
      } else {
        const n = a.length > 0 && !(a[a.length - 1] === null || a[a.length - 1] instanceof PyTimezone) ? a.length : a.length - 1;
        f = ints(a.slice(0, n));
        tz = n < a.length ? a[n] : null;
        if (f && (f.length < 3 || f.length > 7)) f = undefined;
      }
      if (!f || !(tz === null || tz instanceof PyTimezone)) return undefined;
      const offset = tz instanceof PyTimezone ? tz.offsetMs : 0;
      return utcDate(f[0]!, f[1]!, f[2]!, f[3] ?? 0, f[4] ?? 0, f[5] ?? 0, f[6] ?? 0, offset);
    }
  }
}

function utcDate(y: number, mo: number, d: number, h: number, mi: number, s: number, us: number, offsetMs: number): Date | undefined {
  if (y < 1 || y > 9999 || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 59 || us > 999999) return undefined;
  const date = new Date(0);
  date.setUTCFullYear(y, mo - 1, d);
  date.setUTCHours(h, mi, s, Math.floor(us / 1000));
  return new Date(date.getTime() - offsetMs);
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
  if (v instanceof Date) return 'datetime';
  if (v instanceof PyTimedelta) return 'timedelta';
  if (v instanceof PyTimezone) return 'timezone';
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
