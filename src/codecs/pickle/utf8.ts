/**
 * Reading UTF-8 with Python's "surrogatepass" error handler, which is what pickle
 * uses for `str`: a lone surrogate (legal in both Python and JavaScript strings)
 * arrives in its 3-byte form. Hand-written because Node's and TextDecoder's UTF-8
 * replace lone surrogates. (Writing them: writer.ts `encodeSurrogatePass`.)
 */
import { isUtf8 } from 'node:buffer';
import { invalidInput } from '../../errors';

/** Decodes strict UTF-8, accepting encoded surrogates; anything else malformed is an input error. */
export function decodeUtf8(bytes: Buffer, where: string): string {
  if (isUtf8(bytes)) return bytes.toString('utf8');
  const units: number[] = [];
  let text = '';
  let i = 0;
  while (i < bytes.length) {
    const b0 = bytes[i]!;
    let cp: number;
    let n: number;
    if (b0 < 0x80) { cp = b0; n = 1; }
    else if (b0 >= 0xc2 && b0 < 0xe0) { cp = b0 & 0x1f; n = 2; }
    else if (b0 >= 0xe0 && b0 < 0xf0) { cp = b0 & 0x0f; n = 3; }
    else if (b0 >= 0xf0 && b0 < 0xf5) { cp = b0 & 0x07; n = 4; }
    else throw invalidInput(`malformed UTF-8 in ${where} at byte ${i}`);
    if (i + n > bytes.length) throw invalidInput(`truncated UTF-8 in ${where} at byte ${i}`);
    for (let k = 1; k < n; k++) {
      const b = bytes[i + k]!;
      if ((b & 0xc0) !== 0x80) throw invalidInput(`malformed UTF-8 in ${where} at byte ${i + k}`);
      cp = (cp << 6) | (b & 0x3f);
    }
    const min = n === 2 ? 0x80 : n === 3 ? 0x800 : n === 4 ? 0x10000 : 0;
    if (cp < min || cp > 0x10ffff) throw invalidInput(`malformed UTF-8 in ${where} at byte ${i}`);
    if (cp > 0xffff) units.push(0xd800 + ((cp - 0x10000) >> 10), 0xdc00 + ((cp - 0x10000) & 0x3ff));
    else units.push(cp);
    if (units.length >= 8192) { text += String.fromCharCode(...units); units.length = 0; }
    i += n;
  }
  return text + String.fromCharCode(...units);
}
