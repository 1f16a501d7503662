/**
 * The embedded cache's object table: versions, per-key serialization, an
 * in-memory LRU bounded by bytes, and (optionally) disk persistence.
 *
 * Memory limit (`maxMemoryBytes`):
 * - with storage, every write goes to disk first (write-through, as Flame's
 *   reference server does); over the limit the least recently used objects are
 *   dropped from memory only and read back from disk on their next get. An
 *   object larger than the whole limit is served from disk each time.
 * - without storage, memory is the only copy. A put that alone exceeds the
 *   limit is refused (RESOURCE_EXHAUSTED). Otherwise the least recently used
 *   objects are dropped for good, as the reference server does with its
 *   `none` storage: they leave the listing and a get answers NOT_FOUND saying
 *   the object was evicted. Choose a storage directory when results must
 *   outlive memory pressure.
 */
import { randomUUID } from 'node:crypto';
import { ErrorCode, FlmError, limitExceeded, notFound } from '../../errors';
import type { Logger } from '../../log';
import { formatKey, matchesKey, type ObjectKey } from '../../wire/keys';
import type { DiskStorage } from './disk-storage';
import type { PutSpool } from './put-spool';
import { objectSize, type ArrowValue, type Delta, type OpaqueValue, type StoredObject } from './stored-object';

export interface ObjectMeta {
  key: string;
  version: number;
  size: number;
  kind: 'opaque' | 'arrow';
}

const MAX_REMEMBERED_EVICTIONS = 10_000;

export class ObjectTable {
  private readonly meta = new Map<string, ObjectMeta>();
  /** Objects held in memory; Map order is the LRU order (first = least recent). */
  private readonly residentObjects = new Map<string, StoredObject>();
  private residentBytes = 0;
  private readonly locks = new Map<string, Promise<void>>();
  /** Keys dropped without storage, so that a get can say why they are gone. */
  private readonly evicted = new Set<string>();

  constructor(
    private readonly maxMemoryBytes: number,
    private readonly storage: DiskStorage | undefined,
    private readonly logger: Logger,
  ) {}

  get memoryBytes(): number {
    return this.residentBytes;
  }

  /** The storage directory a put streams into, if there is one. */
  get disk(): DiskStorage | undefined {
    return this.storage;
  }

  /**
   * Loads what the storage directory holds (at start), after deleting what
   * interrupted writes left. Unreadable files are skipped with a warning.
   */
  async load(): Promise<number> {
    if (!this.storage) return 0;
    await this.storage.removeLeftovers();
    let count = 0;
    for (const key of await this.storage.listKeys()) {
      try {
        const obj = await this.storage.read(key);
        if (!obj) continue;
        this.record(obj);
        this.keep(obj);
        count++;
      } catch (err) {
        this.logger.warn({ err, key: formatKey(key) }, 'skipping an unreadable stored object');
      }
    }
    return count;
  }

  /** Creates (prefix: new id) or overwrites (full key) an object; its version is the old one plus 1. */
  async put(target: ObjectKey, value: OpaqueValue | ArrowValue): Promise<ObjectMeta> {
    const key = target.id === undefined ? { app: target.app, session: target.session, id: randomUUID() } : (target as Required<ObjectKey>);
    const keyText = formatKey(key);
    return this.putNow(keyText, value) ?? this.withLock(keyText, async () => {
      const version = (this.meta.get(keyText)?.version ?? 0) + 1;
      await this.storage?.writeBase(key, version, value);
      return this.commitBase(keyText, version, value);
    });
  }

  /**
   * put() when it has nothing to wait for (no storage to write, no earlier operation on the key): done at
   * once, without the lock's promises (a good part of a small put's cost in the table); undefined otherwise.
   * Throws when the object cannot be held.
   */
  putAtOnce(target: ObjectKey, value: OpaqueValue | ArrowValue): ObjectMeta | undefined {
    if (this.storage) return undefined;
    const keyText = target.id === undefined ? `${target.app}/${target.session}/${randomUUID()}` : formatKey(target);
    return this.putNow(keyText, value);
  }

