/**
 * The rules every archive entry must pass before anything is written (docs/protocol.md §6),
 * shared by the tar and zip extractors. They are stricter than node-tar's own
 * (which strips or skips bad entries with a warning): here a bad entry refuses
 * the whole archive with a message naming it. Written by hand because no
 * library enforces this policy (duplicate detection across case and Unicode
 * forms, links resolved through earlier links).
 */
import { FlmError, invalidInput, limitExceeded } from '../errors';

export type EntryKind = 'file' | 'dir' | 'symlink' | 'hardlink' | 'device' | 'fifo' | 'other';

export interface EntryLimits {
  maxEntries: number;
  maxEntryBytes: number;
  maxExtractBytes: number;
  maxDepth: number;
}

/** Our marker file at the top of an extracted tree; an archive may not bring its own. */
export const MARKER_FILE = '.flmrun-sha256';

const MAX_PATH_BYTES = 4096;
const MAX_COMPONENT_BYTES = 255;
const MAX_LINK_HOPS = 40;

interface Seen { kind: 'file' | 'dir' | 'implicit-dir' | 'symlink'; name: string; target?: string }

const ASCII_ONLY = /^[\u0000-\u007f]*$/;

/**
 * A key under which names that one file system or another treats as the same
 * collide: Unicode compatibility forms (NFKC) and case, with full case folding
 * (`ß` and `ss`, as on APFS).
 */
export function collisionKey(name: string): string {
  // ASCII is its own NFKC form and folds by lowercasing: the common case skips two normalisations.
  if (ASCII_ONLY.test(name)) return name.toLowerCase();
  return name.normalize('NFKC').toUpperCase().toLowerCase().normalize('NFKC');
}

export class EntryRules {
  private readonly seen = new Map<string, Seen>();
  private entries = 0;
  private totalBytes = 0;

  /** `where` starts every message, e.g. `package https://host/pkg.tgz`. */
  constructor(private readonly limits: EntryLimits, private readonly where: string) {}

  /**
   * Checks one entry and returns its normalised relative path (`/`-separated),
   * or undefined for the archive's root directory itself (`./`), which is skipped.
   */
  check(rawName: string, kind: EntryKind, size: number, linkTarget?: string): string | undefined {
    const fail = (why: string): FlmError => invalidInput(`${this.where}: entry "${printable(rawName)}" ${why}`);
    if (++this.entries > this.limits.maxEntries) {
      throw limitExceeded(`${this.where}: more than ${this.limits.maxEntries} entries (limit maxEntries)`);
    }
    const parts = this.splitPath(rawName, fail);
    if (parts.length === 0) {
      if (kind === 'dir') return undefined;
      throw fail('has an empty name');
    }
    if (parts.length > this.limits.maxDepth) {
      throw limitExceeded(`${this.where}: entry "${printable(rawName)}" is nested ${parts.length} levels deep (limit maxDepth ${this.limits.maxDepth})`);
    }
    if (parts.length === 1 && parts[0] === MARKER_FILE) throw fail(`uses the name ${MARKER_FILE}, reserved by flmrun-js`);

    switch (kind) {
      case 'file': case 'dir': case 'symlink': break;
      case 'hardlink': throw fail(`is a hard link${linkTarget ? ` to "${printable(linkTarget)}"` : ''}: hard links are not allowed`);
      case 'device': throw fail('is a device file: device entries are not allowed');
      case 'fifo': throw fail('is a FIFO: FIFO entries are not allowed');
      default: throw fail('has an unsupported entry type');
    }
    if (!Number.isSafeInteger(size) || size < 0) throw fail(`declares an invalid size (${String(size)})`);
    if (size > this.limits.maxEntryBytes) {
      throw limitExceeded(`${this.where}: entry "${printable(rawName)}" is ${size} bytes (limit maxEntryBytes ${this.limits.maxEntryBytes})`);
    }
    this.totalBytes += size;
    if (this.totalBytes > this.limits.maxExtractBytes) {
      throw limitExceeded(`${this.where}: more than ${this.limits.maxExtractBytes} bytes uncompressed (limit maxExtractBytes), at entry "${printable(rawName)}"`);
    }

    // Parents: never under a file, never through a link planted by an earlier entry.
    for (let i = 1; i < parts.length; i++) {
      const prefix = parts.slice(0, i).join('/');
      const key = collisionKey(prefix);
      const prior = this.seen.get(key);
      if (prior?.kind === 'file') throw fail(`lies under "${prior.name}", which is a file`);
      if (prior?.kind === 'symlink') throw fail(`would be written through the symbolic link "${prior.name}"`);
      if (!prior) this.seen.set(key, { kind: 'implicit-dir', name: prefix });
    }

    const name = parts.join('/');
    const key = collisionKey(name);
    const prior = this.seen.get(key);
    if (prior && !(kind === 'dir' && prior.kind === 'implicit-dir')) {
      throw fail(prior.name === name
        ? 'appears twice in the archive: duplicate entries are not allowed'
        : `collides with "${prior.name}" (same name on case-insensitive or Unicode-normalising file systems)`);
    }
    if (kind === 'symlink') {
      const target = this.checkLinkTarget(parts, linkTarget ?? '', fail);
      this.seen.set(key, { kind, name, target });
    } else {
      this.seen.set(key, { kind, name });
    }
    return name;
  }

