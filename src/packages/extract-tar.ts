/**
 * Tar extraction in two passes over the plain tar on disk: a scan that checks
 * every header (raw fields, then our entry rules) and writes nothing, then
 * node-tar's Unpack (7.5.23: every published advisory fixed) behind the same
 * rules. Our rules are stricter than node-tar's, which strips or skips a bad
 * entry with a warning: here it refuses the whole archive, before any write.
 */
import fs from 'node:fs';
import { once } from 'node:events';
import { Parser, Unpack, type ReadEntry } from 'tar';
import { FlmError, invalidInput, isFlmError } from '../errors';
import type { EntryKind, EntryLimits, EntryRules } from './entry-rules';
import { TarHeaderInspector } from './tar-headers';

const KINDS: Record<string, EntryKind> = {
  File: 'file', OldFile: 'file', ContiguousFile: 'file',
  Directory: 'dir', GNUDumpDir: 'dir',
  SymbolicLink: 'symlink', Link: 'hardlink',
  CharacterDevice: 'device', BlockDevice: 'device', FIFO: 'fifo',
};

/** Runs one entry through the rules; undefined when it is the root itself. */
function checkEntry(rules: EntryRules, e: ReadEntry): string | undefined {
  const kind = KINDS[e.type] ?? 'other';
  // node-tar reads an unreadable or negative size as "none".
  const size = kind === 'file' ? e.header.size ?? NaN : e.size ?? 0;
  return rules.check(e.path, kind, size, e.linkpath);
}

/** Pass 1: every entry checked, nothing written. */
export async function scanTar(plain: string, rules: EntryRules, where: string, signal: AbortSignal): Promise<void> {
  let failure: FlmError | undefined;
  const parser = new Parser({
    strict: true,
    filter: (_p: string, entry: unknown): boolean => {
      if (!failure) {
        try {
          checkEntry(rules, entry as ReadEntry);
        } catch (err) {
          failure = FlmError.from(err);
          parser.abort(failure);
        }
      }
      return false;
    },
  });
  const done = settle(parser, 'end', () => failure, where);
  const inspector = new TarHeaderInspector(where);
  try {
    for await (const chunk of fs.createReadStream(plain, { highWaterMark: 64 * 1024, signal })) {
      inspector.write(chunk as Buffer);
      if (failure) throw failure;
      if (!parser.write(chunk as Buffer)) await Promise.race([once(parser, 'drain'), done]);
      if (failure) throw failure;
    }
    parser.end();
    await done;
  } catch (err) {
    if (!failure) parser.abort(err instanceof Error ? err : new Error(String(err)));
    throw failure ?? err;
  }
  rules.finish();
}

/** Pass 2: the checked archive written by node-tar (the rules run again to normalise names and modes). */
export async function unpackTar(plain: string, destDir: string, rules: EntryRules, limits: Pick<EntryLimits, 'maxDepth'>, where: string, signal: AbortSignal): Promise<void> {
  let failure: FlmError | undefined;
  const unpack = new Unpack({
    cwd: destDir,
    strict: true,
    // Root would otherwise restore the archive's uid/gid.
    preserveOwner: false,
    maxDepth: limits.maxDepth,
    filter: (_p: string, entry: unknown): boolean => {
      if (failure) return false;
      const e = entry as ReadEntry;
      try {
        const name = checkEntry(rules, e);
        if (name === undefined) return false;
        e.path = name;
        // Keep the executable bits, drop setuid/setgid/sticky and odd permissions.
        e.mode = e.type === 'Directory' || ((e.mode ?? 0) & 0o111) !== 0 ? 0o755 : 0o644;
        return true;
      } catch (err) {
        failure = FlmError.from(err);
        unpack.abort(failure);
        return false;
      }
    },
  });
  const done = settle(unpack, 'close', () => failure, where);
  try {
    for await (const chunk of fs.createReadStream(plain, { highWaterMark: 64 * 1024, signal })) {
      if (failure) throw failure;
      if (!unpack.write(chunk as Buffer)) await Promise.race([once(unpack, 'drain'), done]);
    }
    unpack.end();
    await done;
  } catch (err) {
    if (!failure) unpack.abort(err instanceof Error ? err : new Error(String(err)));
    throw failure ?? err;
  }
}

function settle(stream: NodeJS.EventEmitter, event: string, failure: () => FlmError | undefined, where: string): Promise<void> {
  const p = new Promise<void>((resolve, reject) => {
    stream.on(event, () => resolve());
    stream.on('error', (err: unknown) => reject(failure() ?? tarError(err, where)));
  });
  p.catch(() => undefined);
  return p;
}

function tarError(err: unknown, where: string): FlmError {
  if (isFlmError(err)) return err;
  const rec = err as { message?: string; tarCode?: string; path?: string; entry?: { path?: string } };
  const entry = rec.entry?.path ?? rec.path;
  const what = rec.tarCode === 'TAR_BAD_ARCHIVE' ? 'not a valid tar archive' : 'invalid tar data';
  return invalidInput(`${where}: ${what}${entry ? ` at entry "${entry}"` : ''} (${rec.message ?? String(err)})`, err);
}