  private putNow(keyText: string, value: OpaqueValue | ArrowValue): ObjectMeta | undefined {
    if (this.storage) return undefined;
    if (value.size > this.maxMemoryBytes) {
      throw limitExceeded(
        `object ${keyText} of ${value.size} bytes exceeds the cache memory limit of ${this.maxMemoryBytes} bytes (no storage directory configured)`,
      );
    }
    if (this.locks.has(keyText)) return undefined;
    return this.commitBase(keyText, (this.meta.get(keyText)?.version ?? 0) + 1, value);
  }

  private commitBase(keyText: string, version: number, value: OpaqueValue | ArrowValue): ObjectMeta {
    const obj: StoredObject = { key: keyText, baseVersion: version, version, value, deltas: [], size: value.size };
    this.record(obj);
    this.keep(obj);
    return this.meta.get(keyText)!;
  }

  /**
   * Commits a put that was streamed to disk (put-spool.ts) as a new version of
   * `key`. `retained` is the object when the put was small enough to keep in
   * memory as well; otherwise it is read back from disk on its first get.
   */
  async putSpooled(key: Required<ObjectKey>, spool: PutSpool, kind: 'opaque' | 'arrow', size: number, retained?: OpaqueValue | ArrowValue): Promise<ObjectMeta> {
    const storage = this.storage;
    if (!storage) throw new FlmError(ErrorCode.Internal, 'a spooled put reached a cache without a storage directory');
    const keyText = formatKey(key);
    return this.withLock(keyText, async () => {
      const version = (this.meta.get(keyText)?.version ?? 0) + 1;
      await storage.commitSpool(key, spool, version);
      if (retained) {
        const obj: StoredObject = { key: keyText, baseVersion: version, version, value: retained, deltas: [], size: retained.size };
        this.record(obj);
        this.keep(obj);
      } else {
        this.dropResident(keyText);
        this.meta.set(keyText, { key: keyText, version, size, kind });
        this.evicted.delete(keyText);
      }
      return this.meta.get(keyText)!;
    });
  }

  /** Appends a delta to an existing object; NOT_FOUND when there is none. */
  async patch(key: Required<ObjectKey>, data: Uint8Array): Promise<ObjectMeta> {
    const keyText = formatKey(key);
    return this.withLock(keyText, async () => {
      const current = await this.lookup(key, keyText);
      if (!current) throw this.missing(keyText, 'patch');
      if (!this.storage && current.size + data.length > this.maxMemoryBytes) {
        throw limitExceeded(`patching ${keyText} would exceed the cache memory limit of ${this.maxMemoryBytes} bytes`);
      }
      const delta: Delta = { version: current.version + 1, data };
      await this.storage?.writeDelta(key, delta);
      const deltas = [...current.deltas, delta];
      const obj: StoredObject = { ...current, version: delta.version, deltas, size: objectSize(current.value, deltas) };
      this.record(obj);
      this.keep(obj);
      return this.meta.get(keyText)!;
    });
  }

  /** The object, from memory or storage; NOT_FOUND when unknown. */
  async get(key: Required<ObjectKey>): Promise<StoredObject> {
    const keyText = formatKey(key);
    const hit = this.residentObjects.get(keyText);
    if (hit) {
      this.touch(keyText, hit);
      return hit;
    }
    const obj = await this.withLock(keyText, () => this.lookup(key, keyText));
    if (!obj) throw this.missing(keyText, 'get');
    return obj;
  }

  /** The object when it is in memory (then it becomes the most recent), without waiting; undefined otherwise. */
  resident(keyText: string): StoredObject | undefined {
    const hit = this.residentObjects.get(keyText);
    if (hit) this.touch(keyText, hit);
    return hit;
  }

  /** Metadata without loading the object. */
  info(key: string): ObjectMeta | undefined {
    return this.meta.get(key);
  }

  list(): ObjectMeta[] {
    return [...this.meta.values()];
  }

