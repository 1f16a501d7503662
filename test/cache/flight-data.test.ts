/** The hand FlightData codec agrees with protobufjs (what proto-loader would use) on the wire. */
import path from 'node:path';
import fc from 'fast-check';
import * as protobuf from 'protobufjs';
import { bytesFieldOne, decodeFlightData, encodeFlightData } from '../../src/cache/flight-data';

// protobufjs comes with @grpc/proto-loader; it is the reference implementation here.
const root = new protobuf.Root().loadSync(path.resolve(__dirname, '../../proto/arrow/flight/Flight.proto'), { keepCase: true });
const FlightData = root.lookupType('arrow.flight.protocol.FlightData');

const bytes = fc.uint8Array({ maxLength: 300 });
const message = fc.record({
  descriptor: fc.option(
    fc.record({ type: fc.constantFrom('UNKNOWN', 'PATH', 'CMD' as const), cmd: bytes, path: fc.array(fc.string(), { maxLength: 3 }) }),
    { nil: undefined },
  ),
  header: bytes,
  meta: bytes,
  body: fc.array(bytes, { maxLength: 4 }),
});

test('encode: protobufjs decodes what we write; decode: we read what protobufjs writes', () => {
  fc.assert(
    fc.property(message, (m) => {
      const ours = encodeFlightData({
        flight_descriptor: m.descriptor ? { type: m.descriptor.type as 'PATH', cmd: m.descriptor.cmd, path: m.descriptor.path } : null,
        data_header: m.header,
        app_metadata: m.meta,
        data_body: m.body,
      });
      const theirs = FlightData.toObject(FlightData.decode(ours), { enums: String, defaults: true, bytes: Array }) as Record<string, unknown>;
      const body = Buffer.concat(m.body);
      expect(Buffer.from((theirs.data_body ?? []) as number[])).toEqual(body);
      expect(Buffer.from((theirs.data_header ?? []) as number[])).toEqual(Buffer.from(m.header));
      if (m.descriptor) {
        expect((theirs.flight_descriptor as { path: string[] }).path).toEqual(m.descriptor.path);
        expect((theirs.flight_descriptor as { type: string }).type).toBe(m.descriptor.type);
      }
      const wire = Buffer.from(
        FlightData.encode(
          FlightData.fromObject({
            flight_descriptor: m.descriptor ? { type: m.descriptor.type, cmd: m.descriptor.cmd, path: m.descriptor.path } : undefined,
            data_header: m.header,
            app_metadata: m.meta,
            data_body: body,
          }),
        ).finish(),
      );
      const back = decodeFlightData(wire);
      expect(back.data_body).toEqual(body);
      expect(back.app_metadata).toEqual(Buffer.from(m.meta));
      expect(back.flight_descriptor?.path ?? []).toEqual(m.descriptor?.path ?? []);
      expect(back.flight_descriptor?.cmd ?? Buffer.alloc(0)).toEqual(Buffer.from(m.descriptor?.cmd ?? []));
    }),
    { numRuns: 300 },
  );
});

test('garbage is refused with InvalidInput, never a crash', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 64 }), (b) => {
      try {
        decodeFlightData(Buffer.from(b));
      } catch (err) {
        expect(err).toMatchObject({ code: 'INVALID_INPUT' });
      }
    }),
  );
});

test('bytesFieldOne reads what protobufjs writes as a Ticket and a PutResult, unknown fields skipped', () => {
  // PutResult and Ticket both carry `bytes` as field 1; a message of a later schema may add fields around it.
  const Extended = new protobuf.Type('Extended')
    .add(new protobuf.Field('pre', 7, 'fixed64'))
    .add(new protobuf.Field('value', 1, 'bytes'))
    .add(new protobuf.Field('count', 2, 'uint64'))
    .add(new protobuf.Field('name', 3, 'string'))
    .add(new protobuf.Field('ratio', 4, 'float'));
  new protobuf.Root().define('t').add(Extended);
  const Ticket = root.lookupType('arrow.flight.protocol.Ticket');
  const PutResult = root.lookupType('arrow.flight.protocol.PutResult');
  fc.assert(
    fc.property(bytes, fc.nat(), fc.nat(), fc.string(), (value, pre, count, name) => {
      expect(bytesFieldOne(Buffer.from(Ticket.encode({ ticket: value }).finish()), 'Ticket')).toEqual(Buffer.from(value));
      expect(bytesFieldOne(Buffer.from(PutResult.encode({ app_metadata: value }).finish()), 'PutResult')).toEqual(Buffer.from(value));
      const ext = Extended.encode({ pre, value, count, name, ratio: 0.5 }).finish();
      expect(bytesFieldOne(Buffer.from(ext), 'Extended')).toEqual(Buffer.from(value));
    }),
  );
  expect(bytesFieldOne(Buffer.alloc(0), 'Ticket')).toHaveLength(0);
  // Repeated: the last one wins, as protobuf decoders do.
  expect(bytesFieldOne(Buffer.from([0x0a, 1, 0x41, 0x0a, 2, 0x42, 0x43]), 'Ticket').toString()).toBe('BC');
});

test('bytesFieldOne refuses truncated and malformed messages with InvalidInput naming the message', () => {
  for (const bad of [[0x0a, 5, 1, 2], [0x0a], [0x0b], [0x09, 1, 2, 3], [0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80]]) {
    expect(() => bytesFieldOne(Buffer.from(bad), 'PutResult')).toThrow(expect.objectContaining({ code: 'INVALID_INPUT', message: expect.stringContaining('PutResult') }));
  }
});
