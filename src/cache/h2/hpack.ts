/**
 * HPACK (RFC 7541) for the cache client's HTTP/2 connection: a full decoder for response
 * headers (servers index and Huffman-code them: nghttp2 in our embedded server, h2 in
 * Flame's cache) and an encoder for our few fixed request headers.
 *
 * Why by hand, not hpack.js (the npm package, kept as a devDependency test oracle): its
 * decompressor is stream-shaped (write, execute, then read header objects back through a
 * readable-stream Duplex; four runtime dependencies). Measured on one gRPC answer's two header
 * blocks (indexed, Huffman-coded; /tmp A/B, 50,000 rounds, loaded machine): hpack.js 3.2-6.0 us,
 * this decoder 0.5-1.3 us. A few us on a ~0.45 ms put is about 1%: small, but the decoder is small
 * too, and RFC 7541 Appendix C and the oracle test cover it.
 */

/** A decoding failure: HTTP/2 calls it COMPRESSION_ERROR, a connection error (RFC 9113 §4.3). */
export class HpackError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'HpackError';
  }
}

/** RFC 7541 Appendix A. */
const STATIC: ReadonlyArray<readonly [string, string]> = [
  [':authority', ''],
  [':method', 'GET'],
  [':method', 'POST'],
  [':path', '/'],
  [':path', '/index.html'],
  [':scheme', 'http'],
  [':scheme', 'https'],
  [':status', '200'],
  [':status', '204'],
  [':status', '206'],
  [':status', '304'],
  [':status', '400'],
  [':status', '404'],
  [':status', '500'],
  ['accept-charset', ''],
  ['accept-encoding', 'gzip, deflate'],
  ['accept-language', ''],
  ['accept-ranges', ''],
  ['accept', ''],
  ['access-control-allow-origin', ''],
  ['age', ''],
  ['allow', ''],
  ['authorization', ''],
  ['cache-control', ''],
  ['content-disposition', ''],
  ['content-encoding', ''],
  ['content-language', ''],
  ['content-length', ''],
  ['content-location', ''],
  ['content-range', ''],
  ['content-type', ''],
  ['cookie', ''],
  ['date', ''],
  ['etag', ''],
  ['expect', ''],
  ['expires', ''],
  ['from', ''],
  ['host', ''],
  ['if-match', ''],
  ['if-modified-since', ''],
  ['if-none-match', ''],
  ['if-range', ''],
  ['if-unmodified-since', ''],
  ['last-modified', ''],
  ['link', ''],
  ['location', ''],
  ['max-forwards', ''],
  ['proxy-authenticate', ''],
  ['proxy-authorization', ''],
  ['range', ''],
  ['referer', ''],
  ['refresh', ''],
  ['retry-after', ''],
  ['server', ''],
  ['set-cookie', ''],
  ['strict-transport-security', ''],
  ['transfer-encoding', ''],
  ['user-agent', ''],
  ['vary', ''],
  ['via', ''],
  ['www-authenticate', ''],
];

/**
 * Code lengths of RFC 7541 Appendix B's Huffman code, by symbol (0-255, then EOS). The code is
 * canonical (codes of one length are consecutive, ordered by symbol), so the lengths define it.
 */
const HUFFMAN_LENGTHS = [
  13, 23, 28, 28, 28, 28, 28, 28, 28, 24, 30, 28, 28, 30, 28, 28, 28, 28, 28, 28, 28, 28, 30, 28, 28, 28, 28, 28, 28, 28, 28, 28, 6, 10, 10, 12, 13, 6, 8, 11, 10, 10,
  8, 11, 8, 6, 6, 6, 5, 5, 5, 6, 6, 6, 6, 6, 6, 6, 7, 8, 15, 6, 12, 10, 13, 6, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 8, 7, 8, 13, 19, 13,
  14, 6, 15, 5, 6, 5, 6, 5, 6, 6, 6, 5, 7, 7, 6, 6, 6, 5, 6, 7, 6, 5, 5, 6, 7, 7, 7, 7, 7, 15, 11, 14, 13, 28, 20, 22, 20, 20, 22, 22, 22, 23, 22, 23, 23, 23, 23, 23,
  24, 23, 24, 24, 22, 23, 24, 23, 23, 23, 23, 21, 22, 23, 22, 23, 23, 24, 22, 21, 20, 22, 22, 23, 23, 21, 23, 22, 22, 24, 21, 22, 23, 23, 21, 21, 22, 21, 23, 22, 23,
  23, 20, 22, 22, 22, 23, 22, 22, 23, 26, 26, 20, 19, 22, 23, 22, 25, 26, 26, 26, 27, 27, 26, 24, 25, 19, 21, 26, 27, 27, 26, 27, 24, 21, 21, 26, 26, 28, 27, 27, 27,
  20, 24, 20, 21, 22, 21, 21, 23, 22, 22, 25, 25, 24, 24, 26, 23, 26, 27, 26, 26, 27, 27, 27, 27, 27, 28, 27, 27, 27, 27, 27, 26, 30,
];
const EOS = 256;
const MAX_CODE_LENGTH = 30;

