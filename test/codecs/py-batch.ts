/** Runs many values through one Python process of the test venv: length-prefixed frames on stdin and stdout. */
import { runPython } from '../helpers/python';

const FRAMES = `
import sys, struct
def _read_frames():
    data = sys.stdin.buffer.read()
    out, i = [], 0
    while i < len(data):
        (n,) = struct.unpack_from('<I', data, i); i += 4
        out.append(data[i:i + n]); i += n
    return out
def _write_frames(items):
    w = sys.stdout.buffer
    for b in items:
        w.write(struct.pack('<I', len(b))); w.write(b)
    w.flush()
`;

function frame(items: Uint8Array[]): Buffer {
  const parts: Buffer[] = [];
  for (const item of items) {
    const len = Buffer.alloc(4);
    len.writeUInt32LE(item.length);
    parts.push(len, Buffer.from(item));
  }
  return Buffer.concat(parts);
}

function unframe(data: Buffer): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < data.length; ) {
    const n = data.readUInt32LE(i);
    out.push(data.subarray(i + 4, i + 4 + n));
    i += 4 + n;
  }
  return out;
}

/** Applies `def f(data: bytes) -> bytes` (defined in `code`) to each input in one Python process. */
export function pythonMap(code: string, inputs: Uint8Array[]): Buffer[] {
  const script = `${FRAMES}\n${code}\n_write_frames([f(x) for x in _read_frames()])\n`;
  return unframe(runPython(script, frame(inputs)));
}

/** Runs `code`, which must set `outputs` to a list of bytes; answers them. */
export function pythonOutputs(code: string): Buffer[] {
  return unframe(runPython(`${FRAMES}\n${code}\n_write_frames(outputs)\n`));
}
