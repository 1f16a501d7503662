/**
 * The one module that loads protos: each set of proto-sets.json with its
 * proto-loader options, typed by what scripts/gen-protos.js generated from
 * the same files with the same options (src/generated/; test/wire checks it
 * is fresh). The cast from grpc-js's untyped package object to the generated
 * type happens here and nowhere else.
 */
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import type { ProtoGrpcType as FlameProtos } from '../generated/flame/shim';
import type { ProtoGrpcType as FlightProtos } from '../generated/flight/Flight';
import SETS from './proto-sets.json';

// Same path from src/wire (ts-jest) and dist/wire (compiled).
export const PROTO_DIR = path.resolve(__dirname, '..', '..', 'proto');

type SetName = 'flame' | 'flight';
interface JsonOptions { keepCase: boolean; longs: string; enums: string; defaults: boolean; oneofs: boolean }

/** The JSON options as proto-loader takes them (type names become the constructors it expects). */
export function loaderOptions(name: SetName): protoLoader.Options {
  const o: JsonOptions = SETS[name].options;
  return {
    keepCase: o.keepCase,
    longs: o.longs === 'Number' ? Number : String,
    enums: o.enums === 'String' ? String : undefined,
    defaults: o.defaults,
    oneofs: o.oneofs,
    includeDirs: [PROTO_DIR],
  };
}

function load(name: SetName): protoLoader.PackageDefinition {
  return protoLoader.loadSync(SETS[name].files.map((f) => path.join(PROTO_DIR, f)), loaderOptions(name));
}

let flame: FlameProtos | undefined;
let flight: protoLoader.PackageDefinition | undefined;

/** flame.v1 and the legacy `flame` package: the Instance service and its messages. */
export function flameProtos(): FlameProtos {
  flame ??= grpc.loadPackageDefinition(load('flame')) as unknown as FlameProtos;
  return flame;
}

/** The Arrow Flight service definition as proto-loader made it (flight.ts puts its own FlightData codec in). */
export function flightServiceMethods(): FlightProtos['arrow']['flight']['protocol']['FlightService']['service'] {
  flight ??= load('flight');
  return flight['arrow.flight.protocol.FlightService'] as unknown as FlightProtos['arrow']['flight']['protocol']['FlightService']['service'];
}
