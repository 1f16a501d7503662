/**
 * Fetch → extract → install, with extracted trees shared by content hash.
 *
 * Layout below workDir (SPEC 6):
 * - `extracted_<archive name up to its first dot>/` is one extracted, installed
 *   tree; when that name is taken by a tree of other content, the tree goes to
 *   `extracted_<name>-<first 12 hex digits of its sha256>/`. Its marker file
 *   `.flmrun-sha256` (JSON: sha256, url, package root) is written before the
 *   tree is renamed into place, so a directory with a marker is complete, and
 *   only directories with our marker are ever removed.
 * - `.flmrun-tmp-*` are downloads, staging trees and trees being removed;
 *   anything by that name is ours and stale at start.
 *
 * Identity is the archive's sha256, never its URL or name. Every install takes
 * a reference on its tree; the tree is removed when the last reference is
 * released, unless keepExtracted (then it stays, and is found again by hash
 * after a restart). Content entered again while its tree exists is not
 * extracted again (`reused: true`, logged as "package reused").
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { describeThrown, ErrorCode, FlmError } from '../errors';
import type { Logger } from '../log';
import { safeUrl } from '../redact';
import { detectKind, extractedDirName } from './archive-kind';
import { MARKER_FILE } from './entry-rules';
import { extractArchive, packageRootOf } from './extract';
import { fetchPackage, parsePackageUrl, type Fetched } from './fetch';
import { installDependencies, readManifest } from './npm-install';
import { resolvePackageOptions, type PackageOptions, type ResolvedPackageOptions } from './options';

export interface InstalledPackage {
  /** The package root: the directory holding package.json. */
  root: string;
  /** The archive's sha256; undefined for a directory used in place. */
  sha256?: string;
  /** True when an existing tree was used and nothing was extracted. */
  reused: boolean;
  /** Gives up this install's reference; idempotent. */
  release(): Promise<void>;
}

interface Tree { sha256: string; dir: string; root: string; refs: Set<string> }
interface Marker { sha256: string; url: string; root: string }

const TMP_PREFIX = '.flmrun-tmp-';
const TREE_PREFIX = 'extracted_';

export class PackageManager {
  private readonly o: ResolvedPackageOptions;
  private readonly log: Logger;
  private readonly trees = new Map<string, Tree>();
  private readonly building = new Map<string, Promise<Tree>>();
  private readonly dirLocks = new Map<string, Promise<unknown>>();
  private caPem: Buffer | undefined;
  private caLoaded = false;
  private nextRef = 0;
  private closed = false;

  constructor(opts: PackageOptions) {
    this.o = resolvePackageOptions(opts);
    this.log = this.o.logger;
  }

  async install(url: string, sessionId: string): Promise<InstalledPackage> {
    if (this.closed) throw new FlmError(ErrorCode.Unavailable, 'the package manager is closed');
    const parsed = parsePackageUrl(url);
    const where = `package ${safeUrl(parsed.url)}`;
    await fs.mkdir(this.o.workDir, { recursive: true });
    const tmp = await fs.mkdtemp(path.join(this.o.workDir, `${TMP_PREFIX}dl-`));
    try {
      const fetched = await fetchPackage(parsed, tmp, this.o, () => this.ca());
      if (fetched.type === 'dir') return await this.useDirectory(fetched.dir, where);
      let reused = true;
      let tree = this.trees.get(fetched.sha256);
      if (!tree) {
        let pending = this.building.get(fetched.sha256);
        if (!pending) {
          reused = false;
          pending = this.build(fetched, tmp, where, parsed.url).finally(() => this.building.delete(fetched.sha256));
          this.building.set(fetched.sha256, pending);
        }
        tree = await pending;
      }
      return this.take(tree, sessionId, reused);
    } finally {
      await fs.rm(tmp, { recursive: true, force: true });
    }
  }

  /** At start: removes our temporary directories, and our trees unless keepExtracted (then indexes them). */
  async cleanupStale(): Promise<void> {
    let names: string[];
    try {
      names = await fs.readdir(this.o.workDir);
    } catch {
      return;
    }
    for (const name of names) {
      const p = path.join(this.o.workDir, name);
      if (name.startsWith(TMP_PREFIX)) {
        this.log.info({ dir: p }, 'removing a stale temporary directory');
        await fs.rm(p, { recursive: true, force: true });
      } else if (name.startsWith(TREE_PREFIX)) {
        const marker = await readMarker(p);
        if (!marker) continue; // not ours
        if (this.o.keepExtracted && !this.trees.has(marker.sha256)) {
          this.trees.set(marker.sha256, { sha256: marker.sha256, dir: p, root: path.join(p, marker.root), refs: new Set() });
        } else if (!this.o.keepExtracted) {
          this.log.info({ dir: p }, 'removing a stale extracted package');
          await removeTree(p, this.o.workDir);
        }
      }
    }
  }

