/** A plain object as a decoder means it: made by `{}`/`Object.create(null)`, not a class instance, array or Buffer. */
export function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (typeof v !== 'object' || v === null) return false;
  const proto: unknown = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}
