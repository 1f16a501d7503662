/** Hostile input to the cache server: each answered with a clear gRPC status, nothing stored half-way, still serving. */
import * as grpc from '@grpc/grpc-js';
import { CacheClient } from '../../src/cache/client';
import type { CacheServer } from '../../src/cache/server/cache-server';
import type { FlightServiceClient } from '../../src/cache/flight';
import { Field, Int32, Schema } from 'apache-arrow';
import { encodeRow, PUT_SCHEMA_HEADER } from '../../src/cache/opaque';
import { encodeSchema } from '../../src/wire/ipc';
import { cutPut, grpcCode, rawClient, rawGet, rawPut, startServer } from './helpers';

let server: CacheServer;
let endpoint: string;
let raw: FlightServiceClient;
let client: CacheClient;

beforeAll(async () => {
  ({ server, endpoint } = await startServer({ maxMemoryBytes: 1 << 20 }));
  raw = rawClient(endpoint);
  client = new CacheClient({ endpoint });
});

afterAll(async () => {
  raw.close();
  client.close();
  await server.close();
});

afterEach(async () => {
  // still serving after each hostile call
  const ref = await client.put('health/check', Buffer.from('ok'));
  const obj = await client.get(ref);
  expect(obj.kind === 'opaque' && obj.base.toString()).toBe('ok');
});

const row = (data: string) => {
  const r = encodeRow(0, undefined, [Buffer.from(data)]);
  return { data_header: r.header, data_body: r.body };
};
const path = (p: string) => ({ type: 'PATH' as const, path: [p] });

async function keysUnder(prefix: string): Promise<string[]> {
  return (await client.list()).map((i) => i.key).filter((k) => k.startsWith(prefix));
}

describe('hostile DoGet tickets', () => {
  test.each([
    ['no object id', 'app/ssn:0', grpc.status.INVALID_ARGUMENT, "'app/ssn'"],
    ['too many parts', 'a/b/c/d:0', grpc.status.INVALID_ARGUMENT, 'a/b/c/d'],
    ['dot-dot', 'a/../c:0', grpc.status.INVALID_ARGUMENT, "'..'"],
    ['backslash', 'a/b\\x/c:0', grpc.status.INVALID_ARGUMENT, '\\'],
    ['empty component', 'a//c:0', grpc.status.INVALID_ARGUMENT, 'empty'],
    ['wildcard', 'a/*:0', grpc.status.INVALID_ARGUMENT, '*'],
    ['bad version', 'a/b/c:v1', grpc.status.INVALID_ARGUMENT, "'v1'"],
    ['negative version', 'a/b/c:-1', grpc.status.INVALID_ARGUMENT, 'version'],
    ['empty ticket', '', grpc.status.INVALID_ARGUMENT, 'key'],
    ['unknown key', 'a/b/c:0', grpc.status.NOT_FOUND, 'a/b/c'],
  ])('%s', async (_name, ticket, code, words) => {
    const status = await grpcCode(rawGet(raw, ticket));
    expect(status.code).toBe(code);
    expect(status.details).toContain(words);
  });

  test('a ticket that is not UTF-8', async () => {
    const status = await grpcCode(rawGet(raw, Buffer.from([0xff, 0xfe, 0x3a, 0x30])));
    expect(status).toMatchObject({ code: grpc.status.INVALID_ARGUMENT, details: expect.stringContaining('UTF-8') });
  });
});

