/**
 * Disk persistence of the embedded cache, laid out as Flame's reference
 * server does (docs/protocol.md §7): `<root>/<app>/<session>/<id>.arrow` holds the base as
 * an Arrow IPC file (opaque: one `{version, data}` row; native Arrow: the
 * table with `flame.cache.version` in its schema metadata), and
 * `<id>.deltas/<n>.arrow` each hold one patch row. Deltas are named by their
 * version, which the reference server's reader (numeric sort, version read
 * from the row) also accepts. Every file is written to a temporary name and
 * renamed, so a reader or a restart never sees half a file.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { Schema } from 'apache-arrow/schema';
import { FlmError, ErrorCode, invalidInput } from '../../errors';
import type { Logger } from '../../log';
import { errnoOf } from '../../util/errno';
import { formatKey, parseKey, type ObjectKey } from '../../wire/keys';
import { encodeSchema, ipcFileParts, readIpcMessages, schemaOf } from '../../wire/ipc';
import { plainBatch } from '../plain-batch';
import { encodeRow, opaqueLayout, PUT_SCHEMA, PUT_SCHEMA_HEADER, readRows } from '../opaque';
import { isNativeArrowSchema, withCacheVersion, withoutCacheVersion, cacheVersionOf } from '../../wire/arrow-meta';
import { objectSize, type ArrowValue, type Delta, type OpaqueValue, type StoredObject } from './stored-object';
import { PutSpool } from './put-spool';

const DELTAS_SUFFIX = '.deltas';
const TMP_SUFFIX = '.tmp';
/**
 * Bytes of one key component on disk: file systems take 255-byte names, and a
 * component becomes `<id>.deltas`, `<id>.arrow.<12 hex>.tmp`. A longer one is
 * refused as bad input instead of failing in the file system with an error
 * that would name the storage path.
 */
export const MAX_STORED_NAME_BYTES = 200;

export class DiskStorage {
  constructor(readonly root: string, private readonly logger: Logger) {}

  private paths(key: Required<ObjectKey>): { dir: string; base: string; deltas: string } {
    for (const part of [key.app, key.session, key.id]) {
      const bytes = Buffer.byteLength(part, 'utf8');
      if (bytes > MAX_STORED_NAME_BYTES) {
        throw invalidInput(`object key component of ${bytes} bytes is longer than the cache's storage allows (${MAX_STORED_NAME_BYTES} bytes)`);
      }
    }
    const dir = path.join(this.root, key.app, key.session);
    return { dir, base: path.join(dir, `${key.id}.arrow`), deltas: path.join(dir, `${key.id}${DELTAS_SUFFIX}`) };
  }

  /** Writes a new base (version `version`) and removes the old deltas. */
  async writeBase(key: Required<ObjectKey>, version: number, value: OpaqueValue | ArrowValue): Promise<void> {
    const p = this.paths(key);
    await fs.mkdir(p.dir, { recursive: true });
    let parts: Uint8Array[];
    if (value.kind === 'opaque') {
      const row = encodeRow(version, undefined, value.chunks);
      parts = ipcFileParts(PUT_SCHEMA, [
        { kind: 'schema', header: PUT_SCHEMA_HEADER, body: [] },
        { kind: 'batch', header: row.header, body: row.body },
      ]);
    } else {
      const schema = withCacheVersion(value.schema, version);
      parts = ipcFileParts(schema, [{ kind: 'schema', header: encodeSchema(schema), body: [] }, ...value.messages]);
    }
    await writeAtomic(p.base, parts);
    await fs.rm(p.deltas, { recursive: true, force: true });
  }

  /** A spool for a new base of `key`, written beside its final file (see put-spool.ts). */
  async openSpool(key: Required<ObjectKey>, kind: 'opaque' | 'arrow', schema: Schema): Promise<PutSpool> {
    const p = this.paths(key);
    await fs.mkdir(p.dir, { recursive: true });
    return PutSpool.open(tmpPath(p.base), kind, schema);
  }

