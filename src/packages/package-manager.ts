/**
 * Fetch → extract → install, with extracted trees shared by content hash
 * between sessions and between the flmrun-js processes of one working
 * directory (every executor of an application shares it, docs/protocol.md §1).
 *
 * Layout below workDir (docs/protocol.md §6):
 * - `extracted_<archive name up to its first dot>/` is one extracted, installed
 *   tree; when that name is taken by a tree of other content, the tree goes to
 *   `extracted_<name>-<first 12 hex digits of its sha256>/`. Its marker file
 *   `.flmrun-sha256` (JSON: sha256, url, package root, dependency key) is
 *   written before the tree is renamed into place, so a directory with a
 *   marker is complete, and only directories with our marker are ever removed.
 * - `.flmrun-users-<sha256>/<pid>-<start>.<manager>`: one file per process (package manager) using that
 *   tree. A tree is removed when its last live user releases it (unless
 *   keepExtracted); users that died are pruned by whoever looks next.
 * - `.flmrun-deps-<key>/`: installed dependencies shared by trees (deps-store.ts).
 * - `.flmrun-lock-<name>`: cross-process locks (workdir-lock.ts). Finding,
 *   building, using and removing the tree of one content happen under its lock,
 *   so sessions entering the same package at once extract it once, and a tree
 *   is never removed while a process uses it.
 * - `.flmrun-tmp-<pid>-<start>-*`: this process's downloads, staging trees and
 *   trees being removed; at start only those of processes that are gone are cleared.
 *
 * Identity is the archive's sha256, never its URL or name. Content entered
 * again while its tree exists is not extracted again (`reused: true`, logged
 * as "package reused").
 */
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { describeThrown, ErrorCode, FlmError } from '../errors';
import type { Logger } from '../log';
import { safeUrl } from '../redact';
import { detectKind, extractedDirName } from './archive-kind';
import { DepsStore } from './deps-store';
import { MARKER_FILE } from './entry-rules';
import { extractArchive, packageRootOf } from './extract';
import { fetchPackage, parsePackageUrl, sha256Handle, type Fetched } from './fetch';
import { FileHashCache } from './file-hash-cache';
import { installDependencies, readManifest } from './npm-install';
import { resolvePackageOptions, type PackageOptions, type ResolvedPackageOptions } from './options';
import { errnoOf } from '../util/errno';
import { isAlive } from './owner';
import { addUser, liveUsers, removeUser } from './users';
import { LOCK_PREFIX, WorkDirLocks } from './workdir-lock';
import { DEPS_PREFIX, makeOwnTempDir, removeShared, tempOwner, TMP_PREFIX, TREE_PREFIX, TREE_USERS_PREFIX } from './workdir-names';

export interface InstalledPackage {
  /** The package root: the directory holding package.json. */
  root: string;
  /** The archive's sha256; undefined for a directory used in place. */
  sha256?: string;
  /** True when an existing tree was used and nothing was extracted. */
  reused: boolean;
  /** True when npm ran to install this package's dependencies. */
  npmRan: boolean;
  /** Gives up this install's reference; idempotent. */
  release(): Promise<void>;
}

/** A tree this process uses; `refs` are its sessions' references. */
interface Tree { sha256: string; dir: string; root: string; refs: Set<string> }
interface Marker { sha256: string; url: string; root: string; deps?: string }

export class PackageManager {
  private readonly o: ResolvedPackageOptions;
  private readonly log: Logger;
  private readonly locks: WorkDirLocks;
  private readonly deps: DepsStore;
  private readonly trees = new Map<string, Tree>();
  /** A file:// archive entered again unchanged is not hashed again. */
  private readonly hashes = new FileHashCache(sha256Handle);
  /** Tells this manager's users files from another manager's in the same process. */
  private readonly user = randomBytes(4).toString('hex');
  private readonly inFlight = new Set<Promise<unknown>>();
  private caPem: Buffer | undefined;
  private caLoaded = false;
  private nextRef = 0;
  private closed = false;

