/**
 * The errno name (`ENOENT`, `EEXIST`, ...) a Node system error carries, or
 * undefined for anything else, so callers branch on the typed code without casts
 * (no instanceof: jest and workers have their own Error).
 */
export function errnoOf(err: unknown): string | undefined {
  const code = typeof err === 'object' && err !== null && 'code' in err ? err.code : undefined;
  return typeof code === 'string' ? code : undefined;
}
