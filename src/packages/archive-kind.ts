/**
 * Which archive a file is: by its name (docs/protocol.md §6's list) and always by its first
 * bytes, so that an HTML error page named `.tgz` is refused saying what arrived.
 */
import fs from 'node:fs/promises';
import { invalidInput } from '../errors';

export type ArchiveKind = 'tar.gz' | 'tar.bz2' | 'tar.xz' | 'tar' | 'zip';

const BY_SUFFIX: ReadonlyArray<[string, ArchiveKind]> = [
  ['.tar.gz', 'tar.gz'], ['.tgz', 'tar.gz'],
  ['.tar.bz2', 'tar.bz2'], ['.tbz2', 'tar.bz2'], ['.tbz', 'tar.bz2'],
  ['.tar.xz', 'tar.xz'], ['.txz', 'tar.xz'],
  ['.tar', 'tar'], ['.zip', 'zip'],
];

/** The kind a file name promises, or undefined when the name says nothing we know. */
export function kindFromName(name: string): ArchiveKind | undefined {
  const lower = name.toLowerCase();
  return BY_SUFFIX.find(([suffix]) => lower.endsWith(suffix))?.[1];
}

/** `extracted_<name up to its first dot>` (docs/protocol.md §6), reduced to characters safe in a directory name. */
export function extractedDirName(archiveName: string): string {
  const stem = archiveName.split('.')[0] ?? '';
  const safe = stem.replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 64);
  return `extracted_${safe || 'package'}`;
}

/** What the first bytes are, as an archive kind (undefined when none). */
export function sniff(head: Buffer): ArchiveKind | undefined {
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) return 'tar.gz';
  if (head.length >= 3 && head.subarray(0, 3).toString('latin1') === 'BZh') return 'tar.bz2';
  if (head.length >= 6 && head.subarray(0, 6).equals(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]))) return 'tar.xz';
  if (head.length >= 4 && head[0] === 0x50 && head[1] === 0x4b && (head[2] === 3 || head[2] === 5) && head[3] === head[2] + 1) {
    return 'zip';
  }
  if (isTarHeader(head)) return 'tar';
  return undefined;
}

/** A tar header: `ustar` magic, or a pre-POSIX header whose checksum adds up. */
function isTarHeader(head: Buffer): boolean {
  if (head.length < 512) return false;
  if (head.subarray(257, 262).toString('latin1') === 'ustar') return true;
  const stored = parseInt(head.subarray(148, 156).toString('latin1').replace(/\0.*$/s, '').trim(), 8);
  if (!Number.isFinite(stored) || head[0] === 0) return false;
  let sum = 0;
  for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 0x20 : head[i]!;
  return sum === stored;
}

/** Words for what a file looks like when it is not an archive, for error messages. */
export function describeContent(head: Buffer, contentType?: string): string {
  const type = contentType ? ` (${contentType.split(';')[0]!.trim()})` : '';
  if (head.length === 0) return `an empty file${type}`;
  const text = head.subarray(0, 512).toString('utf8').replace(/^\uFEFF/, '').trimStart().toLowerCase();
  if (text.startsWith('<!doctype html') || text.startsWith('<html') || /^<(head|body|title)\b/.test(text)) {
    return `an HTML page${type || ' (text/html)'}`;
  }
  if (text.startsWith('<?xml') || text.startsWith('<')) return `an XML/HTML document${type}`;
  if (text.startsWith('{') || text.startsWith('[')) return `JSON or other text${type}`;
  const kind = sniff(head);
  if (kind) return `a ${kind} archive${type}`;
  const printable = [...head.subarray(0, 256)].every((b) => b === 9 || b === 10 || b === 13 || (b >= 0x20 && b < 0x7f) || b >= 0x80);
  return printable ? `text${type}` : `unrecognised binary data${type} starting ${head.subarray(0, 8).toString('hex')}`;
}

export async function readHead(file: string, bytes = 512): Promise<Buffer> {
  const fh = await fs.open(file, 'r');
  try {
    const buf = Buffer.alloc(bytes);
    const { bytesRead } = await fh.read(buf, 0, bytes, 0);
    return buf.subarray(0, bytesRead);
  } finally {
    await fh.close();
  }
}

/**
 * The kind of an archive file: its first bytes must be what its name promises;
 * a name we do not know is judged by its first bytes alone.
 */
export async function detectKind(file: string, name: string, url: string, contentType?: string): Promise<ArchiveKind> {
  const head = await readHead(file);
  const byName = kindFromName(name);
  const sniffed = sniff(head);
  if (byName && sniffed === byName) return byName;
  if (!byName && sniffed) return sniffed;
  const promised = byName ? `a ${byName} archive ("${name}")` : 'an archive (.tar.gz .tgz .tar.bz2 .tbz2 .tar.xz .txz .tar .zip)';
  throw invalidInput(`package ${url}: expected ${promised} but got ${describeContent(head, contentType)}`);
}
