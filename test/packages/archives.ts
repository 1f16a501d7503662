/**
 * Archives built by the tests: raw tar headers (so that hostile entries can be
 * written exactly), real packages packed with node-tar / yazl, and compression
 * with node:zlib and the system's bzip2 and xz.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import * as tar from 'tar';
import yazl from 'yazl';

export interface RawEntry {
  name: string;
  /** Tar type flag: '0' file, '1' hard link, '2' symlink, '3' char device, '4' block device, '5' dir, '6' FIFO, 'x' PAX. */
  type?: string;
  data?: Buffer | string;
  linkname?: string;
  mode?: number;
  /** Raw 12-byte size field (e.g. base-256); the data is written as given. */
  sizeField?: Buffer;
  /** Raw 100-byte name field, overriding `name`. */
  nameField?: Buffer;
}

function field(buf: Buffer, off: number, len: number, value: string | Buffer): void {
  const b = typeof value === 'string' ? Buffer.from(value, 'utf8') : value;
  b.copy(buf, off, 0, Math.min(len, b.length));
}

const octal = (n: number, width: number): string => n.toString(8).padStart(width - 1, '0') + '\0';

export function tarHeader(e: RawEntry, size: number): Buffer {
  const h = Buffer.alloc(512);
  field(h, 0, 100, e.nameField ?? e.name);
  field(h, 100, 8, octal(e.mode ?? (e.type === '5' ? 0o755 : 0o644), 8));
  field(h, 108, 8, octal(0, 8));
  field(h, 116, 8, octal(0, 8));
  field(h, 124, 12, e.sizeField ?? octal(size, 12));
  field(h, 136, 12, octal(Math.floor(Date.now() / 1000), 12));
  field(h, 156, 1, e.type ?? '0');
  field(h, 157, 100, e.linkname ?? '');
  field(h, 257, 8, 'ustar\u000000');
  h.fill(0x20, 148, 156);
  let sum = 0;
  for (const b of h) sum += b;
  field(h, 148, 8, sum.toString(8).padStart(6, '0') + '\0 ');
  return h;
}

/** A PAX extended header entry carrying `records` for the next entry. */
export function pax(records: Record<string, string>): RawEntry {
  let body = '';
  for (const [k, v] of Object.entries(records)) {
    const rest = ` ${k}=${v}\n`;
    let len = Buffer.byteLength(rest) + 1;
    while (String(len).length + Buffer.byteLength(rest) !== len) len++;
    body += `${len}${rest}`;
  }
  return { name: 'PaxHeader', type: 'x', data: body };
}

export function rawTar(entries: RawEntry[]): Buffer {
  const parts: Buffer[] = [];
  for (const e of entries) {
    const data = e.data === undefined ? Buffer.alloc(0) : Buffer.from(e.data);
    parts.push(tarHeader(e, data.length), data, Buffer.alloc((512 - (data.length % 512)) % 512));
  }
  parts.push(Buffer.alloc(1024));
  return Buffer.concat(parts);
}

/** Writes a package directory: package.json, index.js exporting add(), an executable script. */
export function writePackage(dir: string, opts: { name?: string; marker?: string; deps?: Record<string, string>; extra?: Record<string, unknown> } = {}): void {
  fs.mkdirSync(path.join(dir, 'bin'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: opts.name ?? 'demo', version: '1.0.0', main: 'index.js', dependencies: opts.deps, ...opts.extra }));
  fs.writeFileSync(path.join(dir, 'index.js'), `exports.add = (a, b) => a + b;\nexports.marker = ${JSON.stringify(opts.marker ?? 'demo')};\n`);
  fs.writeFileSync(path.join(dir, 'bin', 'run.sh'), '#!/bin/sh\necho hi\n', { mode: 0o755 });
}

/** Packs `cwd/<top>` as a tar file (plain). */
export function packTar(cwd: string, top: string, dest: string): void {
  tar.c({ cwd, file: dest, sync: true, portable: true }, [top]);
}

export function gzipFile(src: string, dest: string): void {
  fs.writeFileSync(dest, zlib.gzipSync(fs.readFileSync(src)));
}

