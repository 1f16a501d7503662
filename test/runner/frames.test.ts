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
    { type: 'invoke', id: 5, taskId: 'tâche-ü' },
    { type: 'done', id: 5, returnCode: 3, message: 'refused', error: { code: 'unavailable', summary: 's' } },
    { type: 'done', id: 6, returnCode: -1 },
    { type: 'invoke', id: 7, taskId: '', input: Buffer.alloc(0) },
  ];
  const stream = Buffer.concat(messages.flatMap((m) => encodeFrame(m)));
  const expected = [
    { type: 'invoke', id: 1, taskId: 't-1', input: Buffer.from('pickled request bytes') },
    { type: 'done', id: 1, returnCode: 0, output: Buffer.from([0, 1, 2, 255]), state: Buffer.alloc(0) },
    { type: 'enter', id: 2, init: { spec: { sessionId: 's', commonData: Buffer.from([7, 7]) }, logBindings: { app: 'ü€' } } },
    messages[3],
    messages[4],
    messages[5],
    messages[6],
    messages[7],
    messages[8],
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
    expect(parts[0]!.length).toBeLessThan(200);
  });

  it('carries byte fields too large to be copied into the frame as buffers of their own', () => {
    const input = Buffer.alloc(100_000, 1);
    const output = Buffer.alloc(70_000, 2);
    const state = Buffer.alloc(30_000, 3);
    const sent = [
      { type: 'invoke', id: 8, taskId: 'big', input },
      { type: 'done', id: 8, returnCode: 0, output, state },
      { type: 'done', id: 9, returnCode: 0, output: Buffer.alloc(0), state },
    ];
    const frames = sent.map((m) => encodeFrame(m));
    expect(frames[0]![1]).toBe(input);
    expect(frames[1]!.slice(1)).toEqual([output, state]);
    const bytes = Buffer.concat(frames.flat());
    expect(read(bytes, [])).toEqual(sent);
    expect(read(bytes, [7, 50_000, 150_001])).toEqual(sent);
  });

  it('refuses a message longer than a frame can say', () => {
    const huge = { byteLength: MAX_FRAME_BYTES } as unknown as Uint8Array;
    Object.setPrototypeOf(huge, Uint8Array.prototype);
    expect(() => encodeFrame({ type: 'invoke', id: 4, taskId: 'x', input: huge })).toThrow(FrameTooLarge);
  });
});
