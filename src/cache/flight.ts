/**
 * The Arrow Flight service (package arrow.flight.protocol) as grpc-js sees it:
 * loaded once from proto/arrow/flight/Flight.proto, with FlightData methods
 * (de)serialized by the hand codec in flight-data.ts (see there why).
 */
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { decodeFlightData, decodeFlightDataLenient, encodeFlightData } from './flight-data';
import type { FlightData, FlightDescriptor, OutgoingFlightData } from './flight-data';

export type { FlightData, FlightDescriptor, OutgoingFlightData } from './flight-data';

/** Flame clients and servers use unlimited message sizes: an object travels as one message (SPEC 7). */
export const UNLIMITED_MESSAGES: grpc.ChannelOptions = {
  'grpc.max_receive_message_length': -1,
  'grpc.max_send_message_length': -1,
};

// Same path from src/cache (ts-jest) and dist/cache (compiled).
const PROTO_DIR = path.resolve(__dirname, '..', '..', 'proto');

/** proto-loader options; int64 fields become numbers (sizes and counts stay far below 2^53). */
export const LOADER_OPTIONS: protoLoader.Options = {
  keepCase: true,
  longs: Number,
  enums: String,
  defaults: true,
  oneofs: true,
  includeDirs: [PROTO_DIR],
};

export interface Ticket { ticket: Buffer }
export interface Empty {}
export interface Criteria { expression: Buffer }
export interface Action { type: string; body: Buffer }
export interface FlightResult { body: Buffer }
export interface ActionType { type: string; description: string }
export interface SchemaResult { schema: Buffer }
export interface PutResult { app_metadata: Buffer }
export interface Location { uri: string }
export interface FlightEndpoint {
  ticket: Ticket | null;
  location: Location[];
  expiration_time?: { seconds: number; nanos: number } | null;
  app_metadata: Buffer;
}
export interface FlightInfo {
  schema: Buffer;
  flight_descriptor: FlightDescriptor | null;
  endpoint: FlightEndpoint[];
  total_records: number;
  total_bytes: number;
  ordered: boolean;
  app_metadata: Buffer;
}

const FLIGHT_DATA_REQUESTS = new Set(['DoPut', 'DoExchange']);
const FLIGHT_DATA_RESPONSES = new Set(['DoGet', 'DoExchange']);

let definition: grpc.ServiceDefinition | undefined;

/** The FlightService definition for grpc-js servers and clients. */
export function flightServiceDefinition(): grpc.ServiceDefinition {
  if (definition) return definition;
  const pkg = protoLoader.loadSync(path.join(PROTO_DIR, 'arrow', 'flight', 'Flight.proto'), LOADER_OPTIONS);
  const service = pkg['arrow.flight.protocol.FlightService'] as protoLoader.ServiceDefinition;
  const patched: Record<string, grpc.MethodDefinition<unknown, unknown>> = {};
  for (const [name, method] of Object.entries(service)) {
    const m = { ...method } as grpc.MethodDefinition<unknown, unknown>;
    if (FLIGHT_DATA_REQUESTS.has(name)) {
      m.requestSerialize = (v: unknown) => encodeFlightData(v as OutgoingFlightData);
      // The server must answer garbage with INVALID_ARGUMENT, not grpc-js's INTERNAL.
      m.requestDeserialize = (b: Buffer) => decodeFlightDataLenient(b);
    }
    if (FLIGHT_DATA_RESPONSES.has(name)) {
      m.responseSerialize = (v: unknown) => encodeFlightData(v as OutgoingFlightData);
      m.responseDeserialize = (b: Buffer): FlightData => decodeFlightData(b);
    }
    patched[name] = m;
  }
  definition = patched as grpc.ServiceDefinition;
  return definition;
}

/** The typed surface of a FlightService client (what client.ts and tests call). */
export interface FlightServiceClient extends grpc.Client {
  DoGet(req: Ticket, metadata: grpc.Metadata, options: grpc.CallOptions): grpc.ClientReadableStream<FlightData>;
  DoPut(metadata: grpc.Metadata, options: grpc.CallOptions): grpc.ClientDuplexStream<OutgoingFlightData, PutResult>;
  DoAction(req: Action, metadata: grpc.Metadata, options: grpc.CallOptions): grpc.ClientReadableStream<FlightResult>;
  ListActions(req: Empty, metadata: grpc.Metadata, options: grpc.CallOptions): grpc.ClientReadableStream<ActionType>;
  ListFlights(req: Criteria, metadata: grpc.Metadata, options: grpc.CallOptions): grpc.ClientReadableStream<FlightInfo>;
  GetFlightInfo(
    req: { type: string; cmd?: Uint8Array; path: string[] },
    metadata: grpc.Metadata,
    options: grpc.CallOptions,
    cb: (err: grpc.ServiceError | null, res?: FlightInfo) => void,
  ): grpc.ClientUnaryCall;
  GetSchema(
    req: { type: string; cmd?: Uint8Array; path: string[] },
    metadata: grpc.Metadata,
    options: grpc.CallOptions,
    cb: (err: grpc.ServiceError | null, res?: SchemaResult) => void,
  ): grpc.ClientUnaryCall;
  Handshake(metadata: grpc.Metadata, options: grpc.CallOptions): grpc.ClientDuplexStream<unknown, unknown>;
  DoExchange(metadata: grpc.Metadata, options: grpc.CallOptions): grpc.ClientDuplexStream<OutgoingFlightData, FlightData>;
}

export type FlightServiceClientConstructor = new (
  address: string,
  credentials: grpc.ChannelCredentials,
  options?: grpc.ClientOptions,
) => FlightServiceClient;

let clientCtor: FlightServiceClientConstructor | undefined;

/** The client constructor; pass UNLIMITED_MESSAGES (and more) as options. */
export function flightClientConstructor(): FlightServiceClientConstructor {
  clientCtor ??= grpc.makeGenericClientConstructor(
    flightServiceDefinition(),
    'FlightService',
  ) as unknown as FlightServiceClientConstructor;
  return clientCtor;
}

export { decodeFlightData, encodeFlightData };
