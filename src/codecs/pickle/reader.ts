/**
 * A safe pickle reader: decodes the data opcodes of protocols 2-5 (and the
 * protocol 0/1 text forms of the same data) into JavaScript values.
 *
 * Hand-written on purpose: the npm pickle readers either execute/instantiate
 * arbitrary globals through user-supplied hooks or do not cover protocols 4-5
 * (FRAME, MEMOIZE, STACK_GLOBAL, BYTEARRAY8), and none bounds depth, memo and
 * size. This reader never looks anything up or calls anything: the few
 * globals it knows (python-objects.ts) are reproduced as data; every other
 * global and every other opcode is refused with a message naming it.
 *
 * Results: None → null, bool, int → number when a safe integer else bigint,
 * float → number, str → string, bytes/bytearray → Buffer (a view into the
 * input, not a copy), tuple/list → Array, dict → plain object when every key
 * is a str else Map, set/frozenset → Set, RunnerRequest → PickledRunnerRequest,
 * ObjectRef → ObjectRefArg.
 */
import { constants as bufferConstants } from 'node:buffer';
import { getHeapStatistics } from 'node:v8';
import { describeThrown, invalidInput, isFlmError, limitExceeded } from '../../errors';
import { Op, opcodeName } from './opcodes';
import {
  checkHashable, makeDateTimeValue, printable, PyDict, PyGlobal, PyInstance, PyIntValue, PyList, PySet, PyTuple, pyTypeName, resolveGlobal,
} from './python-objects';
import { decodeUtf8 } from './utf8';
import { materialize } from './materialize';

export interface PickleReadOptions {
  /** Deepest nesting of containers accepted (default 1000, Python's own recursion limit). */
  maxDepth?: number;
  /** Most memo entries accepted (default 16 Mi). */
  maxMemo?: number;
  /** Longest pickle accepted, in bytes (default 4 GiB). */
  maxBytes?: number;
  /**
   * Heap the decoding may use, in bytes, as estimated per opcode (default:
   * half of what the heap of the calling thread has left, read when the
   * decoding starts). A few bytes of pickle can ask for far more heap than
   * they take (one MEMOIZE byte is a memo entry, and the memo's table doubles
   * while the old one is still alive); running out of heap in a worker thread
   * can take the whole process down, so such inputs are refused instead.
   */
  maxHeapBytes?: number;
}

const DEFAULTS: Required<Omit<PickleReadOptions, 'maxHeapBytes'>> = { maxDepth: 1000, maxMemo: 1 << 24, maxBytes: 2 ** 32 };
type ReadOptions = Required<PickleReadOptions>;

/*
 * Estimated heap per opcode, in bytes, measured on Node 20 (x64) and rounded
 * up: the stack slot and a small object, and its copy made by materialize().
 * Dicts and sets are Maps (about 200 bytes empty). A memo entry is about 28
 * bytes in its Map, but the Map grows by allocating a table twice as large
 * while the old one lives: 3 × 28 at the moment of growth.
 */
const OP_COST = 64;
const MAP_COST = 256;
const MEMO_ENTRY_COST = 96;
/** Share of the thread's remaining heap one decoding may take. */
const HEAP_SHARE = 0.5;

/** The default `maxHeapBytes`: a share of what this thread's heap has left now. */
export function availableHeapBudget(): number {
  const h = getHeapStatistics();
  return Math.max(0, Math.floor((h.heap_size_limit - h.used_heap_size) * HEAP_SHARE));
}
/** The most any one input byte is charged: an opcode's OP_COST plus a Map (strings are charged 2 per byte). */
const MAX_COST_PER_BYTE = OP_COST + MAP_COST;
/** A pickle whose worst-case charge is below this is not worth a look at the heap (a native call, on every task's input). */
const SMALL_CHARGE = 1 << 20;

/**
 * The default budget. A small pickle cannot be charged more than
 * MAX_COST_PER_BYTE per byte, at most SMALL_CHARGE: its decoding is allowed
 * that without reading the heap's statistics, which only a heap already
 * within a few MiB of its limit (about to fail anyway) would have refused.
 */