  /** Makes a spooled put the base of version `version` and removes the old deltas. */
  async commitSpool(key: Required<ObjectKey>, spool: PutSpool, version: number): Promise<void> {
    const p = this.paths(key);
    await spool.commit(version, p.base);
    await fs.rm(p.deltas, { recursive: true, force: true });
  }

  /**
   * Deletes the temporary files a killed process left behind (a put or a
   * delta cut mid-write); called at start, before anything is written.
   */
  async removeLeftovers(): Promise<number> {
    let removed = 0;
    const sweep = async (dir: string): Promise<void> => {
      let entries: import('node:fs').Dirent[];
      try {
        entries = await fs.readdir(dir, { withFileTypes: true });
      } catch {
        return;
      }
      for (const e of entries) {
        if (e.isFile() && e.name.endsWith(TMP_SUFFIX)) {
          await fs.rm(path.join(dir, e.name), { force: true });
          removed++;
        } else if (e.isDirectory() && e.name.endsWith(DELTAS_SUFFIX)) {
          await sweep(path.join(dir, e.name));
        }
      }
    };
    for (const app of await dirs(this.root)) {
      for (const session of await dirs(path.join(this.root, app))) await sweep(path.join(this.root, app, session));
    }
    if (removed > 0) this.logger.warn({ storage: this.root, removed }, 'removed temporary files left by an interrupted cache write');
    return removed;
  }

  async writeDelta(key: Required<ObjectKey>, delta: Delta): Promise<void> {
    const p = this.paths(key);
    await fs.mkdir(p.deltas, { recursive: true });
    const row = encodeRow(delta.version, undefined, [delta.data]);
    const parts = ipcFileParts(PUT_SCHEMA, [
      { kind: 'schema', header: PUT_SCHEMA_HEADER, body: [] },
      { kind: 'batch', header: row.header, body: row.body },
    ]);
    await writeAtomic(path.join(p.deltas, `${delta.version}.arrow`), parts);
  }

  /** Reads an object back; undefined when it has no base file. */
  async read(key: Required<ObjectKey>): Promise<StoredObject | undefined> {
    const p = this.paths(key);
    let bytes: Buffer;
    try {
      bytes = await fs.readFile(p.base);
    } catch (err) {
      if (errnoOf(err) === 'ENOENT') return undefined;
      throw err;
    }
    const what = `stored object ${formatKey(key)}`;
    const messages = readIpcMessages(bytes, what);
    const first = messages[0];
    if (!first) throw new FlmError(ErrorCode.Internal, `${what}: file holds no schema`);
    const schema = schemaOf(first.message, what);
    let value: OpaqueValue | ArrowValue;
    let baseVersion: number;
    if (isNativeArrowSchema(schema)) {
      baseVersion = cacheVersionOf(schema);
      const rest = messages.slice(1).map((m) => ({
        kind: m.message.isDictionaryBatch() ? ('dictionary' as const) : ('batch' as const),
        header: m.header,
        body: m.body,
      }));
      let size = 0;
      for (const m of rest) size += m.header.length + m.body.reduce((n, b) => n + b.length, 0);
      value = { kind: 'arrow', schema: withoutCacheVersion(schema), messages: rest, size };
    } else {
      const rows = readOpaque(schema, messages.slice(1), what);
      baseVersion = rows[0]?.version ?? 0;
      const chunks = rows.map((r) => r.data);
      value = { kind: 'opaque', chunks, size: chunks.reduce((n, c) => n + c.length, 0) };
    }
    baseVersion = Math.max(baseVersion, 1);
    const deltas = await this.readDeltas(p.deltas, baseVersion, what);
    const version = deltas.length ? deltas[deltas.length - 1]!.version : baseVersion;
    return { key: formatKey(key), baseVersion, version, value, deltas, size: objectSize(value, deltas) };
  }

