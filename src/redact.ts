/**
 * The one place a URL is rendered for people: in error messages (which reach
 * the client), log lines and marker files. Package URLs carry credentials in
 * their userinfo (`https://user:token@host/…`) and in their query (presigned
 * URLs: `?X-Amz-Signature=…`); both are replaced by `***`, whatever the scheme.
 * The fragment goes too (the package manager has consumed `#sha256=` by then).
 */
const HIDDEN = '***';

export function safeUrl(url: URL | string): string {
  let copy: URL;
  try {
    copy = new URL(typeof url === 'string' ? url : url.href);
  } catch {
    return safeUnparsed(String(url));
  }
  if (copy.username || copy.password) {
    copy.username = HIDDEN;
    copy.password = '';
  }
  if (copy.search) copy.search = HIDDEN;
  copy.hash = '';
  // `user:pass@host/x` parses as scheme `user:` with an opaque path: all before its `@` is hidden.
  if (!copy.host && copy.protocol !== 'file:' && copy.pathname.includes('@')) {
    return `${HIDDEN}${copy.pathname.slice(copy.pathname.lastIndexOf('@'))}${copy.search}`;
  }
  return copy.href;
}

/**
 * Text that is not a URL (it is quoted back when a package URL does not
 * parse): everything before the last `@` of what would be the authority
 * (the scheme too, when there is no `//`), and everything from the first `?`
 * or `#`, may be a secret.
 */
function safeUnparsed(text: string): string {
  const q = text.search(/[?#]/);
  let head = q < 0 ? text : text.slice(0, q);
  const tail = q < 0 ? '' : `?${HIDDEN}`;
  const slashes = head.indexOf('//');
  const start = slashes < 0 ? 0 : slashes + 2;
  const end = head.indexOf('/', start);
  const at = head.lastIndexOf('@', end < 0 ? head.length : end);
  if (at >= start) head = `${head.slice(0, start)}${HIDDEN}${head.slice(at)}`;
  return head + tail;
}