  constructor(opts: PackageOptions) {
    this.o = resolvePackageOptions(opts);
    this.log = this.o.logger;
    this.locks = new WorkDirLocks(this.o.workDir, this.log);
    this.deps = new DepsStore(this.o.workDir, this.locks, this.o, this.log, this.user);
  }

  /** `signal`: the caller of session enter gave up; a download in progress is aborted. */
  async install(url: string, sessionId: string, opts: { signal?: AbortSignal } = {}): Promise<InstalledPackage> {
    if (this.closed) throw new FlmError(ErrorCode.Unavailable, 'the package manager is closed');
    const work = this.installNow(url, sessionId, opts.signal);
    this.inFlight.add(work);
    try {
      return await work;
    } finally {
      this.inFlight.delete(work);
    }
  }

  private async installNow(url: string, sessionId: string, signal: AbortSignal | undefined): Promise<InstalledPackage> {
    const parsed = parsePackageUrl(url);
    const where = `package ${safeUrl(parsed.url)}`;
    await fs.mkdir(this.o.workDir, { recursive: true });
    const tmp = await makeOwnTempDir(this.o.workDir, 'dl');
    try {
      const fetched = await fetchPackage(parsed, tmp, this.o, () => this.ca(), signal, this.hashes);
      if (signal?.aborted) throw new FlmError(ErrorCode.Unavailable, `${where}: abandoned: the caller of session enter gave up`);
      if (fetched.type === 'dir') return await this.useDirectory(fetched.dir, where);
      const token = `${sessionId}#${this.nextRef++}`;
      const { tree, reused, npmRan } = await this.locks.with(fetched.sha256, async () => {
        const held = this.trees.get(fetched.sha256);
        if (held && held.refs.size > 0) {
          held.refs.add(token);
          return { tree: held, reused: true, npmRan: false };
        }
        const found = await this.findTree(fetched.sha256);
        const r = found
          ? { dir: found.dir, marker: found.marker, reused: true, npmRan: await this.relink(found.dir, found.marker, where) }
          : { ...(await this.build(fetched, tmp, where, parsed.url)), reused: false };
        await addUser(usersDir(this.o.workDir, fetched.sha256), this.user);
        const t: Tree = { sha256: fetched.sha256, dir: r.dir, root: path.join(r.dir, r.marker.root), refs: new Set([token]) };
        this.trees.set(t.sha256, t);
        return { tree: t, reused: r.reused, npmRan: r.npmRan };
      });
      if (reused) this.log.info({ sessionId, sha256: tree.sha256, root: tree.root, reused }, 'package reused: already extracted');
      return this.handle(tree, token, sessionId, reused, npmRan);
    } finally {
      await fs.rm(tmp, { recursive: true, force: true });
    }
  }

  /**
   * An application registered without a url runs the package in the working
   * directory (a legitimate deployment). When there is none, say so at session
   * enter (code 2) instead of failing later with a module-resolution error
   * that Flame retries forever.
   */
  async requireWorkDirPackage(appName: string): Promise<void> {
    const names = await fs.readdir(this.o.workDir).catch((): string[] => []);
    if (names.some((n) => n === 'package.json' || /\.(?:[cm]?js|[cm]?ts)$/.test(n))) return;
    // A fixed summary and fields: this is what the executor's log shows at info (Flame does not pass the message on).
    throw new FlmError(
      ErrorCode.InvalidInput,
      `application "${appName}" has no url, and its working directory ${this.o.workDir} holds no package ` +
        '(no package.json, no .js or .ts file): register the application with the url of its package ' +
        '(`flmrun-js upload <dir>` prints a grpc:// url for it; file:// and https:// urls work too), ' +
        "or put the package into the application's working_directory",
      {
        operation: 'session enter',
        summary: 'the application has no url and its working directory holds no package: register it with a url, or put the package there',
        fields: { app: appName, workDir: this.o.workDir },
      },
    );
  }

