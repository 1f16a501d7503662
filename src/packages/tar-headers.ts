/**
 * Looks at the raw 512-byte tar headers as they stream past, for what node-tar
 * normalises away before our entry rules see it: bytes hidden after a NUL in a
 * name field (node-tar cuts names at the first NUL) and negative base-256
 * sizes (node-tar turns them into "no size"). Written by hand because no
 * library exposes raw header fields; it follows the framing (header, data
 * blocks, PAX `size` overrides) only as far as needed to find the next header.
 */
import { invalidInput } from '../errors';

const BLOCK = 512;
const ZERO_BLOCK = Buffer.alloc(BLOCK);
const EMPTY = Buffer.alloc(0);
const NORMAL_FS_TYPES = new Set(['0', '', '1', '2', '3', '4', '5', '6', '7', 'D']);
const FIELDS: Array<[string, number, number]> = [['name', 0, 100], ['link name', 157, 100], ['prefix', 345, 155]];

export class TarHeaderInspector {
  private pending = EMPTY;
  /** Bytes of entry data still to skip before the next header. */
  private skip = 0;
  /** Data of the current PAX header, collected to read its `size=`. */
  private pax: Buffer[] | undefined;
  private paxRemain = 0;
  private paxSize: number | undefined;
  private globalPaxSize: number | undefined;
  private globalPax = false;
  private sawNull = false;
  private ended = false;

  constructor(private readonly where: string) {}

  write(chunk: Buffer): void {
    let off = 0;
    if (this.pending.length > 0) {
      // A header cut by the last chunk's end (pending is kept only then, never data): complete it from this
      // chunk rather than copying the whole chunk behind it.
      const need = BLOCK - this.pending.length;
      if (chunk.length < need) {
        this.pending = Buffer.concat([this.pending, chunk]);
        return;
      }
      const h = Buffer.concat([this.pending, chunk.subarray(0, need)]);
      this.pending = EMPTY;
      off = need;
      this.header(h);
    }
    for (;;) {
      if (this.ended) {
        off = chunk.length;
        break;
      }
      if (this.skip > 0) {
        const n = Math.min(this.skip, chunk.length - off);
        if (this.pax && this.paxRemain > 0) {
          const take = Math.min(n, this.paxRemain);
          this.pax.push(chunk.subarray(off, off + take));
          this.paxRemain -= take;
          if (this.paxRemain === 0) this.endPax();
        }
        off += n;
        this.skip -= n;
        if (this.skip > 0) break;
      }
      if (chunk.length - off < BLOCK) break;
      this.header(chunk.subarray(off, off + BLOCK));
      off += BLOCK;
    }
    if (off < chunk.length) this.pending = Buffer.from(chunk.subarray(off));
  }

  private header(h: Buffer): void {
    if (this.ended) return;
    if (h.equals(ZERO_BLOCK)) {
      // Two null blocks end the archive; node-tar ignores what follows, so do we.
      this.ended = this.sawNull;
      this.sawNull = true;
      return;
    }
    this.sawNull = false;
    for (const [field, start, len] of FIELDS) {
      const end = start + len;
      // A NUL found past the field's end means the field has none. The bytes after a NUL are compared natively with
      // zeros, in place: a per-byte callback here was most of this file's CPU (1,503 headers × 355 bytes), and views
      // of each field were most of the rest in a process that had not optimized this code yet.
      const nul = h.indexOf(0, start);
      if (nul >= 0 && nul < end && h.compare(ZERO_BLOCK, 0, end - nul, nul, end) !== 0) {
        throw invalidInput(`${this.where}: entry "${nameOf(h)}" has bytes after a NUL in its ${field} field (NUL bytes in names are not allowed)`);
      }
    }
    const type = h[156] ? String.fromCharCode(h[156]) : '';
    let size: number | undefined;
    if ((h[124]! & 0x80) !== 0) {
      if (h[124] === 0xff) throw invalidInput(`${this.where}: entry "${nameOf(h)}" declares a negative size`);
      size = h.subarray(125, 136).reduce((acc, b) => acc * 256 + b, 0);
    } else {
      const text = h.subarray(124, 136).toString('latin1').replace(/\0.*$/s, '').trim();
      size = text === '' ? 0 : /^[0-7]+$/.test(text) ? parseInt(text, 8) : undefined;
      if (size === undefined) throw invalidInput(`${this.where}: entry "${nameOf(h)}" has an unreadable size field`);
    }
    if (type === 'x' || type === 'g') {
      this.pax = [];
      this.paxRemain = size;
      this.globalPax = type === 'g';
      this.skip = blocks(size);
      if (size === 0) this.endPax();
      return;
    }
    // As node-tar: PAX values apply to file-system entries only (not to GNU long names 'L'/'K'),
    // and the pending extended header is used up by the next file-system entry.
    if (NORMAL_FS_TYPES.has(type)) {
      this.skip = blocks(this.paxSize ?? this.globalPaxSize ?? size);
      this.paxSize = undefined;
    } else {
      this.skip = blocks(size);
    }
  }

  private endPax(): void {
    const text = Buffer.concat(this.pax ?? []).toString('utf8');
    // node-tar cuts PAX values at a NUL; a name smuggled behind one is refused here.
    const nul = /(?:^|\n)\d+ (path|linkpath)=([^\n]*\0[^\n]*)\n/.exec(text);
    if (nul) {
      throw invalidInput(`${this.where}: a PAX ${nul[1]} "${nul[2]!.replace(/\0/g, '\\x00')}" contains a NUL byte (NUL bytes in names are not allowed)`);
    }
    const m = /(?:^|\n)\d+ size=(\d+)\n/.exec(text);
    const size = m ? Number(m[1]) : undefined;
    if (this.globalPax) this.globalPaxSize = size ?? this.globalPaxSize;
    else this.paxSize = size;
    this.pax = undefined;
  }
}

/** The name field, for messages only (decoded only when one is needed). */
function nameOf(h: Buffer): string {
  return h.subarray(0, 100).toString('utf8').replace(/\0.*$/s, '');
}

function blocks(size: number): number {
  return Math.ceil(size / BLOCK) * BLOCK;
}
