/**
 * Installed production dependencies, shared by what determines them (docs/protocol.md §6,
 * issue 14.5): the manifest's dependency specs, the lockfile, the Node ABI and
 * platform, and whether install scripts ran. npm runs once per key in a working
 * directory; every tree with the same key gets `node_modules` as a link to the
 * store, in any process, in any later session. A store is kept while a process
 * that used it lives (so a later session of the same process re-enters without
 * npm and without the registry), and removed when its last user is gone unless
 * keepExtracted.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from '../log';
import { declaresProductionDeps, installDependencies, type NpmOptions } from './npm-install';
import { addUser, liveUsers, removeUser } from './users';
import type { WorkDirLocks } from './workdir-lock';
import { DEPS_PREFIX, makeOwnTempDir, removeShared } from './workdir-names';

export interface DepsResult {
  /** The store's key; undefined when the package declares no dependencies or bundles node_modules. */
  key?: string;
  /** True when npm ran for this call. */
  ran: boolean;
}

export class DepsStore {
  private readonly held = new Set<string>();

  constructor(
    private readonly workDir: string,
    private readonly locks: WorkDirLocks,
    private readonly o: NpmOptions & { keepExtracted: boolean },
    private readonly log: Logger,
    private readonly user: string,
  ) {}

  /** Gives `root` its dependencies: a link to the store of its key, npm running only when that store is missing. */
  async provide(root: string, manifest: Record<string, unknown>, where: string, knownKey?: string): Promise<DepsResult> {
    if (!declaresProductionDeps(manifest)) return { ran: false };
    const nm = path.join(root, 'node_modules');
    const st = await fs.lstat(nm).catch(() => undefined);
    if (st && !st.isSymbolicLink()) return { ran: false }; // bundled with the package
    // A placed tree keeps the key it was built with: npm has since written a lockfile into it.
    const key = knownKey ?? (await depsKey(root, manifest, this.o.allowInstallScripts));
    const store = path.join(this.workDir, `${DEPS_PREFIX}${key}`);
    const target = path.join(store, 'node_modules');
    // This process is a user of the store already: nobody removes it, no lock needed.
    const ran = this.held.has(key) && (await exists(target)) ? false : await this.locks.with(`deps-${key}`, async () => {
      let installed = false;
      if (!(await exists(target))) {
        await fs.rm(nm, { force: true });
        await installDependencies(root, manifest, this.o, where);
        const staging = await makeOwnTempDir(this.workDir, 'deps');
        try {
          await fs.rename(nm, path.join(staging, 'node_modules'));
          await fs.rename(staging, store);
        } catch (err) {
          await fs.rm(staging, { recursive: true, force: true });
          throw err;
        }
        installed = true;
      } else {
        this.log.info({ root, key }, 'dependencies reused: already installed for this lockfile and manifest');
      }
      if (!this.held.has(key)) {
        await addUser(path.join(store, 'users'), this.user);
        this.held.add(key);
      }
      return installed;
    });
    const rel = path.relative(root, target);
    if ((await fs.readlink(nm).catch(() => undefined)) !== rel) {
      await fs.rm(nm, { force: true });
      await fs.symlink(rel, nm, 'dir');
    }
    return { key, ran };
  }

  /** Gives up this process's use of its stores; removes those nobody else uses (unless keepExtracted). */
  async close(): Promise<void> {
    for (const key of [...this.held]) {
      this.held.delete(key);
      await this.settle(key, true).catch((err: unknown) => this.log.warn({ err, key }, 'releasing installed dependencies failed'));
    }
  }

  /** At start: removes a store whose users are all gone (unless keepExtracted). */
  async sweep(key: string): Promise<void> {
    await this.settle(key, false);
  }

  private async settle(key: string, leaving: boolean): Promise<void> {
    const store = path.join(this.workDir, `${DEPS_PREFIX}${key}`);
    await this.locks.with(`deps-${key}`, async () => {
      const users = path.join(store, 'users');
      if (leaving) await removeUser(users, this.user);
      if (this.o.keepExtracted || this.held.has(key) || (await liveUsers(users)) > 0) return;
      this.log.info({ dir: store }, 'removing installed dependencies no process uses');
      await removeShared(store, this.workDir);
    });
  }
}

async function depsKey(root: string, manifest: Record<string, unknown>, scripts: boolean): Promise<string> {
  const read = (name: string): Promise<string | null> => fs.readFile(path.join(root, name), 'utf8').catch(() => null);
  const basis = {
    dependencies: manifest.dependencies ?? null,
    optionalDependencies: manifest.optionalDependencies ?? null,
    lock: (await read('npm-shrinkwrap.json')) ?? (await read('package-lock.json')),
    // With scripts on, the package's own install scripts run too.
    scripts: scripts ? (manifest.scripts ?? null) : false,
    abi: process.versions.modules,
    platform: process.platform,
    arch: process.arch,
  };
  return createHash('sha256').update(JSON.stringify(basis)).digest('hex').slice(0, 32);
}

async function exists(p: string): Promise<boolean> {
  return fs.stat(p).then(() => true, () => false);
}
