import { transferable } from '../../src/runner/protocol';

describe('transferable', () => {
  it('copies a view into its own ArrayBuffer, never handing out the shared Buffer pool', () => {
    const pooled = Buffer.from('tiny'); // small Buffers live in Node's shared pool slab
    expect(pooled.byteLength).toBeLessThan(pooled.buffer.byteLength);
    const out = transferable(pooled);
    expect(out.buffer).not.toBe(pooled.buffer);
    expect(out.byteOffset).toBe(0);
    expect(out.buffer.byteLength).toBe(4);
    expect(Buffer.from(out).toString()).toBe('tiny');
  });

  it('passes a buffer that spans its whole ArrayBuffer through as it is', () => {
    const whole = new Uint8Array(new ArrayBuffer(16));
    expect(transferable(whole)).toBe(whole);
  });
});
