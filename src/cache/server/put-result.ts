/**
 * A DoPut's answer: PutResult.app_metadata holding the BSON document
 * `{endpoint: string, key: string, version: int64}` (docs/protocol.md §7), as
 * `BSON.serialize` writes it (test/cache/put-result.test.ts compares the two).
 *
 * Written directly because this one fixed-shape document is on every put's
 * path, where the bson library's general serializer (type dispatch per value,
 * its 17 MiB scratch buffer and a copy out, a Long per version) cost more than
 * the rest of committing a small put: ~100 ms of 1,500 16-byte puts in a CPU
 * profile of bench/cache-server.ts.
 */
const STRING = 0x02;
const INT64 = 0x12;

function field(type: number, name: string): Buffer {
  return Buffer.from([type, ...Buffer.from(name, 'latin1'), 0]);
}

const ENDPOINT = field(STRING, 'endpoint');
const KEY = field(STRING, 'key');
const VERSION = field(INT64, 'version');

/** The document's bytes after its length up to the key's: the same for every put to one server (its endpoint). */
let lastEndpoint: string | undefined;
let lastEndpointPart = Buffer.alloc(0);

function endpointPart(endpoint: string): Buffer {
  if (endpoint === lastEndpoint) return lastEndpointPart;
  const endpointBytes = Buffer.from(endpoint, 'utf8');
  const part = Buffer.allocUnsafe(ENDPOINT.length + 4 + endpointBytes.length + 1 + KEY.length);
  let pos = ENDPOINT.copy(part, 0);
  pos = part.writeInt32LE(endpointBytes.length + 1, pos);
  pos += endpointBytes.copy(part, pos);
  part[pos++] = 0;
  KEY.copy(part, pos);
  lastEndpoint = endpoint;
  lastEndpointPart = part;
  return part;
}

/** The BSON document `{endpoint, key, version}`, version as int64 (a non-negative safe integer). */
export function putResultDocument(endpoint: string, key: string, version: number): Buffer {
  const head = endpointPart(endpoint);
  const keyBytes = Buffer.byteLength(key, 'utf8');
  const total = 4 + head.length + 4 + keyBytes + 1 + VERSION.length + 8 + 1;
  const out = Buffer.allocUnsafe(total);
  let pos = out.writeInt32LE(total, 0);
  pos += head.copy(out, pos);
  pos = out.writeInt32LE(keyBytes + 1, pos);
  pos += out.write(key, pos, 'utf8');
  out[pos++] = 0;
  pos += VERSION.copy(out, pos);
  pos = out.writeUInt32LE(version % 0x100000000, pos);
  pos = out.writeUInt32LE(Math.floor(version / 0x100000000), pos);
  out[pos] = 0;
  return out;
}