  /**
   * At start: clears temporary files of processes that are gone, and trees and
   * dependency stores that no live process uses (unless keepExtracted). What
   * belongs to a live process, and anything without our marker, is left alone.
   */
  async cleanupStale(): Promise<void> {
    let names: string[];
    try {
      names = await fs.readdir(this.o.workDir);
    } catch {
      return;
    }
    for (const name of names) {
      const p = path.join(this.o.workDir, name);
      try {
        if (name.startsWith(TMP_PREFIX)) {
          const owner = tempOwner(name);
          if (owner && isAlive(owner)) continue;
          this.log.info({ dir: p }, 'removing a stale temporary directory of a process that is gone');
          await fs.rm(p, { recursive: true, force: true });
        } else if (name.startsWith(TREE_PREFIX)) {
          const marker = await readMarker(p);
          if (marker) await this.sweepTree(marker.sha256);
        } else if (name.startsWith(DEPS_PREFIX)) {
          await this.deps.sweep(name.slice(DEPS_PREFIX.length));
        } else if (name.startsWith(TREE_USERS_PREFIX)) {
          const sha = name.slice(TREE_USERS_PREFIX.length);
          if (/^[0-9a-f]{64}$/.test(sha)) await this.sweepTree(sha);
        } else if (name.startsWith(LOCK_PREFIX)) {
          await this.locks.sweep(name.slice(LOCK_PREFIX.length));
        }
      } catch (err) {
        // Another process may be removing the same thing: never fatal.
        this.log.debug({ err, dir: p }, 'stale cleanup skipped an entry');
      }
    }
  }

