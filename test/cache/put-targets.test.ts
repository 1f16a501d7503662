/**
 * Where a put lands: targets past the length the server keeps parsed (put-receiver.ts parseTarget), a path
 * given as segments or as one 'a/b' string, and a put to a key whose patch is still pending (object-table.ts).
 */
import { BSON } from 'bson';
import pino from 'pino';
import { encodeRow, PUT_SCHEMA_HEADER } from '../../src/cache/opaque';
import { ObjectTable } from '../../src/cache/server/object-table';
import type { OpaqueValue } from '../../src/cache/server/stored-object';
import type { FlightServiceClient } from '../../src/cache/flight';
import type { CacheServer } from '../../src/cache/server/cache-server';
import { rawClient, rawGet, rawPut, startServer } from './helpers';

let server: CacheServer;
let raw: FlightServiceClient;

beforeAll(async () => {
  let endpoint: string;
  ({ server, endpoint } = await startServer());
  raw = rawClient(endpoint);
});

afterAll(async () => {
  raw.close();
  await server.close();
});

/** Puts `data` to the FlightDescriptor path `path`; the key and version the server answered. */
async function putTo(path: string[], data: string): Promise<{ key: string; version: number }> {
  const row = encodeRow(0, undefined, [Buffer.from(data)]);
  const doc = BSON.deserialize(
    await rawPut(raw, [
      { flight_descriptor: { type: 'PATH', path }, data_header: PUT_SCHEMA_HEADER },
      { data_header: row.header, data_body: row.body },
    ]),
  );
  return { key: doc.key as string, version: Number(doc.version) };
}

async function dataAt(key: string): Promise<string[]> {
  return (await rawGet(raw, `${key}:0`)).rows.map((r) => Buffer.from(r.data).toString());
}

test('a target longer than the 256 characters kept parsed: a prefix gets a new id each time, a full key is that key', async () => {
  const app = 'a'.repeat(200);
  const session = 's'.repeat(100);
  const first = await putTo([`${app}/${session}`], 'one');
  const second = await putTo([`${app}/${session}`], 'two');
  expect(first.key.startsWith(`${app}/${session}/`)).toBe(true);
  expect(second.key.startsWith(`${app}/${session}/`)).toBe(true);
  expect(second.key).not.toBe(first.key);
  expect(await dataAt(first.key)).toEqual(['one']);
  expect(await dataAt(second.key)).toEqual(['two']);
  const full = `${app}/${session}/${'i'.repeat(80)}`;
  expect(await putTo([full], 'three')).toEqual({ key: full, version: 1 });
  expect(await putTo([full], 'four')).toEqual({ key: full, version: 2 });
  expect(await dataAt(full)).toEqual(['four']);
});

test('a path as segments or as one string names the same key, whichever came first', async () => {
  const joined = await putTo(['seg/s'], 'joined');
  const split = await putTo(['seg', 's'], 'split');
  for (const k of [joined.key, split.key]) expect(k).toMatch(/^seg\/s\/[^/]+$/);
  expect(split.key).not.toBe(joined.key);
  expect(await putTo(['seg', 's', 'k'], 'x')).toEqual({ key: 'seg/s/k', version: 1 });
  expect(await putTo(['seg/s/k'], 'y')).toEqual({ key: 'seg/s/k', version: 2 });
  expect(await putTo(['seg/s', 'k'], 'z')).toEqual({ key: 'seg/s/k', version: 3 });
  expect(await dataAt('seg/s/k')).toEqual(['z']);
});

describe('a put to a key while a patch on it is pending', () => {
  const value = (text: string): OpaqueValue => ({ kind: 'opaque', chunks: [Buffer.from(text)], size: text.length });
  const key = { app: 'ord', session: 's', id: 'k' };

  test.each([
    ['putAtOnce', (t: ObjectTable) => t.putAtOnce(key, value('new')) ?? t.put(key, value('new'))],
    ['put', (t: ObjectTable) => t.put(key, value('new'))],
  ])('%s waits for the patch: the patch applies to the old base, the put replaces both', async (_name, put) => {
    const table = new ObjectTable(1 << 20, undefined, pino({ level: 'silent' }));
    await table.put(key, value('old'));
    const patched = table.patch(key, Buffer.from('delta'));
    const replaced = put(table);
    expect((await patched).version).toBe(2);
    expect((await replaced).version).toBe(3);
    const obj = await table.get(key);
    expect(obj.version).toBe(3);
    expect(obj.deltas).toEqual([]);
    expect(obj.value.kind === 'opaque' && Buffer.concat(obj.value.chunks).toString()).toBe('new');
  });
});
