import { HpackDecoder, HpackError, HUFFMAN_CODES, encodeHeaders, huffmanDecode, huffmanEncode } from '../../../src/cache/h2/hpack';
// eslint-disable-next-line @typescript-eslint/no-require-imports
const hpack = require('hpack.js') as {
  compressor: { create(o: { table: { maxSize: number } }): Oracle };
  decompressor: { create(o: { table: { maxSize: number } }): Oracle };
};
interface Oracle {
  write(x: unknown): void;
  read(): unknown;
  execute(): void;
}

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const pairs = (list: string[]): Array<[string, string]> => {
  const out: Array<[string, string]> = [];
  for (let i = 0; i < list.length; i += 2) out.push([list[i]!, list[i + 1]!]);
  return out;
};

function oracleEncode(c: Oracle, headers: Array<{ name: string; value: string; huffman?: boolean; neverIndex?: boolean }>): Buffer {
  c.write(headers);
  const parts: Buffer[] = [];
  for (let x = c.read(); x !== null; x = c.read()) parts.push(x as Buffer);
  return Buffer.concat(parts);
}

describe('HPACK decoding: RFC 7541 Appendix C', () => {
  it('C.4: requests with Huffman, the dynamic table carried from one to the next', () => {
    const d = new HpackDecoder();
    expect(pairs(d.decode(hex('8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff')))).toEqual([
      [':method', 'GET'],
      [':scheme', 'http'],
      [':path', '/'],
      [':authority', 'www.example.com'],
    ]);
    expect(d.tableSize).toBe(57);
    expect(pairs(d.decode(hex('8286 84be 5886 a8eb 1064 9cbf')))).toEqual([
      [':method', 'GET'],
      [':scheme', 'http'],
      [':path', '/'],
      [':authority', 'www.example.com'],
      ['cache-control', 'no-cache'],
    ]);
    expect(d.tableSize).toBe(110);
    expect(pairs(d.decode(hex('8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf')))).toEqual([
      [':method', 'GET'],
      [':scheme', 'https'],
      [':path', '/index.html'],
      [':authority', 'www.example.com'],
      ['custom-key', 'custom-value'],
    ]);
    expect(d.tableSize).toBe(164);
    expect(d.entries).toEqual([
      ['custom-key', 'custom-value'],
      ['cache-control', 'no-cache'],
      [':authority', 'www.example.com'],
    ]);
  });

  it('C.6: responses with Huffman in a 256-byte table, entries evicted oldest first', () => {
    const d = new HpackDecoder(256);
    d.decode(hex('4882 6402 5885 aec3 771a 4b61 96d0 7abe 9410 54d4 44a8 2005 9504 0b81 66e0 82a6 2d1b ff6e 919d 29ad 1718 63c7 8f0b 97c8 e9ae 82ae 43d3'));
    expect(d.tableSize).toBe(222);
    expect(pairs(d.decode(hex('4883 640e ffc1 c0bf')))).toEqual([
      [':status', '307'],
      ['cache-control', 'private'],
      ['date', 'Mon, 21 Oct 2013 20:13:21 GMT'],
      ['location', 'https://www.example.com'],
    ]);
    expect(d.tableSize).toBe(222);
    const third = d.decode(
      hex(
        '88c1 6196 d07a be94 1054 d444 a820 0595 040b 8166 e084 a62d 1bff c05a 839b d9ab 77ad 94e7 821d d7f2 e6c7 b335 dfdf cd5b 3960 d5af 2708 7f36 72c1 ab27 0fb5 291f 9587 3160 65c0 03ed 4ee5 b106 3d50 07',
      ),
    );
    expect(pairs(third)).toEqual([
      [':status', '200'],
      ['cache-control', 'private'],
      ['date', 'Mon, 21 Oct 2013 20:13:22 GMT'],
      ['location', 'https://www.example.com'],
      ['content-encoding', 'gzip'],
      ['set-cookie', 'foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1'],
    ]);
    expect(d.tableSize).toBe(215);
    expect(d.entries.map(([n]) => n)).toEqual(['set-cookie', 'content-encoding', 'date']);
  });
});