function defaultHeapBudget(inputBytes: number): number {
  const worst = inputBytes * MAX_COST_PER_BYTE;
  return worst <= SMALL_CHARGE ? worst : availableHeapBudget();
}
// Python refuses int text longer than this (sys.int_info.default_max_str_digits); binary longs get the same spirit.
const MAX_INT_DIGITS = 4300;
const MAX_LONG_BYTES = 1 << 16;
const HIGHEST_PROTOCOL = 5;
const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

export function readPickle(input: Uint8Array, options?: PickleReadOptions): unknown {
  const opts: ReadOptions =
    options === undefined
      ? { ...DEFAULTS, maxHeapBytes: defaultHeapBudget(input.length) }
      : { ...DEFAULTS, maxHeapBytes: options.maxHeapBytes ?? defaultHeapBudget(input.length), ...stripUndefined(options) };
  if (input.length > opts.maxBytes) throw limitExceeded(`pickle is ${input.length} bytes, more than the limit of ${opts.maxBytes}`);
  const reader = new Unpickler(Buffer.from(input.buffer, input.byteOffset, input.length), opts);
  let root: unknown;
  try {
    root = reader.run();
  } catch (err) {
    if (isFlmError(err)) throw err;
    // Anything else (a string too long for V8, say) is still the input's fault.
    throw invalidInput(`malformed pickle at byte ${reader.opAt}: ${describeThrown(err)}`, err);
  }
  return materialize(root, opts.maxDepth);
}

function stripUndefined(o: PickleReadOptions): PickleReadOptions {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));
}

/** Normalises an integer: number when safe, else bigint. */
export function pyInt(v: bigint): number | bigint {
  return v >= -MAX_SAFE && v <= MAX_SAFE ? Number(v) : v;
}

class Unpickler {
  private pos = 0;
  opAt = 0;
  private op = 0;
  private stack: unknown[] = [];
  private readonly metastack: unknown[][] = [];
  private readonly memo = new Map<number, unknown>();
  /** Estimated heap bytes the decoding may still take. */
  private heapLeft: number;

  constructor(private readonly buf: Buffer, private readonly opts: ReadOptions) {
    this.heapLeft = opts.maxHeapBytes;
  }

  run(): unknown {
    for (;;) {
      if (this.pos >= this.buf.length) throw invalidInput(`pickle ends at byte ${this.pos} without STOP (truncated?)`);
      this.opAt = this.pos;
      this.op = this.buf[this.pos++]!;
      if (this.op === Op.STOP) return this.pop();
      this.charge(OP_COST);
      this.step(this.op);
    }
  }

  private charge(bytes: number): void {
    this.heapLeft -= bytes;
    if (this.heapLeft < 0) {
      throw limitExceeded(
        `pickle needs more memory to decode than this worker can spare (${Math.round(this.opts.maxHeapBytes / 2 ** 20)} MiB, ` +
          `half of its free heap; stopped at byte ${this.opAt} of ${this.buf.length})`,
      );
    }
  }

