/**
 * One archive into one directory, or nothing: the caller gives a fresh, private
 * staging directory and renames it into place only when this resolves; when it
 * rejects, the directory has been emptied. Tars are extracted in one streaming
 * pass (decompress, check each entry, write it), zips from their central
 * directory (extract-zip.ts). A deadline bounds the whole extraction;
 * afterwards the written tree is checked on disk (no link resolves outside it,
 * nothing but files, directories and links). See docs/extraction.md.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { invalidInput, isFlmError, limitExceeded } from '../errors';
import type { ArchiveKind } from './archive-kind';
import { EntryRules } from './entry-rules';
import { extractTar } from './extract-tar';
import { tarChunks } from './decompress';
import { extractZip } from './extract-zip';
import { RATIO_FLOOR_BYTES, type ResolvedPackageOptions } from './options';

/** Room for tar headers and padding on top of maxExtractBytes of entry data. */
const TAR_OVERHEAD_PER_ENTRY = 1536;

export async function extractArchive(
  file: string, kind: ArchiveKind, destDir: string, tmpDir: string, o: ResolvedPackageOptions, where: string,
): Promise<void> {
  const ac = new AbortController();
  const timer = setTimeout(() => {
    ac.abort(limitExceeded(`${where}: extraction took longer than ${o.extractTimeoutMs} ms (limit extractTimeoutMs)`));
  }, o.extractTimeoutMs);
  timer.unref();
  try {
    if (kind === 'zip') {
      await extractZip(file, destDir, new EntryRules(o, where), { maxRatio: o.maxCompressionRatio, ratioFloorBytes: RATIO_FLOOR_BYTES }, where, ac.signal);
    } else {
      const chunks = tarChunks(file, kind, tmpDir, {
        maxOutputBytes: o.maxExtractBytes + o.maxEntries * TAR_OVERHEAD_PER_ENTRY,
        maxRatio: o.maxCompressionRatio,
        ratioFloorBytes: RATIO_FLOOR_BYTES,
        timeoutMs: o.extractTimeoutMs,
      }, where, ac.signal);
      await extractTar(chunks, destDir, new EntryRules(o, where), where, ac.signal);
    }
    await verifyTree(destDir, where);
  } catch (err) {
    // Nothing half-written stays behind, whoever the caller is (it also deletes the directory itself).
    await emptyDir(destDir);
    if (ac.signal.aborted && !isFlmError(err)) throw ac.signal.reason;
    throw err;
  } finally {
    clearTimeout(timer);
    ac.abort(new Error('extraction finished'));
  }
}

async function emptyDir(dir: string): Promise<void> {
  const names = await fs.readdir(dir).catch(() => []);
  // rm never follows the links it deletes; retries cover a zip entry stream still closing.
  await Promise.all(names.map((n) => fs.rm(path.join(dir, n), { recursive: true, force: true, maxRetries: 5, retryDelay: 50 })));
}

/** Defence in depth: what is on disk now, seen by the file system rather than by the archive's words. */
export async function verifyTree(root: string, where: string): Promise<void> {
  const realRoot = await fs.realpath(root);
  const walk = async (dir: string): Promise<void> => {
    for (const d of await fs.readdir(dir, { withFileTypes: true })) {
      const p = path.join(dir, d.name);
      // Only a message needs the relative name: path.relative for each of the bench archive's 1,503 entries was ~20 ms.
      if (d.isDirectory()) await walk(p);
      else if (d.isSymbolicLink()) {
        const target = await fs.realpath(p).catch(() => undefined);
        if (target !== undefined && target !== realRoot && !target.startsWith(realRoot + path.sep)) {
          throw invalidInput(`${where}: entry "${path.relative(root, p)}" is a link that resolves outside the package`);
        }
      } else if (!d.isFile()) {
        throw invalidInput(`${where}: entry "${path.relative(root, p)}" is neither a file, a directory nor a link`);
      }
    }
  };
  await walk(root);
}

/**
 * The package root inside an extracted tree: its single top-level directory
 * (as `npm pack`'s `package/`), else the tree itself.
 */
export async function packageRootOf(tree: string, ignore: ReadonlySet<string>): Promise<string> {
  const entries = (await fs.readdir(tree, { withFileTypes: true })).filter((d) => !ignore.has(d.name));
  const only = entries[0];
  return entries.length === 1 && only?.isDirectory() ? path.join(tree, only.name) : tree;
}
