/**
 * Writes JavaScript values as a protocol 4 pickle that Python's pickle.loads
 * reads as native values (docs/protocol.md §8). Hand-written for the same reason as the
 * reader: it is a small, fixed subset and no npm pickler targets it.
 *
 *   null/undefined → None, boolean → bool, number → int when a safe integer
 *   (except -0) else float (NaN/±Infinity included), bigint → int,
 *   string → str, Buffer/Uint8Array/Uint8ClampedArray/ArrayBuffer/DataView → bytes,
 *   other typed arrays → list of int (integer arrays) or float (float arrays),
 *   Array → list, plain object and Map → dict, Set → set,
 *   Date → datetime.datetime, UTC-aware (millisecond precision).
 * Anything else (functions, symbols, class instances) is refused naming its
 * type and where it is; so is an object with toJSON() (Luxon, Decimal.js...):
 * what it stands for is its author's choice, not a string the runner guesses. Shared references stay shared (memo); a value that
 * contains itself is refused, as is nesting deeper than maxDepth.
 * Unframed protocol 4: FRAME is an optional read-ahead hint in pickle.
 */
import { FlmError, invalidInput, limitExceeded } from '../../errors';
import { Op } from './opcodes';
import { ChunkedOutput } from './output';

export interface PickleWriteOptions {
  /** Name of the value in error messages (default "result"). */
  name?: string;
  /** Deepest nesting written (default 1000; Python itself cannot re-pickle much deeper). */
  maxDepth?: number;
  /** Bytes values at least this long are passed through as chunks of their own, uncopied (default 64 KiB). */
  attachBytesOver?: number;
  /** Bytes written first (the FLM type tag). */
  prefix?: Uint8Array;
}

const LONE_SURROGATE = /\p{Cs}/u;
const BATCH = 1000;
const STORABLE = 'null, boolean, number, bigint, string, Buffer/Uint8Array, Date, Array, plain object, Map, Set';

/** The pickle as chunks to be concatenated (large byte values are their own chunks). */
export function writePickle(value: unknown, options: PickleWriteOptions = {}): Uint8Array[] {
  const w = new Writer(options.maxDepth ?? 1000, options.attachBytesOver ?? 64 * 1024);
  if (options.prefix) w.out.bytes(options.prefix);
  w.out.byte(Op.PROTO);
  w.out.byte(4);
  w.value(value, options.name ?? 'result', 0);
  w.out.byte(Op.STOP);
  return w.out.finish();
}

class Writer {
  readonly out = new ChunkedOutput();
  private readonly memo = new Map<object, number>();
  private readonly active = new Set<object>();

  constructor(private readonly maxDepth: number, private readonly attachOver: number) {}

  value(v: unknown, path: string, depth: number): void {
    switch (typeof v) {
      case 'undefined': this.out.byte(Op.NONE); return;
      case 'boolean': this.out.byte(v ? Op.NEWTRUE : Op.NEWFALSE); return;
      case 'number':
        if (Number.isSafeInteger(v) && !Object.is(v, -0)) this.int(v);
        else this.float(v);
        return;
      case 'bigint': this.int(v); return;
      case 'string': this.str(v); return;
      case 'object': break;
      default: throw cannotStore(typeName(v), path);
    }
    if (v === null) { this.out.byte(Op.NONE); return; }
    if (v instanceof Date) { this.date(v, path); return; }
    const bytes = asBytes(v);
    if (!bytes && !isContainer(v)) {
      if (typeof (v as { toJSON?: unknown }).toJSON === 'function') {
        throw invalidInput(
          `cannot store value of type ${typeName(v)} at ${path}: it has toJSON(), which the runner does not call for you; ` +
            'store what it should become (its toJSON(), a string, a number) yourself',
        );
      }
      throw cannotStore(typeName(v), path);
    }
    if (this.active.has(v)) throw invalidInput(`cannot store ${path}: it contains itself (a cycle)`);
    const seen = this.memo.get(v);
    if (seen !== undefined) { this.get(seen); return; }
    if (depth >= this.maxDepth) throw limitExceeded(`cannot store ${path}: nested deeper than ${this.maxDepth} levels`);
    this.active.add(v);
    if (bytes) this.bytes(bytes, v);
    else this.container(v, path, depth + 1);
    this.active.delete(v);
  }

