/**
 * ZSTD frames built by hand for the tests (RFC 8878 §3.1.1): runs of one byte in RLE blocks, which any
 * ZSTD decoder must read, with or without a stated content size or a content checksum.
 */
import { xxh64 } from '@node-rs/xxhash';

/** Block_Maximum_Size: the largest block a frame may hold. */
export const BLOCK_MAX = 128 * 1024;

/** A ZSTD frame of `size` bytes of `byte`: RLE blocks, no checksum; with `contentSize`, a single segment that says its size. */
export function rleFrame(size: number, byte: number, contentSize = false): Buffer {
  // Frame header descriptor 0: no single segment, no checksum, no dictionary, no content size; window 2^17.
  // 0xa0: single segment, a 4-byte content size.
  const head = contentSize ? Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0xa0, 0, 0, 0, 0]) : Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0x00, 0x40]);
  if (contentSize) head.writeUInt32LE(size, 5);
  const parts: Buffer[] = [head];
  let left = size;
  do {
    const n = Math.min(left, BLOCK_MAX);
    left -= n;
    const head = (n << 3) | (1 << 1) | (left === 0 ? 1 : 0); // RLE block, last when nothing is left
    parts.push(Buffer.from([head & 0xff, (head >> 8) & 0xff, (head >> 16) & 0xff, byte]));
  } while (left > 0);
  return Buffer.concat(parts);
}

/** rleFrame with a content checksum (descriptor bit 2): the low 32 bits of the content's XXH64, flipped when asked. */
export function checksummedFrame(size: number, byte: number, flip: boolean): Buffer {
  const frame = rleFrame(size, byte);
  frame[4] = 0x04;
  const sum = Buffer.alloc(4);
  sum.writeUInt32LE((Number(xxh64(Buffer.alloc(size, byte)) & 0xffffffffn) ^ (flip ? 1 : 0)) >>> 0);
  return Buffer.concat([frame, sum]);
}
