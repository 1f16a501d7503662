/**
 * Byte mutations for fuzzing, as fast-check arbitraries: start from valid
 * seeds and apply a few of bit flips, byte sets, truncations, deletions,
 * insertions, duplications, splices with another seed and length-field edits
 * (an int at any offset set to a boundary value, either endianness).
 *
 * Written here because the fuzzers on the registry are either native
 * (libFuzzer bindings with install-time builds) or have no seed-based byte
 * mutator; fast-check gives generation, seeds, replay and shrinking.
 */
import fc from 'fast-check';

type Mutation =
  | { op: 'flip'; at: number; bit: number }
  | { op: 'set'; at: number; value: number }
  | { op: 'truncate'; at: number }
  | { op: 'delete'; at: number; len: number }
  | { op: 'insert'; at: number; bytes: Uint8Array }
  | { op: 'duplicate'; at: number; len: number }
  | { op: 'splice'; at: number; seed: number; from: number; len: number }
  | { op: 'length'; at: number; width: 1 | 2 | 4 | 8; le: boolean; value: bigint };

const INTERESTING_BYTES = [0x00, 0x01, 0x7f, 0x80, 0xfe, 0xff, 0x20, 0x2e, 0x2f, 0x3a, 0x5c];
const INTERESTING_INTS = [0n, 1n, 2n, 7n, 8n, 0x7fn, 0x80n, 0xffn, 0x7fffn, 0xffffn, 0x7fffffffn, 0x80000000n, 0xffffffffn, 2n ** 63n - 1n, 2n ** 64n - 1n];

const at = fc.nat({ max: 1 << 20 });

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ op: fc.constant('flip' as const), at, bit: fc.integer({ min: 0, max: 7 }) }),
  fc.record({ op: fc.constant('set' as const), at, value: fc.oneof(fc.constantFrom(...INTERESTING_BYTES), fc.integer({ min: 0, max: 255 })) }),
  fc.record({ op: fc.constant('truncate' as const), at }),
  fc.record({ op: fc.constant('delete' as const), at, len: fc.integer({ min: 1, max: 64 }) }),
  fc.record({ op: fc.constant('insert' as const), at, bytes: fc.uint8Array({ minLength: 1, maxLength: 16 }) }),
  fc.record({ op: fc.constant('duplicate' as const), at, len: fc.integer({ min: 1, max: 64 }) }),
  fc.record({ op: fc.constant('splice' as const), at, seed: fc.nat(), from: at, len: fc.integer({ min: 1, max: 256 }) }),
  fc.record({
    op: fc.constant('length' as const),
    at,
    width: fc.constantFrom(1 as const, 2 as const, 4 as const, 8 as const),
    le: fc.boolean(),
    value: fc.oneof(fc.constantFrom(...INTERESTING_INTS), fc.bigInt({ min: 0n, max: 2n ** 64n - 1n })),
  }),
);

function apply(input: Uint8Array, m: Mutation, seeds: readonly Uint8Array[]): Uint8Array {
  const n = input.length;
  const pos = n === 0 ? 0 : m.at % n;
  switch (m.op) {
    case 'flip': {
      if (n === 0) return input;
      const out = Uint8Array.from(input);
      out[pos] = out[pos]! ^ (1 << m.bit);
      return out;
    }
    case 'set': {
      if (n === 0) return input;
      const out = Uint8Array.from(input);
      out[pos] = m.value;
      return out;
    }
    case 'truncate':
      return input.subarray(0, m.at % (n + 1));
    case 'delete':
      return concat(input.subarray(0, pos), input.subarray(pos + m.len));
    case 'insert':
      return concat(input.subarray(0, pos), m.bytes, input.subarray(pos));
    case 'duplicate':
      return concat(input.subarray(0, pos + m.len), input.subarray(pos));
    case 'splice': {
      const other = seeds[m.seed % seeds.length] ?? new Uint8Array(0);
      const from = other.length === 0 ? 0 : m.from % other.length;
      return concat(input.subarray(0, pos), other.subarray(from, from + m.len), input.subarray(pos));
    }
    case 'length': {
      if (n < m.width) return input;
      const start = m.at % (n - m.width + 1);
      const out = Uint8Array.from(input);
      let v = m.value & ((1n << BigInt(m.width * 8)) - 1n);
      // A length one past or one short of the real remainder is the classic off-by-one probe.
      if (m.value === 1n && m.at % 3 === 0) v = BigInt(n - start - m.width + (m.at % 2 ? 1 : -1)) & ((1n << BigInt(m.width * 8)) - 1n);
      for (let i = 0; i < m.width; i++) {
        const byte = Number((v >> BigInt(8 * i)) & 0xffn);
        out[start + (m.le ? i : m.width - 1 - i)] = byte;
      }
      return out;
    }
  }
}

