import { encodeFrame, FrameReader, FrameTooLarge, MAX_FRAME_BYTES } from '../../src/runner/frames';

function read(stream: Buffer, cuts: number[]): unknown[] {
  const reader = new FrameReader();
  const out: unknown[] = [];
  let at = 0;
  for (const cut of [...cuts, stream.length]) {
    reader.push(stream.subarray(at, cut), (m) => out.push(m));
    at = cut;
  }
  return out;
}

describe('channel frames', () => {
  const messages = [
    { type: 'invoke', id: 1, taskId: 't-1', input: Buffer.from('pickled request bytes') },
    { type: 'done', id: 1, returnCode: 0, output: new Uint8Array([0, 1, 2, 255]), state: Buffer.alloc(0) },
    { type: 'enter', id: 2, init: { spec: { sessionId: 's', commonData: Buffer.from([7, 7]) }, logBindings: { app: 'ü€' }, state: undefined } },
    { type: 'log', line: '{"level":30,"msg":"é"}\n' },
    { type: 'abort', id: 1, reason: 'task timed out after 5 ms' },
  ];
  const stream = Buffer.concat(messages.flatMap((m) => encodeFrame(m)));
  const expected = [
    { type: 'invoke', id: 1, taskId: 't-1', input: Buffer.from('pickled request bytes') },
    { type: 'done', id: 1, returnCode: 0, output: Buffer.from([0, 1, 2, 255]), state: Buffer.alloc(0) },
    { type: 'enter', id: 2, init: { spec: { sessionId: 's', commonData: Buffer.from([7, 7]) }, logBindings: { app: 'ü€' } } },
    messages[3],
    messages[4],
  ];

  it('carries messages and their byte fields through one read', () => {
    expect(read(stream, [])).toEqual(expected);
  });

  it('reassembles frames split at every byte boundary', () => {
    for (let cut = 1; cut < stream.length; cut++) expect(read(stream, [cut])).toEqual(expected);
  });

  it('reassembles frames delivered a byte at a time', () => {
    expect(read(stream, Array.from({ length: stream.length - 1 }, (_, i) => i + 1))).toEqual(expected);
  });

  it('does not copy a byte field into the header', () => {
    const big = Buffer.alloc(1 << 20, 3);
    const parts = encodeFrame({ type: 'invoke', id: 3, taskId: 'x', input: big });
    expect(parts[parts.length - 1]).toBe(big);
    expect(parts[1]!.length).toBeLessThan(200);
  });

  it('refuses a message longer than a frame can say', () => {
    const huge = { byteLength: MAX_FRAME_BYTES } as unknown as Uint8Array;
    Object.setPrototypeOf(huge, Uint8Array.prototype);
    expect(() => encodeFrame({ type: 'invoke', id: 4, taskId: 'x', input: huge })).toThrow(FrameTooLarge);
  });
});