describe('hostile DoPut streams', () => {
  test('garbage data_header', async () => {
    const status = await grpcCode(rawPut(raw, [{ flight_descriptor: path('bad/s1'), data_header: Buffer.from('not a flatbuffer at all') }]));
    expect(status.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(status.details).toMatch(/data_header/);
    expect(await keysUnder('bad/')).toEqual([]);
  });

  test('a record batch before any schema', async () => {
    const status = await grpcCode(rawPut(raw, [{ flight_descriptor: path('bad/s2'), ...row('x') }]));
    expect(status).toMatchObject({ code: grpc.status.INVALID_ARGUMENT, details: expect.stringContaining('before any Schema') });
  });

  test('a stream with a descriptor but no schema', async () => {
    const status = await grpcCode(rawPut(raw, [{ flight_descriptor: path('bad/s3') }]));
    expect(status).toMatchObject({ code: grpc.status.INVALID_ARGUMENT, details: expect.stringContaining('no Schema') });
  });

  test('no descriptor', async () => {
    const status = await grpcCode(rawPut(raw, [{ data_header: PUT_SCHEMA_HEADER }, row('x')]));
    expect(status).toMatchObject({ code: grpc.status.INVALID_ARGUMENT, details: expect.stringContaining('FlightDescriptor') });
  });

  test('an empty stream', async () => {
    const status = await grpcCode(rawPut(raw, []));
    expect(status.code).toBe(grpc.status.INVALID_ARGUMENT);
  });

  test.each([
    ['too many parts', 'a/b/c/d'],
    ['dot-dot', 'a/../c'],
    ['backslash', 'a\\b/c'],
    ['wildcard', 'a/*'],
    ['one part', 'app'],
  ])('a bad key: %s', async (_name, key) => {
    const status = await grpcCode(rawPut(raw, [{ flight_descriptor: path(key), data_header: PUT_SCHEMA_HEADER }, row('x')]));
    expect(status.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(status.details).toContain(key);
  });

  test('an unknown command, and PATCH of a missing object', async () => {
    const unknown = await grpcCode(rawPut(raw, [{ flight_descriptor: { type: 'CMD', cmd: Buffer.from('DROP:x') }, data_header: PUT_SCHEMA_HEADER }, row('x')]));
    expect(unknown).toMatchObject({ code: grpc.status.INVALID_ARGUMENT, details: expect.stringContaining('DROP') });
    const missing = await grpcCode(
      rawPut(raw, [{ flight_descriptor: { type: 'CMD', cmd: Buffer.from('PATCH:bad/s/none') }, data_header: PUT_SCHEMA_HEADER }, row('x')]),
    );
    expect(missing).toMatchObject({ code: grpc.status.NOT_FOUND, details: expect.stringContaining('bad/s/none') });
  });

  test('a schema that is neither opaque nor native Arrow', async () => {
    const header = encodeSchema(new Schema([new Field('x', new Int32())]));
    const status = await grpcCode(rawPut(raw, [{ flight_descriptor: path('bad/s4'), data_header: header }, row('x')]));
    expect(status).toMatchObject({ code: grpc.status.INVALID_ARGUMENT, details: expect.stringContaining('not an opaque object schema') });
  });

  test('a body shorter than its header declares', async () => {
    const r = row('hello world');
    const status = await grpcCode(
      rawPut(raw, [{ flight_descriptor: path('bad/s5'), data_header: PUT_SCHEMA_HEADER }, { data_header: r.data_header, data_body: [Buffer.alloc(4)] }]),
    );
    expect(status.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(await keysUnder('bad/')).toEqual([]);
  });

  test.each([
    ['between messages', false],
    ['inside a message', true],
  ])('a stream cut mid-way (%s) stores nothing', async (_name, tear) => {
    const messages = [{ flight_descriptor: path('cut/s1/obj'), data_header: PUT_SCHEMA_HEADER }, row('part 1'), row('part 2')];
    await cutPut(endpoint, messages, tear);
    expect(await keysUnder('cut/')).toEqual([]);
    const get = await grpcCode(rawGet(raw, 'cut/s1/obj:0'));
    expect(get.code).toBe(grpc.status.NOT_FOUND);
    // the same messages, ended properly, are stored: the cut is what kept them out
    await rawPut(raw, messages);
    expect(await keysUnder('cut/')).toEqual(['cut/s1/obj']);
    await client.delete('cut/*');
  });

  test('bytes that are not a FlightData message at all', async () => {
    const Ctor = grpc.makeGenericClientConstructor(
      {
        DoPut: {
          path: '/arrow.flight.protocol.FlightService/DoPut',
          requestStream: true,
          responseStream: true,
          requestSerialize: (b: Buffer) => b,
          requestDeserialize: (b: Buffer) => b,
          responseSerialize: (b: Buffer) => b,
          responseDeserialize: (b: Buffer) => b,
        },
      },
      'Garbage',
    );
    const garbage = new Ctor(endpoint.replace('grpc://', ''), grpc.credentials.createInsecure()) as unknown as {
      DoPut: () => grpc.ClientDuplexStream<Buffer, Buffer>;
      close: () => void;
    };
    try {
      const call = garbage.DoPut();
      const status = await new Promise<grpc.ServiceError>((resolve) => {
        call.on('error', resolve);
        call.on('data', () => undefined);
        call.write(Buffer.from([0xff, 0xff, 0xff, 0xff, 0x0f]));
        call.end();
      });
      expect(status.code).toBe(grpc.status.INVALID_ARGUMENT);
      expect(status.details).toMatch(/not a FlightData/);
    } finally {
      garbage.close();
    }
  });

  test('an object larger than the memory limit without storage: RESOURCE_EXHAUSTED', async () => {
    const status = await grpcCode(client.put('big/s', Buffer.alloc(2 << 20)).catch((e: { cause?: unknown }) => Promise.reject(e.cause)));
    expect(status.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
    expect(await keysUnder('big/')).toEqual([]);
  });
});

describe('hostile actions', () => {
  test('unknown action and bad DELETE bodies', async () => {
    const act = (type: string, body: Buffer) =>
      (async () => {
        for await (const _ of raw.DoAction({ type, body }, new grpc.Metadata(), {}) as AsyncIterable<unknown>) void _;
      })();
    expect((await grpcCode(act('DROP', Buffer.from('a/b')))).code).toBe(grpc.status.INVALID_ARGUMENT);
    expect((await grpcCode(act('DELETE', Buffer.from('a/../b')))).code).toBe(grpc.status.INVALID_ARGUMENT);
    expect((await grpcCode(act('DELETE', Buffer.from('*/x')))).code).toBe(grpc.status.INVALID_ARGUMENT);
    expect((await grpcCode(act('DELETE', Buffer.from([0xff])))).code).toBe(grpc.status.INVALID_ARGUMENT);
  });
});
