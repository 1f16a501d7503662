/**
 * Compiled output kept on disk by content hash, so a warm session enter
 * reads it instead of compiling again. Several processes may share one
 * working directory: each entry is written to a temporary file and renamed
 * into place (atomic on one file system), so a reader sees a whole entry or
 * none; two writers of one entry write the same bytes.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { ModuleFormat } from './files';

interface Entry {
  format: ModuleFormat;
  code: string;
}

const FORMATS: readonly ModuleFormat[] = ['module', 'commonjs'];

/** Counts for tests and the benchmark: compiles done vs. entries read from disk. */
export const cacheStats = { compiled: 0, read: 0 };

/** Entries this thread compiled or was handed (by a compile process), by hash. */
const memory = new Map<string, Entry>();

export function entryHash(key: string, source: string): string {
  return crypto.createHash('sha256').update(key).update('\0').update(source).digest('hex');
}

export function remember(hash: string, entry: Entry): void {
  memory.set(hash, entry);
}

export function cachedCompile(cacheDir: string | undefined, key: string, source: string, compile: () => Entry): Entry {
  const hash = entryHash(key, source);
  const known = memory.get(hash);
  if (known) return known;
  const file = cacheDir === undefined ? undefined : path.join(cacheDir, hash.slice(0, 2), `${hash}.js`);
  const hit = file && readEntry(file);
  if (hit) {
    cacheStats.read++;
    memory.set(hash, hit);
    return hit;
  }
  const entry = compile();
  cacheStats.compiled++;
  memory.set(hash, entry);
  if (file) writeEntry(file, entry);
  return entry;
}

// The first line holds the format, the rest is the code.
function readEntry(file: string): Entry | undefined {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
  const nl = text.indexOf('\n');
  const format = text.slice(0, nl) as ModuleFormat;
  return nl > 0 && FORMATS.includes(format) ? { format, code: text.slice(nl + 1) } : undefined;
}

/** Best effort: a directory that cannot be written only means compiling again next time. */
function writeEntry(file: string, entry: Entry): void {
  const tmp = `${file}.${process.pid}.${crypto.randomBytes(6).toString('hex')}.tmp`;
  try {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(tmp, `${entry.format}\n${entry.code}`);
    fs.renameSync(tmp, file);
  } catch {
    fs.rmSync(tmp, { force: true });
  }
}