/**
 * Canonical decoding tables: for each length, the first code of that length, how many codes
 * have it, and where its symbols start in `sortedSymbols`.
 */
const firstCode = new Array<number>(MAX_CODE_LENGTH + 1).fill(0);
const countOf = new Array<number>(MAX_CODE_LENGTH + 1).fill(0);
const startOf = new Array<number>(MAX_CODE_LENGTH + 1).fill(0);
const sortedSymbols: number[] = [];
/** Every symbol's code, for the encoder used by tests (and nothing on the hot path). */
export const HUFFMAN_CODES: ReadonlyArray<readonly [code: number, bits: number]> = (() => {
  for (const l of HUFFMAN_LENGTHS) countOf[l]!++;
  for (let l = 1; l <= MAX_CODE_LENGTH; l++) {
    for (let s = 0; s < HUFFMAN_LENGTHS.length; s++) if (HUFFMAN_LENGTHS[s] === l) sortedSymbols.push(s);
  }
  const codes: Array<[number, number]> = [];
  let code = 0;
  let start = 0;
  for (let l = 1; l <= MAX_CODE_LENGTH; l++) {
    firstCode[l] = code;
    startOf[l] = start;
    code = (code + countOf[l]!) * 2;
    start += countOf[l]!;
  }
  for (let s = 0; s < HUFFMAN_LENGTHS.length; s++) {
    const l = HUFFMAN_LENGTHS[s]!;
    codes.push([firstCode[l]! + sortedSymbols.indexOf(s) - startOf[l]!, l]);
  }
  return codes;
})();

/** Decodes a Huffman-coded string (RFC 7541 §5.2): EOS in the data, or padding that is not a prefix of EOS, is an error. */
export function huffmanDecode(src: Uint8Array, start: number, end: number): string {
  const out = Buffer.allocUnsafe(Math.ceil(((end - start) * 8) / 5));
  let n = 0;
  let code = 0;
  let length = 0;
  for (let i = start; i < end; i++) {
    const byte = src[i]!;
    for (let bit = 7; bit >= 0; bit--) {
      code = code * 2 + ((byte >> bit) & 1);
      length++;
      const index = code - firstCode[length]!;
      if (index < countOf[length]!) {
        const symbol = sortedSymbols[startOf[length]! + index]!;
        if (symbol === EOS) throw new HpackError('a Huffman-coded string holds EOS');
        out[n++] = symbol;
        code = 0;
        length = 0;
      } else if (length === MAX_CODE_LENGTH) {
        throw new HpackError('an invalid Huffman code');
      }
    }
  }
  // What is left must be fewer than 8 bits, all ones (the start of EOS).
  if (length > 7) throw new HpackError('Huffman padding longer than 7 bits');
  if (code !== 2 ** length - 1) throw new HpackError('Huffman padding that is not a prefix of EOS');
  return out.toString('latin1', 0, n);
}

/** Encodes with the Huffman code (tests and the oracle comparison only: our request headers go as plain literals). */
export function huffmanEncode(text: string): Buffer {
  const bytes = Buffer.from(text, 'latin1');
  const out: number[] = [];
  let acc = 0;
  let bits = 0;
  for (const b of bytes) {
    const [code, length] = HUFFMAN_CODES[b]!;
    for (let i = length - 1; i >= 0; i--) {
      acc = acc * 2 + (Math.floor(code / 2 ** i) & 1);
      if (++bits === 8) {
        out.push(acc);
        acc = 0;
        bits = 0;
      }
    }
  }
  if (bits > 0) out.push((acc << (8 - bits)) | ((1 << (8 - bits)) - 1));
  return Buffer.from(out);
}

/** Names and values alternate: [name0, value0, name1, value1, ...]. */
export type HeaderList = string[];

/** An HPACK decoding context: one per connection, fed every header block in the order they arrive. */
export class HpackDecoder {
  /** Newest first. */
  private readonly table: Array<readonly [string, string]> = [];
  private size = 0;
  private maxSize: number;

  /** `limit`: SETTINGS_HEADER_TABLE_SIZE we sent (the most a size update may ask for); `maxListBytes`: the largest header list accepted. */
  constructor(
    private readonly limit = 4096,
    private readonly maxListBytes = 64 * 1024,
  ) {
    this.maxSize = limit;
  }

  /** The dynamic table's entries, newest first (tests). */
  get entries(): ReadonlyArray<readonly [string, string]> {
    return this.table;
  }

  get tableSize(): number {
    return this.size;
  }