describe('HPACK decoding against hpack.js as an oracle', () => {
  it('decodes what hpack.js encodes (indexing, Huffman, never-indexed, size updates) over many blocks', () => {
    let c = hpack.compressor.create({ table: { maxSize: 4096 } });
    const d = new HpackDecoder(4096);
    let seed = 7;
    const rand = (n: number): number => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed % n);
    for (let block = 0; block < 300; block++) {
      // Every 50 blocks: size updates to 0 (emptying the table) and back, before the first block of a fresh encoder.
      let prefix: Buffer = Buffer.alloc(0);
      if (block % 50 === 49) {
        c = hpack.compressor.create({ table: { maxSize: 4096 } });
        prefix = hex('20 3fe11f');
      }
      const headers: Array<{ name: string; value: string; huffman: boolean; neverIndex: boolean }> = [];
      for (let i = rand(6) + 1; i > 0; i--) {
        const value = Buffer.from(Array.from({ length: rand(60) }, () => 32 + rand(95))).toString('latin1');
        headers.push({ name: ['grpc-status', 'grpc-message', 'content-type', `x-k${rand(40)}`, ':status'][rand(5)]!, value, huffman: rand(2) === 0, neverIndex: rand(4) === 0 });
      }
      const got = d.decode(Buffer.concat([prefix, oracleEncode(c, headers)]));
      if (prefix.length > 0) expect(d.entries.length).toBeLessThanOrEqual(headers.length);
      expect(pairs(got)).toEqual(headers.map((h) => [h.name, h.value]));
    }
  });

  it('has the Huffman code hpack.js has, for every byte', () => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const table = require('hpack.js/lib/hpack/huffman.js') as { encode: Array<[number, number]> };
    expect(HUFFMAN_CODES.map(([code, bits]) => [bits, code])).toEqual(table.encode);
    const all = Buffer.from(Array.from({ length: 256 }, (_, i) => i)).toString('latin1');
    const coded = huffmanEncode(all);
    expect(huffmanDecode(coded, 0, coded.length)).toBe(all);
  });

  it("encodes request headers hpack.js's decoder reads back", () => {
    const headers: Array<[string, string]> = [
      [':method', 'POST'],
      [':path', '/arrow.flight.protocol.FlightService/DoPut'],
      ['te', 'trailers'],
      ['grpc-timeout', '30000m'],
    ];
    const o = hpack.decompressor.create({ table: { maxSize: 4096 } });
    o.write(encodeHeaders(headers));
    o.execute();
    const out: Array<[string, string]> = [];
    for (let x = o.read() as { name: string; value: string } | null; x !== null; x = o.read() as { name: string; value: string } | null) out.push([x.name, x.value]);
    expect(out).toEqual(headers);
  });
});

describe('HPACK decoding refuses malformed blocks', () => {
  const bad = (block: Buffer, d = new HpackDecoder()): unknown => {
    try {
      d.decode(block);
    } catch (err) {
      return err;
    }
    return undefined;
  };

  it('Huffman: EOS inside, padding longer than 7 bits, padding not all ones', () => {
    // 30 ones: EOS.
    expect(() => huffmanDecode(hex('ffff fffc'), 0, 4)).toThrow(HpackError);
    // 'a' (00011) then 0xff: 11 bits of padding.
    expect(() => huffmanDecode(hex('1f ff'), 0, 2)).toThrow(/longer than 7/);
    // 'a' (00011) then 000: padding of zeros.
    expect(() => huffmanDecode(hex('18'), 0, 1)).toThrow(/prefix of EOS/);
    expect(huffmanDecode(hex('1f'), 0, 1)).toBe('a');
    // As a literal's value: the same error through decode.
    expect(bad(hex('40 01 61 81 18'))).toBeInstanceOf(HpackError);
  });

  it('integer overflow, index 0, an index past the dynamic table, truncation', () => {
    expect(bad(hex('ff ff ff ff ff ff 0f'))).toMatchObject({ message: expect.stringContaining('overflows') });
    // Continuation bytes of zero: the value never grows, but 2 ** shift would reach Infinity (0 * Infinity is NaN).
    expect(bad(Buffer.from([0x3f, ...Array<number>(147).fill(0x80), 0x00]))).toMatchObject({ message: expect.stringContaining('overflows') });
    expect(bad(hex('80'))).toMatchObject({ message: expect.stringContaining('index 0') });
    expect(bad(hex('be'))).toMatchObject({ message: expect.stringContaining('past the dynamic table') });
    expect(bad(hex('ff'))).toMatchObject({ message: expect.stringContaining('ends inside an integer') });
    expect(bad(hex('40 05 61'))).toMatchObject({ message: expect.stringContaining('past the end') });
  });

  it('table size updates: evict, are bounded by our setting, and only come first', () => {
    const d = new HpackDecoder(4096);
    d.decode(encodeIncremental('x-a', 'one'));
    d.decode(encodeIncremental('x-b', 'two'));
    expect(d.entries).toHaveLength(2);
    // A size that holds one entry (3 + 3 + 32 = 38): the older goes.
    d.decode(hex('3f 07'));
    expect(d.entries).toEqual([['x-b', 'two']]);
    expect(pairs(d.decode(hex('be')))).toEqual([['x-b', 'two']]);
    d.decode(hex('20'));
    expect(d.entries).toHaveLength(0);
    expect(bad(hex('3f e2 1f'), d)).toMatchObject({ message: expect.stringContaining('above the 4096 allowed') });
    expect(bad(hex('88 20'), d)).toMatchObject({ message: expect.stringContaining('after a header field') });
  });

  it('a header list above the limit', () => {
    const d = new HpackDecoder(4096, 1000);
    const big = encodeHeaders([['x-big', 'v'.repeat(2000)]]);
    expect(bad(big, d)).toMatchObject({ message: expect.stringContaining('larger than 1000') });
  });
});

/** A literal with incremental indexing, new name, no Huffman. */
function encodeIncremental(name: string, value: string): Buffer {
  return Buffer.concat([Buffer.from([0x40, name.length]), Buffer.from(name), Buffer.from([value.length]), Buffer.from(value)]);
}