/** Compresses with the system's `bzip2` or `xz` (both in Debian's base images used here). */
export function compressWith(tool: 'bzip2' | 'xz', src: string, dest: string): void {
  fs.writeFileSync(dest, execFileSync(tool, ['-c', '-k', src], { maxBuffer: 1 << 30 }));
}

/** Zips a directory tree with yazl, keeping Unix modes. */
export async function zipDir(root: string, dest: string, prefix = ''): Promise<void> {
  const zip = new yazl.ZipFile();
  const walk = (dir: string, rel: string): void => {
    for (const d of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, d.name);
      const r = rel ? `${rel}/${d.name}` : d.name;
      if (d.isDirectory()) {
        zip.addEmptyDirectory(r);
        walk(p, r);
      } else {
        zip.addFile(p, r, { mode: fs.statSync(p).mode });
      }
    }
  };
  walk(root, prefix);
  await finishZip(zip, dest);
}

export function finishZip(zip: yazl.ZipFile, dest: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const out = fs.createWriteStream(dest);
    zip.outputStream.pipe(out).on('close', resolve).on('error', reject);
    zip.end();
  });
}

/** Offsets of the central directory records of a zip. */
export function centralRecords(buf: Buffer): number[] {
  const out: number[] = [];
  for (let i = buf.indexOf('PK\u0001\u0002', 0, 'latin1'); i >= 0; i = buf.indexOf('PK\u0001\u0002', i + 4, 'latin1')) out.push(i);
  return out;
}

/** Offsets of the local file headers of a zip. */
export function localRecords(buf: Buffer): number[] {
  const out: number[] = [];
  for (let i = buf.indexOf('PK\u0003\u0004', 0, 'latin1'); i >= 0; i = buf.indexOf('PK\u0003\u0004', i + 4, 'latin1')) out.push(i);
  return out;
}

/** Replaces every occurrence of a name (same byte length) in a zip: local and central headers alike. */
export function patchName(buf: Buffer, from: string, to: string): Buffer {
  const a = Buffer.from(from, 'latin1');
  const b = Buffer.from(to, 'latin1');
  if (a.length !== b.length) throw new Error('patchName needs names of equal length');
  const out = Buffer.from(buf);
  for (let i = out.indexOf(a); i >= 0; i = out.indexOf(a, i + 1)) b.copy(out, i);
  return out;
}

/** Streams `size` zero bytes as one tar entry, compressed by `compress` into `dest`. */
export async function zeroBombTar(dest: string, size: number, compress: 'gzip' | 'bzip2' | 'xz' | 'none'): Promise<void> {
  const plain = `${dest}.plain.tar`;
  const fd = fs.openSync(plain, 'w');
  fs.writeSync(fd, tarHeader({ name: 'zeros.bin' }, size));
  const chunk = Buffer.alloc(1 << 20);
  for (let left = size; left > 0; left -= chunk.length) fs.writeSync(fd, chunk, 0, Math.min(left, chunk.length));
  fs.writeSync(fd, Buffer.alloc(1024 + ((512 - (size % 512)) % 512)));
  fs.closeSync(fd);
  if (compress === 'none') fs.renameSync(plain, dest);
  else {
    const out = fs.openSync(dest, 'w');
    try {
      execFileSync(compress, ['-c', '-9', plain], { stdio: ['ignore', out, 'inherit'] });
    } finally {
      fs.closeSync(out);
    }
    fs.rmSync(plain);
  }
}

/** The tar-based formats, each made from a plain tar file (src) into dest. */
export const TAR_FORMATS: Array<[string, (src: string, dest: string) => void | Promise<void>]> = [
  ['pkg.tar.gz', gzipFile],
  ['pkg.tgz', gzipFile],
  ['pkg.tar.bz2', (s, d) => compressWith('bzip2', s, d)],
  ['pkg.tbz2', (s, d) => compressWith('bzip2', s, d)],
  ['pkg.tar.xz', (s, d) => compressWith('xz', s, d)],
  ['pkg.txz', (s, d) => compressWith('xz', s, d)],
  ['pkg.tar', (s, d) => fs.copyFileSync(s, d)],
];