  private step(op: number): void {
    switch (op) {
      case Op.PROTO: {
        const proto = this.u8();
        if (proto > HIGHEST_PROTOCOL) throw this.fail(`unsupported pickle protocol ${proto}`);
        return;
      }
      case Op.FRAME: this.len(8); return; // a framing hint only; checked to be in bounds
      case Op.MARK:
        if (this.metastack.length >= this.opts.maxDepth) throw limitExceeded(`pickle nests MARKs deeper than ${this.opts.maxDepth}`);
        this.metastack.push(this.stack);
        this.stack = [];
        return;
      case Op.POP: if (this.stack.length > 0) this.stack.pop(); else this.popMark(); return;
      case Op.POP_MARK: this.popMark(); return;
      case Op.DUP: this.push(this.top()); return;
      case Op.NONE: this.push(null); return;
      case Op.NEWTRUE: this.push(true); return;
      case Op.NEWFALSE: this.push(false); return;
      case Op.BININT: this.push(this.buf.readInt32LE(this.take(4))); return;
      case Op.BININT1: this.push(this.u8()); return;
      case Op.BININT2: this.push(this.buf.readUInt16LE(this.take(2))); return;
      case Op.INT: {
        const line = this.line();
        if (line === '00') this.push(false);
        else if (line === '01') this.push(true);
        else this.push(this.parseInt(line));
        return;
      }
      case Op.LONG: this.push(this.parseInt(this.line().replace(/L$/, ''))); return;
      case Op.LONG1: this.push(this.long(this.u8())); return;
      case Op.LONG4: {
        const n = this.buf.readInt32LE(this.take(4));
        if (n < 0) throw this.fail('negative LONG4 length');
        if (n > MAX_LONG_BYTES) throw limitExceeded(`pickle int of ${n} bytes exceeds the limit of ${MAX_LONG_BYTES}`);
        this.push(this.long(n));
        return;
      }
      case Op.BINFLOAT: this.push(this.buf.readDoubleBE(this.take(8))); return;
      case Op.FLOAT: this.push(this.parseFloat(this.line())); return;
      case Op.SHORT_BINUNICODE: this.push(this.text(this.u8())); return;
      case Op.BINUNICODE: this.push(this.text(this.len(4))); return;
      case Op.BINUNICODE8: this.push(this.text(this.len(8))); return;
      case Op.UNICODE: this.push(rawUnicodeEscape(this.lineBytes())); return;
      case Op.SHORT_BINBYTES: this.push(this.bytes(this.u8())); return;
      case Op.BINBYTES: this.push(this.bytes(this.len(4))); return;
      case Op.BINBYTES8: case Op.BYTEARRAY8: this.push(this.bytes(this.len(8))); return;
      case Op.SHORT_BINSTRING: this.push(py2String(this.bytes(this.u8()))); return;
      case Op.BINSTRING: {
        const n = this.buf.readInt32LE(this.take(4));
        if (n < 0) throw this.fail('negative BINSTRING length');
        this.push(py2String(this.bytes(n)));
        return;
      }
      case Op.EMPTY_TUPLE: this.push(new PyTuple([])); return;
      case Op.TUPLE1: case Op.TUPLE2: case Op.TUPLE3: {
        const n = op - Op.TUPLE1 + 1;
        if (this.stack.length < n) throw this.fail('stack underflow');
        this.push(new PyTuple(this.stack.splice(this.stack.length - n, n)));
        return;
      }
      case Op.TUPLE: this.push(new PyTuple(this.popMark())); return;
      case Op.EMPTY_LIST: this.push(new PyList()); return;
      case Op.LIST: this.push(new PyList(this.popMark())); return;
      case Op.APPEND: { const v = this.pop(); this.listOnTop().items.push(v); return; }
      case Op.APPENDS: { const items = this.popMark(); const list = this.listOnTop(); for (const v of items) list.items.push(v); return; }
      case Op.EMPTY_DICT: this.charge(MAP_COST); this.push(new PyDict()); return;
      case Op.DICT: { this.charge(MAP_COST); const d = new PyDict(); this.setItems(d, this.popMark()); this.push(d); return; }
      case Op.SETITEM: { const v = this.pop(); const k = this.pop(); this.setItems(this.dictOnTop(), [k, v]); return; }
      case Op.SETITEMS: { const items = this.popMark(); this.setItems(this.dictOnTop(), items); return; }
      case Op.EMPTY_SET: this.charge(MAP_COST); this.push(new PySet(false)); return;
      case Op.ADDITEMS: {
        const items = this.popMark();
        const set = this.top();
        if (!(set instanceof PySet) || set.frozen) throw this.fail(`ADDITEMS on a ${pyTypeName(set)}`);
        addAll(set, items);
        return;
      }
      case Op.FROZENSET: { this.charge(MAP_COST); const set = new PySet(true); addAll(set, this.popMark()); this.push(set); return; }
      case Op.PUT: this.put(this.parseIndex(this.line())); return;
      case Op.BINPUT: this.put(this.u8()); return;
      case Op.LONG_BINPUT: this.put(this.buf.readUInt32LE(this.take(4))); return;
      case Op.MEMOIZE: this.put(this.memo.size); return;
      case Op.GET: this.get(this.parseIndex(this.line())); return;
      case Op.BINGET: this.get(this.u8()); return;
      case Op.LONG_BINGET: this.get(this.buf.readUInt32LE(this.take(4))); return;
      case Op.GLOBAL: {
        const module = decodeUtf8(this.lineBytes(), 'GLOBAL module');
        this.push(resolveGlobal(module, decodeUtf8(this.lineBytes(), 'GLOBAL name')));
        return;
      }
      case Op.STACK_GLOBAL: {
        const name = this.pop();
        const module = this.pop();
        if (typeof module !== 'string' || typeof name !== 'string') throw this.fail('STACK_GLOBAL needs two str');
        this.push(resolveGlobal(module, name));
        return;
      }
      case Op.NEWOBJ: { const args = this.pop(); this.push(this.instantiate(this.pop(), args)); return; }
      case Op.NEWOBJ_EX: { this.pop(); const args = this.pop(); this.push(this.instantiate(this.pop(), args)); return; }
      case Op.REDUCE: { const args = this.pop(); this.push(this.reduce(this.pop(), args)); return; }
      case Op.BUILD: { const state = this.pop(); this.build(this.top(), state); return; }
      default:
        throw invalidInput(`pickle opcode ${opcodeName(op)} at byte ${this.opAt} is not allowed`);
    }
  }