  /** Deletes every object the pattern (key, `<app>/<session>`, `<app>/*`) covers; answers how many. */
  async delete(pattern: ObjectKey): Promise<number> {
    const keys = [...this.meta.keys()].filter((k) => matchesKey(pattern, k));
    for (const keyText of keys) {
      await this.withLock(keyText, async () => {
        const [app, session, id] = keyText.split('/') as [string, string, string];
        this.forget(keyText);
        await this.storage?.remove({ app, session, id });
      });
    }
    for (const k of this.evicted) if (matchesKey(pattern, k)) this.evicted.delete(k);
    return keys.length;
  }

  private missing(keyText: string, op: string): Error {
    if (this.evicted.has(keyText)) {
      return notFound(`object ${keyText} was evicted under the cache memory limit (no storage directory configured)`);
    }
    return notFound(op === 'patch' ? `object ${keyText} not found: put it before patching` : `object ${keyText} not found`);
  }

  /** Memory first, then storage (caller holds the key's lock when storage may be read). */
  private async lookup(key: Required<ObjectKey>, keyText: string): Promise<StoredObject | undefined> {
    const hit = this.residentObjects.get(keyText);
    if (hit) {
      this.touch(keyText, hit);
      return hit;
    }
    if (!this.storage || !this.meta.has(keyText)) return undefined;
    const obj = await this.storage.read(key);
    if (!obj) {
      this.meta.delete(keyText);
      return undefined;
    }
    this.record(obj);
    this.keep(obj);
    return obj;
  }

  private record(obj: StoredObject): void {
    this.meta.set(obj.key, { key: obj.key, version: obj.version, size: obj.size, kind: obj.value.kind });
    this.evicted.delete(obj.key);
  }

  /** Makes `obj` the most recent resident object, then evicts down to the limit. */
  private keep(obj: StoredObject): void {
    const old = this.residentObjects.get(obj.key);
    if (old) {
      this.residentObjects.delete(obj.key);
      this.residentBytes -= old.size;
    }
    if (this.storage && obj.size > this.maxMemoryBytes) return; // served from disk
    this.residentObjects.set(obj.key, obj);
    this.residentBytes += obj.size;
    this.evict(obj.key);
  }

  private touch(keyText: string, obj: StoredObject): void {
    this.residentObjects.delete(keyText);
    this.residentObjects.set(keyText, obj);
  }

  private evict(protect: string): void {
    // Not even an iterator under the limit: one starts at the Map's oldest slot and walks past every
    // entry deleted since its last rehash (each get's touch deletes one), on every put.
    if (this.residentBytes <= this.maxMemoryBytes) return;
    for (const [k, victim] of this.residentObjects) {
      if (this.residentBytes <= this.maxMemoryBytes) break;
      if (k === protect) continue;
      this.residentObjects.delete(k);
      this.residentBytes -= victim.size;
      if (!this.storage) {
        this.meta.delete(k);
        this.evicted.add(k);
        if (this.evicted.size > MAX_REMEMBERED_EVICTIONS) {
          const oldest = this.evicted.values().next().value;
          if (oldest !== undefined) this.evicted.delete(oldest);
        }
        this.logger.warn({ key: k, size: victim.size }, 'object evicted under the memory limit and dropped (no storage)');
      } else {
        this.logger.debug({ key: k, size: victim.size }, 'object evicted from memory');
      }
    }
  }

  private dropResident(keyText: string): void {
    const obj = this.residentObjects.get(keyText);
    if (obj) {
      this.residentObjects.delete(keyText);
      this.residentBytes -= obj.size;
    }
  }

  private forget(keyText: string): void {
    this.dropResident(keyText);
    this.meta.delete(keyText);
  }

  /** Runs `fn` after every earlier operation on the same key has finished. */
  private async withLock<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const previous = this.locks.get(key) ?? Promise.resolve();
    let release!: () => void;
    const mine = new Promise<void>((resolve) => (release = resolve));
    const tail = previous.then(() => mine);
    this.locks.set(key, tail);
    await previous;
    try {
      return await fn();
    } finally {
      release();
      if (this.locks.get(key) === tail) this.locks.delete(key);
    }
  }
}
