/**
 * Object keys (docs/protocol.md §3), as both Flame's cache server and its Python SDK
 * (`ObjectKey`) check them: two or three `/`-separated components, none empty,
 * none containing `..` or `\`; `*` only as the session of a delete prefix.
 */
import { invalidInput } from '../errors';

export const WILDCARD_SESSION = '*';

export interface ObjectKey {
  app: string;
  session: string;
  /** Absent for a prefix (`<app>/<session>` or `<app>/*`). */
  id?: string;
}

/** Parses `<app>/<session>`, `<app>/*` or `<app>/<session>/<id>`. */
export function parsePath(text: string, what = 'key'): ObjectKey {
  if (typeof text !== 'string') throw invalidInput(`invalid object ${what}: expected a string, got ${typeof text}`);
  const parts = text.split('/');
  if (parts.length !== 2 && parts.length !== 3) {
    throw invalidInput(
      `invalid object ${what} '${text}': expected '<app>/<session>' or '<app>/<session>/<id>' (${parts.length} components)`,
    );
  }
  parts.forEach((part, i) => {
    if (part === '') throw invalidInput(`invalid object ${what} '${text}': component ${i + 1} is empty`);
    if (part.includes('..')) throw invalidInput(`invalid object ${what} '${text}': component '${part}' contains '..'`);
    if (part.includes('\\')) throw invalidInput(`invalid object ${what} '${text}': component '${part}' contains '\\'`);
    // Stricter than Flame (which allows it): '.' would alias its parent directory in storage.
    if (part === '.') throw invalidInput(`invalid object ${what} '${text}': component ${i + 1} is '.'`);
    if (part.includes('\0')) throw invalidInput(`invalid object ${what} '${text}': component ${i + 1} contains a NUL byte`);
    if (part === WILDCARD_SESSION && i !== 1) {
      throw invalidInput(`invalid object ${what} '${text}': '*' is allowed only as the session ('<app>/*')`);
    }
  });
  const [app, session, id] = parts as [string, string, string | undefined];
  if (session === WILDCARD_SESSION && id !== undefined) {
    throw invalidInput(`invalid object ${what} '${text}': the wildcard session '*' cannot name an object`);
  }
  return id === undefined ? { app, session } : { app, session, id };
}

/** Parses a full key `<app>/<session>/<id>`. */
export function parseKey(text: string): Required<ObjectKey> {
  const key = parsePath(text, 'key');
  if (key.id === undefined) throw invalidInput(`invalid object key '${text}': expected '<app>/<session>/<id>'`);
  return key as Required<ObjectKey>;
}

/** Parses a put prefix `<app>/<session>` (no wildcard). */
export function parsePrefix(text: string): ObjectKey {
  const key = parsePath(text, 'prefix');
  if (key.id !== undefined) throw invalidInput(`invalid key prefix '${text}': expected '<app>/<session>'`);
  if (key.session === WILDCARD_SESSION) throw invalidInput(`invalid key prefix '${text}': '*' is only for deletes`);
  return key;
}

/**
 * Where a session's results go: the prefix `<app>/<session>` (docs/protocol.md §3), from
 * the two names as they are, so that a name holding a `/` is refused rather
 * than split. The one home of the rule: the service checks at session enter
 * that the names can form it, and the runner puts results under it.
 */
export function resultPrefix(app: string, session: string): ObjectKey {
  for (const name of [app, session]) {
    if (name.includes('/')) throw invalidInput(`invalid key prefix component '${name}': contains '/'`);
  }
  return parsePrefix(`${app}/${session}`);
}

/** Parses a put target: a prefix (server makes the id) or a full key (create or overwrite). */
export function parsePutTarget(text: string): ObjectKey {
  const key = parsePath(text, 'key or prefix');
  if (key.session === WILDCARD_SESSION) throw invalidInput(`invalid key '${text}': '*' is only for deletes`);
  return key;
}

export function formatKey(key: ObjectKey): string {
  return key.id === undefined ? `${key.app}/${key.session}` : `${key.app}/${key.session}/${key.id}`;
}

/** Whether `pattern` (a full key, `<app>/<session>` or `<app>/*`) covers the full key `key`. */
export function matchesKey(pattern: ObjectKey, key: string): boolean {
  if (pattern.id !== undefined) return key === formatKey(pattern);
  const parts = key.split('/');
  if (parts.length !== 3 || parts[0] !== pattern.app) return false;
  return pattern.session === WILDCARD_SESSION || parts[1] === pattern.session;
}