  // ---- bytes in ----

  private fail(message: string): Error {
    return invalidInput(`invalid pickle: ${message} in ${opcodeName(this.op)} at byte ${this.opAt}`);
  }

  /** Advances over n bytes and answers where they start. */
  private take(n: number): number {
    if (n > this.buf.length - this.pos) {
      throw invalidInput(`pickle is truncated: ${opcodeName(this.op)} at byte ${this.opAt} needs ${n} more bytes`);
    }
    const at = this.pos;
    this.pos += n;
    return at;
  }

  private u8(): number { return this.buf[this.take(1)]!; }

  /** A length field of 4 or 8 bytes, checked against what is left. */
  private len(width: 4 | 8): number {
    const at = this.take(width);
    const n = width === 4 ? this.buf.readUInt32LE(at) : this.buf.readBigUInt64LE(at);
    if (n > this.buf.length - this.pos) {
      throw invalidInput(`pickle is truncated: ${opcodeName(this.op)} at byte ${this.opAt} declares ${n} bytes, ${this.buf.length - this.pos} are left`);
    }
    return Number(n);
  }

  private bytes(n: number): Buffer { const at = this.take(n); return this.buf.subarray(at, at + n); }

  private text(n: number): string {
    if (n > bufferConstants.MAX_STRING_LENGTH) throw limitExceeded(`pickle str of ${n} bytes is too long for a JavaScript string`);
    this.charge(2 * n); // UTF-16 at worst
    return decodeUtf8(this.bytes(n), `str at byte ${this.opAt}`);
  }

  private lineBytes(): Buffer {
    const end = this.buf.indexOf(0x0a, this.pos);
    if (end < 0) throw invalidInput(`pickle is truncated: ${opcodeName(this.op)} at byte ${this.opAt} has no end of line`);
    const line = this.buf.subarray(this.pos, end);
    this.pos = end + 1;
    return line;
  }

  private line(): string { return this.lineBytes().toString('latin1'); }

  private parseInt(text: string): number | bigint {
    if (!/^[+-]?[0-9]+$/.test(text)) throw this.fail(`bad integer ${JSON.stringify(printable(text))}`);
    if (text.length > MAX_INT_DIGITS) throw limitExceeded(`pickle int of ${text.length} digits exceeds the limit of ${MAX_INT_DIGITS}`);
    return pyInt(BigInt(text));
  }

  private parseIndex(text: string): number {
    if (!/^[0-9]{1,10}$/.test(text)) throw this.fail(`bad memo index ${JSON.stringify(printable(text))}`);
    return Number(text);
  }

  private parseFloat(text: string): number {
    const t = text.trim().toLowerCase();
    if (t === 'inf' || t === '+inf') return Infinity;
    if (t === '-inf') return -Infinity;
    if (t === 'nan' || t === '+nan' || t === '-nan') return NaN;
    if (!/^[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)(e[+-]?[0-9]+)?$/.test(t)) throw this.fail(`bad float ${JSON.stringify(printable(text))}`);
    return Number(t);
  }