  private container(v: object, path: string, depth: number): void {
    if (Array.isArray(v)) {
      this.list(v, v.length, (i) => this.value(v[i], `${path}[${i}]`, depth));
    } else if (ArrayBuffer.isView(v)) {
      const arr = v as unknown as ArrayLike<number | bigint>;
      const floats = v instanceof Float32Array || v instanceof Float64Array;
      this.list(v, arr.length, (i) => (floats ? this.float(arr[i] as number) : this.value(arr[i], `${path}[${i}]`, depth)));
    } else if (v instanceof Map) {
      this.dict(v, [...v], path, depth, true);
    } else if (v instanceof Set) {
      this.out.byte(Op.EMPTY_SET);
      this.memoize(v);
      const items = [...v];
      for (let start = 0; start < items.length; start += BATCH) {
        this.out.byte(Op.MARK);
        for (const item of items.slice(start, start + BATCH)) {
          checkKey(item, `${path} (a Set member)`);
          this.value(item, `${path}<member>`, depth);
        }
        this.out.byte(Op.ADDITEMS);
      }
    } else {
      this.dict(v, Object.keys(v).map((k) => [k, (v as Record<string, unknown>)[k]]), path, depth, false);
    }
  }

  private list(v: object, n: number, item: (i: number) => void): void {
    this.out.byte(Op.EMPTY_LIST);
    this.memoize(v);
    for (let start = 0; start < n; start += BATCH) {
      this.out.byte(Op.MARK);
      for (let i = start; i < Math.min(n, start + BATCH); i++) item(i);
      this.out.byte(Op.APPENDS);
    }
  }

  private dict(v: object, entries: [unknown, unknown][], path: string, depth: number, isMap: boolean): void {
    this.out.byte(Op.EMPTY_DICT);
    this.memoize(v);
    for (let start = 0; start < entries.length; start += BATCH) {
      this.out.byte(Op.MARK);
      for (const [k, val] of entries.slice(start, start + BATCH)) {
        if (isMap) checkKey(k, `${path} (a Map key)`);
        this.value(k, `${path}<key>`, depth);
        this.value(val, childPath(path, k), depth);
      }
      this.out.byte(Op.SETITEMS);
    }
  }

  private int(v: number | bigint): void {
    if (typeof v === 'number' && v >= 0 && v < 0x100) { this.out.byte(Op.BININT1); this.out.byte(v); return; }
    if (typeof v === 'number' && v >= 0 && v < 0x10000) { this.out.byte(Op.BININT2); this.out.u16(v); return; }
    if (typeof v === 'number' && v >= -0x80000000 && v <= 0x7fffffff) { this.out.byte(Op.BININT); this.out.i32(v); return; }
    const bytes = encodeLong(BigInt(v));
    if (bytes.length < 0x100) { this.out.byte(Op.LONG1); this.out.byte(bytes.length); }
    else { this.out.byte(Op.LONG4); this.out.i32(bytes.length); }
    this.out.bytes(bytes);
  }

  private float(v: number): void { this.out.byte(Op.BINFLOAT); this.out.f64be(v); }

  private str(v: string): void {
    const wellFormed = !LONE_SURROGATE.test(v);
    // Python pickles lone surrogates with "surrogatepass"; Buffer's UTF-8 would replace them.
    const encoded = wellFormed ? undefined : encodeSurrogatePass(v);
    const n = encoded ? encoded.length : Buffer.byteLength(v, 'utf8');
    if (n < 0x100) { this.out.byte(Op.SHORT_BINUNICODE); this.out.byte(n); }
    else if (n <= 0xffffffff) { this.out.byte(Op.BINUNICODE); this.out.u32(n); }
    else { this.out.byte(Op.BINUNICODE8); this.out.u64(n); }
    if (encoded) this.out.bytes(encoded);
    else this.out.utf8(v, n);
  }

  private bytes(b: Uint8Array, v: object): void {
    const n = b.length;
    if (n < 0x100) { this.out.byte(Op.SHORT_BINBYTES); this.out.byte(n); }
    else if (n <= 0xffffffff) { this.out.byte(Op.BINBYTES); this.out.u32(n); }
    else { this.out.byte(Op.BINBYTES8); this.out.u64(n); }
    if (n >= this.attachOver) this.out.attach(b);
    else this.out.bytes(b);
    this.memoize(v);
  }

