import { ConnectionError, Flag, FrameParser, FrameType, frame, type FrameSink } from '../../../src/cache/h2/frames';

/** Records what the parser reports, DATA gathered per frame, so different splits compare equal. */
function recorder(): { sink: FrameSink; log: string[] } {
  const log: string[] = [];
  let data: Buffer[] = [];
  const sink: FrameSink = {
    onFrame: (type, flags, id, payload) => void log.push(`frame ${type} ${flags} ${id} ${payload.toString('hex')}`),
    onDataStart: (id, flags, length) => {
      data = [];
      log.push(`data-start ${id} ${flags} ${length}`);
    },
    onData: (_id, d) => void data.push(Buffer.from(d)),
    onDataEnd: (id, flags) => void log.push(`data-end ${id} ${flags} ${Buffer.concat(data).toString('hex')}`),
  };
  return { sink, log };
}

function padded(type: number, flags: number, id: number, body: Buffer, pad: number): Buffer {
  return frame(type, flags | Flag.PADDED, id, Buffer.concat([Buffer.from([pad]), body, Buffer.alloc(pad, 0)]));
}

describe('FrameParser', () => {
  const stream = Buffer.concat([
    frame(FrameType.SETTINGS, 0, 0, Buffer.from('000400010000', 'hex')),
    frame(FrameType.SETTINGS, Flag.ACK, 0),
    frame(FrameType.HEADERS, Flag.END_HEADERS, 1, Buffer.from('88', 'hex')),
    frame(FrameType.DATA, 0, 1, Buffer.from('hello world')),
    padded(FrameType.DATA, 0, 1, Buffer.from('padded'), 5),
    padded(FrameType.DATA, Flag.END_STREAM, 3, Buffer.alloc(0), 3),
    frame(FrameType.DATA, Flag.END_STREAM, 1),
    frame(0xfa, 0x3, 0, Buffer.from('unknown type')),
    frame(FrameType.PING, 0, 0, Buffer.from('01234567')),
  ]);

  it('reports the same frames whatever the split: at every byte boundary, and one byte at a time', () => {
    const whole = recorder();
    new FrameParser(whole.sink, 16384).push(stream);
    expect(whole.log).toEqual([
      'frame 4 0 0 000400010000',
      'frame 4 1 0 ',
      'frame 1 4 1 88',
      `data-start 1 0 11`,
      `data-end 1 0 ${Buffer.from('hello world').toString('hex')}`,
      `data-start 1 8 12`,
      `data-end 1 8 ${Buffer.from('padded').toString('hex')}`,
      'data-start 3 9 4',
      'data-end 3 9 ',
      'data-start 1 1 0',
      'data-end 1 1 ',
      `frame 250 3 0 ${Buffer.from('unknown type').toString('hex')}`,
      `frame 6 0 0 ${Buffer.from('01234567').toString('hex')}`,
    ]);
    for (let cut = 1; cut < stream.length; cut++) {
      const r = recorder();
      const p = new FrameParser(r.sink, 16384);
      p.push(stream.subarray(0, cut));
      p.push(stream.subarray(cut));
      expect(r.log).toEqual(whole.log);
    }
    const bytewise = recorder();
    const p = new FrameParser(bytewise.sink, 16384);
    for (let i = 0; i < stream.length; i++) p.push(stream.subarray(i, i + 1));
    expect(bytewise.log).toEqual(whole.log);
  });

  it('refuses a frame longer than the MAX_FRAME_SIZE we announced (FRAME_SIZE_ERROR), and padding longer than its frame', () => {
    const r = recorder();
    const big = frame(FrameType.HEADERS, 0, 1, Buffer.alloc(16385));
    let err: unknown;
    try {
      new FrameParser(r.sink, 16384).push(big.subarray(0, 9));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConnectionError);
    expect(err).toMatchObject({ h2Code: 0x6 });
    const badPad = frame(FrameType.DATA, Flag.PADDED, 1, Buffer.from([10, 1, 2]));
    expect(() => new FrameParser(r.sink, 16384).push(badPad)).toThrow(/padding/);
  });
});