  /** Little-endian two's complement, as pickle's LONG1/LONG4 store ints. */
  private long(n: number): number | bigint {
    const bytes = this.bytes(n);
    if (n === 0) return 0;
    let v = BigInt(`0x${Buffer.from(bytes).reverse().toString('hex')}`);
    if (bytes[n - 1]! & 0x80) v -= 1n << BigInt(8 * n);
    return pyInt(v);
  }

  // ---- the stack ----

  private push(v: unknown): void { this.stack.push(v); }

  private pop(): unknown {
    if (this.stack.length === 0) throw this.fail('stack underflow');
    return this.stack.pop();
  }

  private top(): unknown {
    if (this.stack.length === 0) throw this.fail('stack underflow');
    return this.stack[this.stack.length - 1];
  }

  private popMark(): unknown[] {
    const items = this.stack;
    const outer = this.metastack.pop();
    if (!outer) throw this.fail('no MARK');
    this.stack = outer;
    return items;
  }

  private listOnTop(): PyList {
    const list = this.top();
    if (!(list instanceof PyList)) throw this.fail(`appending to a ${pyTypeName(list)}`);
    return list;
  }

  private dictOnTop(): PyDict {
    const dict = this.top();
    if (!(dict instanceof PyDict)) throw this.fail(`setting an item of a ${pyTypeName(dict)}`);
    return dict;
  }

  private setItems(dict: PyDict, items: unknown[]): void {
    if (items.length % 2 !== 0) throw this.fail('odd number of dict items');
    for (let i = 0; i < items.length; i += 2) {
      checkHashable(items[i], 'dict key');
      dict.map.set(items[i], items[i + 1]);
    }
  }

  private put(index: number): void {
    if (this.memo.size >= this.opts.maxMemo && !this.memo.has(index)) {
      throw limitExceeded(`pickle memo exceeds the limit of ${this.opts.maxMemo} entries`);
    }
    if (!this.memo.has(index)) this.charge(MEMO_ENTRY_COST);
    this.memo.set(index, this.top());
  }

  private get(index: number): void {
    if (!this.memo.has(index)) throw this.fail(`memo entry ${index} is missing`);
    this.push(this.memo.get(index));
  }

  // ---- objects ----

  private instantiate(cls: unknown, args: unknown): PyInstance | PyIntValue {
    if (cls instanceof PyGlobal && (cls.kind === 'RunnerRequest' || cls.kind === 'ObjectRef')) return new PyInstance(cls.kind);
    if (cls instanceof PyGlobal && cls.kind === 'int64') {
      const a = args instanceof PyTuple ? args.items : [];
      const v = a.length === 1 ? a[0] : a.length === 0 ? 0 : undefined;
      if ((typeof v === 'number' && Number.isInteger(v)) || typeof v === 'bigint') return new PyIntValue(v);
      throw this.fail(`bson.int64.Int64 takes one int, not (${a.map(pyTypeName).join(', ')})`);
    }
    throw this.fail(`creating an instance of ${pyTypeName(cls)} is not allowed`);
  }