  /**
   * datetime.datetime(<10-byte state>, datetime.timezone(datetime.timedelta(0))):
   * the form Python's own pickle gives an aware UTC datetime, so pickle.loads
   * makes `datetime.timezone.utc` of it.
   */
  private date(d: Date, path: string): void {
    const seen = this.memo.get(d);
    if (seen !== undefined) { this.get(seen); return; }
    const ms = d.getTime();
    if (Number.isNaN(ms)) throw invalidInput(`cannot store ${path}: it is an invalid Date`);
    const year = d.getUTCFullYear();
    if (year < 1 || year > 9999) throw invalidInput(`cannot store ${path}: year ${year} is outside Python's datetime range 1..9999`);
    const us = d.getUTCMilliseconds() * 1000;
    const state = Uint8Array.of(
      year >> 8, year & 0xff, d.getUTCMonth() + 1, d.getUTCDate(), d.getUTCHours(), d.getUTCMinutes(), d.getUTCSeconds(),
      (us >> 16) & 0xff, (us >> 8) & 0xff, us & 0xff,
    );
    this.global('datetime', 'datetime');
    this.out.byte(Op.SHORT_BINBYTES); this.out.byte(state.length); this.out.bytes(state);
    this.global('datetime', 'timezone');
    this.global('datetime', 'timedelta');
    for (let i = 0; i < 3; i++) this.int(0);
    this.out.byte(Op.TUPLE3); this.out.byte(Op.REDUCE);
    this.out.byte(Op.TUPLE1); this.out.byte(Op.REDUCE);
    this.out.byte(Op.TUPLE2); this.out.byte(Op.REDUCE);
    this.memoize(d);
  }

  private global(module: string, name: string): void {
    this.str(module);
    this.str(name);
    this.out.byte(Op.STACK_GLOBAL);
  }

  /** Containers are memoized before their items, as Python does, so later references become GETs. */
  private memoize(v: object): void {
    this.out.byte(Op.MEMOIZE);
    this.memo.set(v, this.memo.size);
  }

  private get(index: number): void {
    if (index < 0x100) { this.out.byte(Op.BINGET); this.out.byte(index); }
    else { this.out.byte(Op.LONG_BINGET); this.out.u32(index); }
  }
}

/** Python's int encoding for LONG1/LONG4: little-endian two's complement. */
export function encodeLong(v: bigint): Buffer {
  if (v === 0n) return Buffer.alloc(0);
  let bits = 1; // sign bit
  for (let m = v < 0n ? -v - 1n : v; m > 0n; m >>= 1n) bits++;
  const n = Math.ceil(bits / 8);
  const unsigned = v < 0n ? (1n << BigInt(8 * n)) + v : v;
  return Buffer.from(unsigned.toString(16).padStart(2 * n, '0'), 'hex').reverse();
}

function encodeSurrogatePass(text: string): Buffer {
  const out: number[] = [];
  for (const ch of text) {
    const cp = ch.codePointAt(0)!;
    if (cp >= 0xd800 && cp <= 0xdfff) out.push(0xe0 | (cp >> 12), 0x80 | ((cp >> 6) & 0x3f), 0x80 | (cp & 0x3f));
    else for (const b of Buffer.from(ch, 'utf8')) out.push(b);
  }
  return Buffer.from(out);
}

function asBytes(v: object): Uint8Array | undefined {
  if (v instanceof Uint8Array || v instanceof Uint8ClampedArray) return v as Uint8Array;
  if (v instanceof ArrayBuffer) return new Uint8Array(v);
  if (v instanceof DataView) return new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
  return undefined;
}

function isContainer(v: object): boolean {
  if (Array.isArray(v) || v instanceof Map || v instanceof Set || ArrayBuffer.isView(v)) return true;
  const proto: unknown = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

/** Python dict keys and set members must be hashable: only primitives and bytes. */
function checkKey(k: unknown, where: string): void {
  if (k === null || typeof k !== 'object' || asBytes(k) !== undefined || k instanceof Date) {
    if (typeof k !== 'function' && typeof k !== 'symbol') return;
  }
  throw invalidInput(`cannot store ${where} of type ${typeName(k)}: Python dict keys and set members must be null, boolean, number, bigint, string, bytes or Date`);
}

function childPath(path: string, key: unknown): string {
  if (typeof key === 'string') return /^[A-Za-z_$][\w$]*$/.test(key) ? `${path}.${key}` : `${path}[${JSON.stringify(key)}]`;
  return `${path}[${typeof key === 'bigint' ? `${key}n` : String(key)}]`;
}

export function typeName(v: unknown): string {
  if (typeof v === 'function') return v.name ? `Function (${v.name})` : 'Function';
  if (typeof v === 'symbol') return 'Symbol';
  if (typeof v !== 'object' || v === null) return typeof v;
  if (Array.isArray(v)) return 'Array';
  return (v.constructor as { name?: string } | undefined)?.name || 'object';
}

function cannotStore(type: string, path: string): FlmError {
  return invalidInput(`cannot store value of type ${type} at ${path} (storable: ${STORABLE}, and Arrow tables)`);
}
