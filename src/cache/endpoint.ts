/**
 * Cache endpoints (docs/protocol.md §1, §7): `grpc://host:port` plain, `grpcs://` or
 * `grpc+tls://` TLS; default port 9090. Parsed with WHATWG URL.
 */
import { invalidInput } from '../errors';

export const DEFAULT_CACHE_PORT = 9090;

export interface CacheEndpoint {
  /** grpc-js target, `host:port` (IPv6 in brackets). */
  target: string;
  tls: boolean;
  /** Canonical form, used as the channel and client-LRU key: `grpc://h:p` or `grpc+tls://h:p`. */
  canonical: string;
}

/** Endpoints parsed lately: every put and get names one, and WHATWG URL parsing costs tens of microseconds. */
const parsed = new Map<string, CacheEndpoint>();
const PARSED_MAX = 64;

export function parseEndpoint(text: string): CacheEndpoint {
  const known = parsed.get(text);
  if (known) return known;
  const endpoint = parseEndpointText(text);
  if (parsed.size >= PARSED_MAX) parsed.clear();
  parsed.set(text, endpoint);
  return endpoint;
}

function parseEndpointText(text: string): CacheEndpoint {
  if (typeof text !== 'string' || text.trim() === '') throw invalidInput('cache endpoint is empty');
  let url: URL;
  try {
    url = new URL(text.includes('://') ? text : `grpc://${text}`);
  } catch {
    throw invalidInput(`cache endpoint '${text}' is not a URL like grpc://host:port`);
  }
  const scheme = url.protocol.replace(/:$/, '');
  let tls: boolean;
  if (scheme === 'grpc' || scheme === 'grpc+tcp') tls = false;
  else if (scheme === 'grpcs' || scheme === 'grpc+tls') tls = true;
  else throw invalidInput(`cache endpoint '${text}': scheme '${scheme}' is not grpc://, grpcs:// or grpc+tls://`);
  if (!url.hostname) throw invalidInput(`cache endpoint '${text}' has no host`);
  const port = url.port ? Number(url.port) : DEFAULT_CACHE_PORT;
  const target = `${url.hostname}:${port}`;
  return Object.freeze({ target, tls, canonical: `${tls ? 'grpc+tls' : 'grpc'}://${target}` });
}