  private reduce(callable: unknown, args: unknown): unknown {
    if (!(callable instanceof PyGlobal)) throw this.fail(`calling a ${pyTypeName(callable)} is not allowed`);
    if (!(args instanceof PyTuple)) throw this.fail(`arguments must be a tuple, not ${pyTypeName(args)}`);
    const a = args.items;
    switch (callable.kind) {
      case 'reconstructor': // copyreg._reconstructor(cls, object, None): object.__new__(cls)
        if (a.length === 3 && a[1] instanceof PyGlobal && a[1].kind === 'object' && a[2] === null) return this.instantiate(a[0], null);
        break;
      case 'newobj': // copyreg.__newobj__(cls, *args)
      case 'newobj_ex': // copyreg.__newobj_ex__(cls, args, kwargs)
        if (a.length >= 1) return this.instantiate(a[0], callable.kind === 'newobj' ? new PyTuple(a.slice(1)) : a[1]);
        break;
      case 'bytes':
        if (a.length === 0) return Buffer.alloc(0);
        if (a.length === 1 && Buffer.isBuffer(a[0])) return a[0];
        break;
      case 'bytearray':
        if (a.length === 0) return Buffer.alloc(0);
        if (a.length === 1 && Buffer.isBuffer(a[0])) return a[0];
        if (a.length === 2 && typeof a[0] === 'string' && isLatin1Name(a[1])) return latin1(a[0]);
        break;
      case 'codecs.encode': // how protocol 2 spells bytes: _codecs.encode(text, 'latin1')
        if (a.length === 2 && typeof a[0] === 'string' && isLatin1Name(a[1])) return latin1(a[0]);
        break;
      case 'set':
      case 'frozenset': {
        const set = new PySet(callable.kind === 'frozenset');
        if (a.length === 0) return set;
        const from = a[0];
        if (a.length === 1 && (from instanceof PyList || from instanceof PyTuple)) { addAll(set, from.items); return set; }
        if (a.length === 1 && from instanceof PySet) { addAll(set, [...from.items]); return set; }
        break;
      }
      case 'datetime':
      case 'date':
      case 'timedelta':
      case 'timezone': {
        const value = makeDateTimeValue(callable.kind, a);
        if (value !== undefined) return value;
        break;
      }
      default:
        break;
    }
    throw this.fail(`calling ${callable.qualname} with (${a.map(pyTypeName).join(', ')}) is not allowed`);
  }

  private build(target: unknown, state: unknown): void {
    if (target instanceof PyIntValue) {
      // An int subclass pickles an empty instance __dict__ (or None): nothing to set.
      if (state === null || (state instanceof PyDict && state.map.size === 0)) return;
      throw this.fail(`setting attributes on a bson.int64.Int64 is not allowed`);
    }
    if (!(target instanceof PyInstance)) throw this.fail(`setting the state of a ${pyTypeName(target)} is not allowed`);
    // A dataclass pickles its __dict__; with __slots__ the state is (dict or None, slots dict).
    const parts = state instanceof PyTuple && state.items.length === 2 ? state.items : [state];
    for (const part of parts) {
      if (part === null) continue;
      if (!(part instanceof PyDict)) throw this.fail(`state of ${target.cls} must be a dict, not ${pyTypeName(part)}`);
      for (const [k, v] of part.map) {
        if (typeof k !== 'string') throw this.fail(`attribute name of ${target.cls} must be a str, not ${pyTypeName(k)}`);
        target.state.set(k, v);
      }
    }
  }
}

function addAll(set: PySet, items: Iterable<unknown>): void {
  for (const v of items) {
    checkHashable(v, `${set.frozen ? 'frozenset' : 'set'} member`);
    set.items.add(v);
  }
}

function isLatin1Name(v: unknown): boolean {
  return typeof v === 'string' && /^(latin[-_]?1|iso[-_]?8859[-_]1)$/i.test(v);
}

function latin1(text: string): Buffer {
  if (/[^\x00-\xff]/.test(text)) throw invalidInput('pickle encodes bytes as latin-1 text holding characters above U+00FF');
  return Buffer.from(text, 'latin1');
}

/** Python 3 reads protocol 0-2 `str` (py2) as ASCII text by default; non-ASCII stays bytes. */
function py2String(bytes: Buffer): string | Buffer {
  return /^[\x00-\x7f]*$/.test(bytes.toString('latin1')) ? bytes.toString('latin1') : bytes;
}

/** Python's raw-unicode-escape: latin-1 except \uXXXX and \UXXXXXXXX. */
function rawUnicodeEscape(bytes: Buffer): string {
  const text = bytes.toString('latin1');
  return text.replace(/\\u([0-9a-fA-F]{4})|\\U([0-9a-fA-F]{8})/g, (whole, u4: string | undefined, u8: string | undefined) => {
    const cp = parseInt((u4 ?? u8)!, 16);
    if (cp > 0x10ffff) throw invalidInput(`pickle UNICODE has an invalid escape ${whole}`);
    return String.fromCodePoint(cp);
  });
}