  private async readDeltas(dir: string, baseVersion: number, what: string): Promise<Delta[]> {
    let names: string[];
    try {
      names = await fs.readdir(dir);
    } catch (err) {
      if (errnoOf(err) === 'ENOENT') return [];
      throw err;
    }
    const files = names
      .filter((n) => /^\d+\.arrow$/.test(n))
      .sort((a, b) => Number.parseInt(a, 10) - Number.parseInt(b, 10));
    const deltas: Delta[] = [];
    let last = baseVersion;
    for (const [i, name] of files.entries()) {
      const bytes = await fs.readFile(path.join(dir, name));
      const messages = readIpcMessages(bytes, `${what} delta ${name}`);
      const schema = schemaOf(messages[0]?.message ?? failEmpty(what, name), `${what} delta ${name}`);
      const rows = readOpaque(schema, messages.slice(1), `${what} delta ${name}`);
      const data = rows.length === 1 ? rows[0]!.data : Buffer.concat(rows.map((r) => r.data));
      const version = rows[0]?.version || baseVersion + i + 1;
      // Left over from an overwrite interrupted before its deltas were removed.
      if (version <= last) {
        this.logger.warn({ file: path.join(dir, name) }, 'ignoring stale cache delta');
        continue;
      }
      deltas.push({ version, data });
      last = version;
    }
    return deltas;
  }

  /** Removes an object's files; then its session and app directories if they became empty. */
  async remove(key: Required<ObjectKey>): Promise<void> {
    const p = this.paths(key);
    await fs.rm(p.base, { force: true });
    await fs.rm(p.deltas, { recursive: true, force: true });
    for (const dir of [p.dir, path.dirname(p.dir)]) {
      try {
        await fs.rmdir(dir);
      } catch {
        break; // not empty (or gone): leave it
      }
    }
  }

  /** Every stored object's key; names that are not valid keys are skipped with a warning. */
  async listKeys(): Promise<Required<ObjectKey>[]> {
    const keys: Required<ObjectKey>[] = [];
    for (const app of await dirs(this.root)) {
      for (const session of await dirs(path.join(this.root, app))) {
        const names = await fs.readdir(path.join(this.root, app, session), { withFileTypes: true });
        for (const entry of names) {
          if (!entry.isFile() || !entry.name.endsWith('.arrow')) continue;
          const id = entry.name.slice(0, -'.arrow'.length);
          try {
            keys.push(parseKey(`${app}/${session}/${id}`));
          } catch (err) {
            this.logger.warn({ err, file: path.join(app, session, entry.name) }, 'skipping a stored file that is not a valid object key');
          }
        }
      }
    }
    return keys;
  }
}

function failEmpty(what: string, name: string): never {
  throw new FlmError(ErrorCode.Internal, `${what} delta ${name}: file holds no schema`);
}

function readOpaque(schema: Schema, messages: ReturnType<typeof readIpcMessages>, what: string): { version: number; data: Uint8Array }[] {
  const layout = opaqueLayout(schema);
  const rows: { version: number; data: Uint8Array }[] = [];
  for (const m of messages) {
    if (!m.message.isRecordBatch()) continue;
    rows.push(...readRows(layout, plainBatch(m.message, m.body[0] ?? new Uint8Array(0), what)));
  }
  return rows;
}

async function dirs(parent: string): Promise<string[]> {
  try {
    const entries = await fs.readdir(parent, { withFileTypes: true });
    return entries.filter((e) => e.isDirectory()).map((e) => e.name);
  } catch (err) {
    if (errnoOf(err) === 'ENOENT') return [];
    throw err;
  }
}

/** Writes parts to `target` through a temporary file and a rename; no partial file is ever visible. */
function tmpPath(target: string): string {
  return `${target}.${randomBytes(6).toString('hex')}${TMP_SUFFIX}`;
}

export async function writeAtomic(target: string, parts: readonly Uint8Array[]): Promise<void> {
  const tmp = tmpPath(target);
  const fh = await fs.open(tmp, 'wx');
  try {
    // writev takes at most IOV_MAX buffers per call on some platforms; go in slices.
    for (let i = 0; i < parts.length; i += 512) {
      await fh.writev(parts.slice(i, i + 512) as Uint8Array[]);
    }
    await fh.close();
    await fs.rename(tmp, target);
  } catch (err) {
    await fh.close().catch(() => undefined);
    await fs.rm(tmp, { force: true });
    throw err;
  }
}