  /**
   * After the last entry: every link, resolved through all the others (their
   * order in the archive does not matter), still points inside the target.
   */
  finish(): void {
    for (const s of this.seen.values()) {
      if (s.kind !== 'symlink' || s.target === undefined) continue;
      const parent = s.name.split('/').slice(0, -1);
      if (!this.resolvesInside(parent, s.target)) {
        throw invalidInput(`${this.where}: entry "${printable(s.name)}" is a symbolic link to "${printable(s.target)}", which leads outside the package through other links`);
      }
    }
  }

  private splitPath(raw: string, fail: (why: string) => FlmError): string[] {
    if (/[\u0000-\u001f\u007f]/.test(raw)) throw fail('contains control characters (NUL or others) in its name');
    if (raw.includes('\\')) throw fail('contains a backslash: only "/" separates path components');
    if (raw.startsWith('/')) throw fail('has an absolute path');
    if (/^[A-Za-z]:/.test(raw)) throw fail('has a drive-letter path');
    if (Buffer.byteLength(raw) > MAX_PATH_BYTES) throw fail(`has a name longer than ${MAX_PATH_BYTES} bytes`);
    const parts = raw.split('/').filter((p) => p !== '' && p !== '.');
    for (const p of parts) {
      if (p === '..') throw fail('contains a ".." path component');
      if (Buffer.byteLength(p) > MAX_COMPONENT_BYTES) throw fail(`has a path component longer than ${MAX_COMPONENT_BYTES} bytes`);
    }
    return parts;
  }

  private checkLinkTarget(parts: string[], target: string, fail: (why: string) => FlmError): string {
    const show = `to "${printable(target)}"`;
    if (target === '') throw fail('is a symbolic link with an empty target');
    if (/[\u0000-\u001f\u007f]/.test(target)) throw fail(`is a symbolic link ${show} with control characters in its target`);
    if (target.includes('\\')) throw fail(`is a symbolic link ${show}: backslashes are not allowed in link targets`);
    if (target.startsWith('/') || /^[A-Za-z]:/.test(target)) throw fail(`is a symbolic link ${show}: absolute link targets are not allowed`);
    if (!this.resolvesInside(parts.slice(0, -1), target)) throw fail(`is a symbolic link ${show}, which points outside the package`);
    return target;
  }

  /** Resolves `target` from directory `dir`, following the archive's links; false when it climbs out. */
  private resolvesInside(dir: string[], target: string): boolean {
    const stack = [...dir];
    let queue = target.split('/');
    let hops = 0;
    while (queue.length > 0) {
      const c = queue.shift()!;
      if (c === '' || c === '.') continue;
      if (c === '..') {
        if (stack.length === 0) return false;
        stack.pop();
        continue;
      }
      stack.push(c);
      const link = this.seen.get(collisionKey(stack.join('/')));
      if (link?.kind === 'symlink' && link.target !== undefined) {
        if (++hops > MAX_LINK_HOPS) return false;
        stack.pop();
        queue = [...link.target.split('/'), ...queue];
      }
    }
    return true;
  }
}

/** A name as it can be shown in a message: control characters escaped, long names cut. */
export function printable(name: string): string {
  const escaped = name.replace(/[\u0000-\u001f\u007f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
  return escaped.length > 200 ? `${escaped.slice(0, 200)}…` : escaped;
}