function concat(...parts: Uint8Array[]): Uint8Array {
  return Buffer.concat(parts);
}

/** Applies mutations in order to a copy of `seed`. */
export function mutate(seed: Uint8Array, mutations: readonly Mutation[], seeds: readonly Uint8Array[]): Uint8Array {
  let out = seed;
  for (const m of mutations) out = apply(out, m, seeds);
  return out;
}

/** Mutated seeds (most inputs), the seeds themselves, and plain random bytes. */
export function fuzzBytes(seeds: readonly Uint8Array[], opts: { maxRandomLength?: number } = {}): fc.Arbitrary<Buffer> {
  if (seeds.length === 0) throw new Error('fuzzBytes needs at least one seed');
  const seedIndex = fc.nat({ max: seeds.length - 1 });
  return fc.oneof(
    { arbitrary: fc.tuple(seedIndex, fc.array(mutation, { minLength: 1, maxLength: 4 })).map(([i, ms]) => Buffer.from(mutate(seeds[i]!, ms, seeds))), weight: 16 },
    { arbitrary: seedIndex.map((i) => Buffer.from(seeds[i]!)), weight: 1 },
    { arbitrary: fc.uint8Array({ maxLength: opts.maxRandomLength ?? 256 }).map((u) => Buffer.from(u)), weight: 3 },
  );
}

/** Sequences of messages (a DoPut stream, a DoGet answer): drop, duplicate, reorder, and mutate some messages. */
export function fuzzSequences(seedStreams: readonly (readonly Uint8Array[])[]): fc.Arbitrary<Buffer[]> {
  const allMessages = seedStreams.flat();
  const stream = fc.nat({ max: seedStreams.length - 1 }).map((i) => seedStreams[i]!);
  const edit = fc.record({
    index: fc.nat(),
    kind: fc.constantFrom('mutate', 'mutate', 'mutate', 'drop', 'duplicate', 'swap', 'foreign'),
    mutations: fc.array(mutation, { minLength: 1, maxLength: 3 }),
    other: fc.nat(),
  });
  return fc.tuple(stream, fc.array(edit, { minLength: 1, maxLength: 3 })).map(([s, edits]) => {
    const msgs: Uint8Array[] = [...s];
    for (const e of edits) {
      if (msgs.length === 0) break;
      const i = e.index % msgs.length;
      if (e.kind === 'mutate') msgs[i] = mutate(msgs[i]!, e.mutations, allMessages);
      else if (e.kind === 'drop') msgs.splice(i, 1);
      else if (e.kind === 'duplicate') msgs.splice(i, 0, msgs[i]!);
      else if (e.kind === 'swap') {
        const j = e.other % msgs.length;
        [msgs[i], msgs[j]] = [msgs[j]!, msgs[i]!];
      } else msgs.splice(i, 0, allMessages[e.other % allMessages.length]!);
    }
    return msgs.map((m) => Buffer.from(m));
  });
}

/**
 * A byte stream sent in chunks (a server's answer, each chunk one socket write): message-level edits
 * of the seed streams as fuzzSequences makes them (a chunk per message), or byte mutations of a whole
 * stream cut at random points, so that what the receiver parses straddles its reads anywhere.
 */
export function fuzzChunks(seedStreams: readonly (readonly Uint8Array[])[]): fc.Arbitrary<Buffer[]> {
  const whole = seedStreams.map((s) => Buffer.concat(s));
  const cut = fc.tuple(fuzzBytes(whole), fc.array(fc.nat(), { maxLength: 8 })).map(([bytes, cuts]) => {
    const at = [...new Set(cuts.map((c) => (bytes.length === 0 ? 0 : c % bytes.length)))].sort((a, b) => a - b);
    const out: Buffer[] = [];
    let from = 0;
    for (const to of [...at, bytes.length]) {
      if (to > from) out.push(bytes.subarray(from, to));
      from = to;
    }
    return out;
  });
  return fc.oneof({ arbitrary: fuzzSequences(seedStreams), weight: 3 }, { arbitrary: cut, weight: 2 });
}

/** Length-prefixed frames: how a message sequence is kept as one corpus file. */
export function toFrames(messages: readonly Uint8Array[]): Buffer {
  const parts: Buffer[] = [];
  for (const m of messages) {
    const len = Buffer.alloc(4);
    len.writeUInt32LE(m.length);
    parts.push(len, Buffer.from(m));
  }
  return Buffer.concat(parts);
}

export function fromFrames(data: Buffer): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i + 4 <= data.length; ) {
    const n = data.readUInt32LE(i);
    out.push(data.subarray(i + 4, i + 4 + n));
    i += 4 + n;
  }
  return out;
}
