/**
 * Names in the shared working directory, and removing a shared directory.
 * Temporary files are per process: `.flmrun-tmp-<owner>-<kind>-<random>`, so a
 * process clearing stale temporary files removes only those of processes that
 * are gone, never another live process's download or staging tree.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { errnoOf } from '../util/errno';
import { currentOwner, ownerTag, parseOwnerTag, type Owner } from './owner';

export const TMP_PREFIX = '.flmrun-tmp-';
export const TREE_PREFIX = 'extracted_';
/** `<workDir>/.flmrun-users-<sha256>/`: the processes using the tree of that content. */
export const TREE_USERS_PREFIX = '.flmrun-users-';
/** `<workDir>/.flmrun-deps-<key>/`: installed production dependencies, shared by dependency key. */
export const DEPS_PREFIX = '.flmrun-deps-';

/** A fresh temporary directory of this process below workDir. */
export function makeOwnTempDir(workDir: string, kind: string): Promise<string> {
  return fs.mkdtemp(path.join(workDir, `${TMP_PREFIX}${ownerTag(currentOwner())}-${kind}-`));
}

/** The owner of a temporary name; undefined for names of an older layout (no owner: stale). */
export function tempOwner(name: string): Owner | undefined {
  const m = /^\.flmrun-tmp-(\d+-\d+)-/.exec(name);
  return m ? parseOwnerTag(m[1]!) : undefined;
}

/**
 * Renames first, so that the name is free at once and nobody finds the tree
 * half-deleted; a process killed while deleting leaves a temporary name of its
 * own, which the next start clears.
 */
export async function removeShared(dir: string, workDir: string): Promise<void> {
  const trash = path.join(workDir, `${TMP_PREFIX}${ownerTag(currentOwner())}-trash-${randomBytes(6).toString('hex')}`);
  try {
    await fs.rename(dir, trash);
  } catch (err) {
    if (errnoOf(err) === 'ENOENT') return;
    await fs.rm(dir, { recursive: true, force: true });
    return;
  }
  await fs.rm(trash, { recursive: true, force: true });
}