  decode(block: Uint8Array): HeaderList {
    const out: HeaderList = [];
    let pos = 0;
    let listBytes = 0;
    let headerSeen = false;
    const int = (prefixBits: number): number => {
      const mask = (1 << prefixBits) - 1;
      let value = block[pos++]! & mask;
      if (value < mask) return value;
      for (let shift = 0; ; shift += 7) {
        if (pos >= block.length) throw new HpackError('a header block ends inside an integer');
        // Past 2^35, continuation bytes of 0 would still grow `shift` until 2 ** shift is Infinity and 0 * Infinity NaN.
        if (shift > 28) throw new HpackError('an integer in a header block overflows');
        const b = block[pos++]!;
        value += (b & 0x7f) * 2 ** shift;
        // Nothing in a header block is near 2^31: a longer integer is an attack or garbage.
        if (value > 0x7fffffff) throw new HpackError('an integer in a header block overflows');
        if ((b & 0x80) === 0) return value;
      }
    };
    const str = (): string => {
      if (pos >= block.length) throw new HpackError('a header block ends before a string');
      const huffman = (block[pos]! & 0x80) !== 0;
      const length = int(7);
      if (pos + length > block.length) throw new HpackError('a string runs past the end of its header block');
      const s = huffman ? huffmanDecode(block, pos, pos + length) : Buffer.from(block.buffer, block.byteOffset + pos, length).toString('latin1');
      pos += length;
      return s;
    };
    const entry = (index: number): readonly [string, string] => {
      if (index === 0) throw new HpackError('header index 0');
      if (index <= STATIC.length) return STATIC[index - 1]!;
      const e = this.table[index - STATIC.length - 1];
      if (!e) throw new HpackError(`header index ${index} is past the dynamic table (${this.table.length} entries)`);
      return e;
    };
    const emit = (name: string, value: string): void => {
      listBytes += name.length + value.length + 32;
      if (listBytes > this.maxListBytes) throw new HpackError(`a header list larger than ${this.maxListBytes} bytes`);
      out.push(name, value);
      headerSeen = true;
    };
    while (pos < block.length) {
      const b = block[pos]!;
      if (b & 0x80) {
        const [name, value] = entry(int(7));
        emit(name, value);
      } else if (b & 0x40) {
        const index = int(6);
        const name = index === 0 ? str() : entry(index)[0];
        const value = str();
        this.add(name, value);
        emit(name, value);
      } else if (b & 0x20) {
        // A size update is allowed only at the start of a block (RFC 7541 §4.2).
        if (headerSeen) throw new HpackError('a dynamic table size update after a header field');
        const size = int(5);
        if (size > this.limit) throw new HpackError(`a dynamic table size update to ${size}, above the ${this.limit} allowed`);
        this.maxSize = size;
        this.evict(0);
      } else {
        // Literal without indexing (0000) or never indexed (0001): same shape.
        const index = int(4);
        const name = index === 0 ? str() : entry(index)[0];
        emit(name, str());
      }
    }
    return out;
  }

  private add(name: string, value: string): void {
    const size = name.length + value.length + 32;
    if (size > this.maxSize) {
      // An entry larger than the table empties it and is not added (RFC 7541 §4.4).
      this.table.length = 0;
      this.size = 0;
      return;
    }
    this.evict(size);
    this.table.unshift([name, value]);
    this.size += size;
  }

  private evict(room: number): void {
    while (this.size + room > this.maxSize) {
      const e = this.table.pop()!;
      this.size -= e[0].length + e[1].length + 32;
    }
  }
}

/** Appends an HPACK integer with the given prefix bits and first-byte flags. */
function pushInt(out: number[], value: number, prefixBits: number, flags: number): void {
  const max = (1 << prefixBits) - 1;
  if (value < max) {
    out.push(flags | value);
    return;
  }
  out.push(flags | max);
  value -= max;
  while (value >= 0x80) {
    out.push((value % 0x80) | 0x80);
    value = Math.floor(value / 0x80);
  }
  out.push(value);
}

/**
 * Encodes headers as literals without indexing, names by static index where there is one,
 * no Huffman: ours are a handful of short constants, and this keeps no encoder state (so the
 * server's HEADER_TABLE_SIZE does not matter to us).
 */
export function encodeHeaders(headers: ReadonlyArray<readonly [string, string]>): Buffer {
  const out: number[] = [];
  for (const [name, value] of headers) {
    const nameIndex = STATIC.findIndex(([n]) => n === name) + 1;
    pushInt(out, nameIndex, 4, 0x00);
    if (nameIndex === 0) {
      pushInt(out, name.length, 7, 0);
      for (const c of Buffer.from(name, 'latin1')) out.push(c);
    }
    pushInt(out, value.length, 7, 0);
    for (const c of Buffer.from(value, 'latin1')) out.push(c);
  }
  return Buffer.from(out);
}
