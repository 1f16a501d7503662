/**
 * Bytes of the buffers under `parts`, each counted once (a read buffer's parts are consecutive): what keeping
 * views into received chunks really holds, which can be far more than the views' own length.
 */
export function heldBytes(parts: readonly Buffer[]): number {
  let n = 0;
  let last: ArrayBufferLike | undefined;
  for (const p of parts) {
    if (p.buffer !== last) {
      n += p.buffer.byteLength;
      last = p.buffer;
    }
  }
  return n;
}