  /** Waits for builds in flight; without keepExtracted, removes the trees still held. Idempotent. */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.allSettled([...this.building.values()]);
    if (this.o.keepExtracted) return;
    const trees = [...this.trees.values()];
    this.trees.clear();
    await Promise.all(trees.map((t) => removeTree(t.dir, this.o.workDir).catch((err: unknown) => this.log.warn({ err, dir: t.dir }, 'removing an extracted package failed'))));
  }

  private take(tree: Tree, sessionId: string, reused: boolean): InstalledPackage {
    const token = `${sessionId}#${this.nextRef++}`;
    tree.refs.add(token);
    if (reused) this.log.info({ sessionId, sha256: tree.sha256, root: tree.root, reused }, 'package reused: already extracted');
    let released = false;
    return {
      root: tree.root,
      sha256: tree.sha256,
      reused,
      release: async () => {
        if (released) return;
        released = true;
        tree.refs.delete(token);
        if (tree.refs.size > 0 || this.o.keepExtracted || this.trees.get(tree.sha256) !== tree) return;
        this.trees.delete(tree.sha256);
        this.log.info({ sessionId, dir: tree.dir }, 'removing the extracted package');
        await removeTree(tree.dir, this.o.workDir);
      },
    };
  }

  private async build(fetched: Extract<Fetched, { type: 'file' }>, tmp: string, where: string, url: URL): Promise<Tree> {
    const kind = await detectKind(fetched.file, fetched.name, safeUrl(url), fetched.contentType);
    const staging = await fs.mkdtemp(path.join(this.o.workDir, `${TMP_PREFIX}stage-`));
    try {
      const t0 = Date.now();
      await extractArchive(fetched.file, kind, staging, tmp, this.o, where);
      const root = await packageRootOf(staging, new Set());
      const rootRel = path.relative(staging, root);
      const manifest = await readManifest(root, where, rootRel ? `${rootRel}/package.json in the archive` : 'package.json at the top of the archive');
      await installDependencies(root, manifest, this.o, where);
      const marker: Marker = { sha256: fetched.sha256, url: safeUrl(url), root: rootRel };
      await fs.writeFile(path.join(staging, MARKER_FILE), JSON.stringify(marker));
      const dir = await this.placeTree(staging, extractedDirName(fetched.name), fetched.sha256);
      const tree: Tree = { sha256: fetched.sha256, dir, root: path.join(dir, rootRel), refs: new Set() };
      this.trees.set(tree.sha256, tree);
      this.log.info({ sha256: tree.sha256, kind, root: tree.root, ms: Date.now() - t0 }, 'package extracted');
      return tree;
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
        const code = (err as NodeJS.ErrnoException).code;
        if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw err;
      }
    }
    throw new FlmError(ErrorCode.Internal, `cannot place the extracted package: ${base} and its hashed variant exist and are not ours`);
  }

  /** A directory URL is used in place; its dependencies are installed there when missing. */
  private async useDirectory(dir: string, where: string): Promise<InstalledPackage> {
    const prior = this.dirLocks.get(dir) ?? Promise.resolve();
    const work = prior.catch(() => undefined).then(async () => {
      const manifest = await readManifest(dir, where);
      await installDependencies(dir, manifest, this.o, where);
    });
    this.dirLocks.set(dir, work);
    try {
      await work;
    } finally {
      if (this.dirLocks.get(dir) === work) this.dirLocks.delete(dir);
    }
    return { root: dir, reused: false, release: async () => undefined };
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

async function readMarker(dir: string): Promise<Marker | undefined> {
  try {
    const m = JSON.parse(await fs.readFile(path.join(dir, MARKER_FILE), 'utf8')) as Partial<Marker>;
    if (typeof m.sha256 === 'string' && typeof m.root === 'string' && !m.root.split(/[\\/]/).includes('..')) return m as Marker;
  } catch {
    // no marker: not ours
  }
  return undefined;
}

/** Renames first, so that the name is free at once and a new tree can take it while the old one is deleted. */
async function removeTree(dir: string, workDir: string): Promise<void> {
  const trash = path.join(workDir, `${TMP_PREFIX}trash-${randomBytes(6).toString('hex')}`);
  try {
    await fs.rename(dir, trash);
  } catch {
    await fs.rm(dir, { recursive: true, force: true });
    return;
  }
  await fs.rm(trash, { recursive: true, force: true });
}
