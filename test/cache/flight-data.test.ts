/** The hand FlightData codec agrees with protobufjs (what proto-loader would use) on the wire. */
import path from 'node:path';
import fc from 'fast-check';
import * as protobuf from 'protobufjs';
import { decodeFlightData, encodeFlightData } from '../../src/cache/flight-data';

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