  /** Waits for installs in flight, then gives up every tree and dependency store this process uses. Idempotent. */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.allSettled([...this.inFlight]);
    const trees = [...this.trees.values()];
    for (const t of trees) {
      t.refs.clear();
      await this.settle(t).catch((err: unknown) => this.log.warn({ err, dir: t.dir }, 'releasing an extracted package failed'));
    }
    await this.deps.close();
  }

  private handle(tree: Tree, token: string, sessionId: string, reused: boolean, npmRan: boolean): InstalledPackage {
    let released = false;
    return {
      root: tree.root,
      sha256: tree.sha256,
      reused,
      npmRan,
      release: async () => {
        if (released) return;
        released = true;
        tree.refs.delete(token);
        if (tree.refs.size > 0) return;
        this.log.debug({ sessionId, dir: tree.dir }, 'last session of this process using the package left');
        await this.settle(tree);
      },
    };
  }

  /** This process stops using `tree` (when no session of it does); the tree goes when no live process uses it. */
  private async settle(tree: Tree): Promise<void> {
    await this.locks.with(tree.sha256, async () => {
      if (tree.refs.size > 0 || this.trees.get(tree.sha256) !== tree) return; // entered again meanwhile
      this.trees.delete(tree.sha256);
      const users = usersDir(this.o.workDir, tree.sha256);
      await removeUser(users, this.user);
      if (this.o.keepExtracted || (await liveUsers(users)) > 0) return;
      this.log.info({ dir: tree.dir }, 'removing the extracted package: no process uses it');
      await removeShared(tree.dir, this.o.workDir);
      await fs.rm(users, { recursive: true, force: true });
    });
  }

  /** At start: a tree (or a users directory without a tree) that no live process uses goes. */
  private async sweepTree(sha256: string): Promise<void> {
    await this.locks.with(sha256, async () => {
      if (this.trees.has(sha256)) return;
      const users = usersDir(this.o.workDir, sha256);
      if ((await liveUsers(users)) > 0) return;
      const found = await this.findTree(sha256);
      if (found && this.o.keepExtracted) return;
      if (found) {
        this.log.info({ dir: found.dir }, 'removing an extracted package no live process uses');
        await removeShared(found.dir, this.o.workDir);
      }
      await fs.rm(users, { recursive: true, force: true });
    });
  }

  /** The complete tree of this content in workDir, by marker (whatever the archive was called). */
  private async findTree(sha256: string): Promise<{ dir: string; marker: Marker } | undefined> {
    const names = await fs.readdir(this.o.workDir);
    for (const name of names) {
      if (!name.startsWith(TREE_PREFIX)) continue;
      const dir = path.join(this.o.workDir, name);
      const marker = await readMarker(dir);
      if (marker?.sha256 === sha256) return { dir, marker };
    }
    return undefined;
  }

  /** A tree found on disk: its dependency link checked (another process's store may be gone); true when npm ran. */
  private async relink(dir: string, marker: Marker, where: string): Promise<boolean> {
    if (!marker.deps) return false;
    const root = path.join(dir, marker.root);
    return (await this.deps.provide(root, await readManifest(root, where), where, marker.deps)).ran;
  }

  private async build(fetched: Extract<Fetched, { type: 'file' }>, tmp: string, where: string, url: URL): Promise<{ dir: string; marker: Marker; npmRan: boolean }> {
    const kind = await detectKind(fetched.file, fetched.name, safeUrl(url), fetched.contentType);
    const staging = await makeOwnTempDir(this.o.workDir, 'stage');
    try {
      const t0 = Date.now();
      await extractArchive(fetched.file, kind, staging, tmp, this.o, where);
      const root = await packageRootOf(staging, new Set());
      const rootRel = path.relative(staging, root);
      const manifest = await readManifest(root, where, rootRel ? `${rootRel}/package.json in the archive` : 'package.json at the top of the archive');
      const deps = await this.deps.provide(root, manifest, where);
      const marker: Marker = { sha256: fetched.sha256, url: safeUrl(url), root: rootRel, deps: deps.key };
      await fs.writeFile(path.join(staging, MARKER_FILE), JSON.stringify(marker));
      const dir = await this.placeTree(staging, extractedDirName(fetched.name), fetched.sha256);
      this.log.info({ sha256: fetched.sha256, kind, root: path.join(dir, rootRel), npmRan: deps.ran, ms: Date.now() - t0 }, 'package extracted');
      return { dir, marker, npmRan: deps.ran };
    } catch (err) {
      // Retries: a refused unpack may still be finishing a write when we get here.
      await fs.rm(staging, { recursive: true, force: true, maxRetries: 5, retryDelay: 50 });
      throw FlmError.from(err, ErrorCode.Internal, undefined);
    }
  }

  /** Renames the finished staging tree to `extracted_<name>`, or `extracted_<name>-<sha12>` when taken. */
  private async placeTree(staging: string, base: string, sha256: string): Promise<string> {
    for (const name of [base, `${base}-${sha256.slice(0, 12)}`]) {
      const dir = path.join(this.o.workDir, name);
      try {
        await fs.rename(staging, dir);
        return dir;
      } catch (err) {
        const code = errnoOf(err);
        if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw err;
      }
    }
    throw new FlmError(ErrorCode.Internal, `cannot place the extracted package: ${base} and its hashed variant exist and are not ours`);
  }

  /** A directory URL is used in place; its dependencies are installed there when missing (once across processes). */
  private async useDirectory(dir: string, where: string): Promise<InstalledPackage> {
    const lockName = `dir-${createHash('sha256').update(dir).digest('hex').slice(0, 32)}`;
    const npmRan = await this.locks.with(lockName, async () => {
      const manifest = await readManifest(dir, where);
      return installDependencies(dir, manifest, this.o, where);
    });
    return { root: dir, reused: false, npmRan, release: async () => undefined };
  }

  private ca(): Buffer | undefined {
    if (!this.caLoaded && this.o.caFile) {
      try {
        this.caPem = readFileSync(this.o.caFile);
      } catch (err) {
        throw new FlmError(ErrorCode.Unavailable, `cannot read the CA file ${this.o.caFile} (FLAME_CA_FILE): ${describeThrown(err)}`, { cause: err });
      }
    }
    this.caLoaded = true;
    return this.caPem;
  }
}

function usersDir(workDir: string, sha256: string): string {
  return path.join(workDir, `${TREE_USERS_PREFIX}${sha256}`);
}

async function readMarker(dir: string): Promise<Marker | undefined> {
  try {
    const m = JSON.parse(await fs.readFile(path.join(dir, MARKER_FILE), 'utf8')) as Partial<Marker>;
    if (typeof m.sha256 === 'string' && typeof m.root === 'string' && !m.root.split(/[\\/]/).includes('..')) return m as Marker;
  } catch {
    // no marker: not ours
  }
  return undefined;
}

