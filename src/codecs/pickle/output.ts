/** A growable byte sink that can take large buffers by reference, as separate chunks, without copying them. */
export class ChunkedOutput {
  private readonly chunks: Uint8Array[] = [];
  private buf = Buffer.allocUnsafe(4096);
  private len = 0;

  ensure(n: number): void {
    if (this.len + n <= this.buf.length) return;
    const grown = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.len + n));
    this.buf.copy(grown, 0, 0, this.len);
    this.buf = grown;
  }

  byte(b: number): void { this.ensure(1); this.buf[this.len++] = b; }
  u16(v: number): void { this.ensure(2); this.len = this.buf.writeUInt16LE(v, this.len); }
  i32(v: number): void { this.ensure(4); this.len = this.buf.writeInt32LE(v, this.len); }
  u32(v: number): void { this.ensure(4); this.len = this.buf.writeUInt32LE(v, this.len); }
  u64(v: number): void { this.ensure(8); this.len = this.buf.writeBigUInt64LE(BigInt(v), this.len); }
  f64be(v: number): void { this.ensure(8); this.len = this.buf.writeDoubleBE(v, this.len); }
  bytes(b: Uint8Array): void { this.ensure(b.length); this.buf.set(b, this.len); this.len += b.length; }
  /** Writes well-formed text as UTF-8; the caller has checked there are no lone surrogates. */
  utf8(text: string, byteLength: number): void { this.ensure(byteLength); this.len += this.buf.write(text, this.len, 'utf8'); }

  /** Appends `b` as a chunk of its own (by reference: the caller must not change it afterwards). */
  attach(b: Uint8Array): void {
    this.flush();
    this.chunks.push(b);
  }

  finish(): Uint8Array[] {
    this.flush();
    return this.chunks;
  }

  private flush(): void {
    if (this.len === 0) return;
    this.chunks.push(this.buf.subarray(0, this.len));
    this.buf = Buffer.allocUnsafe(4096);
    this.len = 0;
  }
}
